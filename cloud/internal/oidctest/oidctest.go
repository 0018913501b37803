package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// User is who /authorize signs in.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	GivenName     string
	FamilyName    string
}

// Tamper makes the provider misbehave in the ID tokens it issues.
type Tamper struct {
	Nonce       string        // replaces the request's nonce when set
	ExpiresIn   time.Duration // ID-token lifetime instead of 5 minutes when non-zero (negative: already expired)
	Audience    string        // replaces the client id as aud when set
	ForeignKey  bool          // sign with a key absent from the JWKS
	OmitNonce   bool
	OmitSubject bool
}

// Config configures a provider.
type Config struct {
	ClientID     string
	ClientSecret string
	// RedirectURIs, when not empty, are the only redirect_uri values /authorize accepts.
	RedirectURIs []string
	// Now is the clock for iat/exp (default time.Now).
	Now func() time.Time
}

type grant struct {
	clientID, redirectURI, challenge, nonce string
	user                                    User
	expires                                 time.Time
}

// Provider is a running OIDC provider.
type Provider struct {
	cfg     Config
	srv     *httptest.Server
	key     *ecdsa.PrivateKey
	foreign *ecdsa.PrivateKey
	kid     string

	mu            sync.Mutex
	user          User
	tamper        Tamper
	codes         map[string]grant
	tokenRequests int
}

// Start generates a signing key and serves the provider on a loopback port.
func Start(cfg Config) (*Provider, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("oidctest: client id and secret are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("oidctest: key: %w", err)
	}
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("oidctest: key: %w", err)
	}
	p := &Provider{cfg: cfg, key: key, foreign: foreign, kid: randomString(8), codes: map[string]grant{},
		user: User{Subject: "user-1", Email: "user@example.com", EmailVerified: true, GivenName: "Test", FamilyName: "User"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	return p, nil
}

// Issuer is the provider's issuer URL (http://127.0.0.1:PORT).
func (p *Provider) Issuer() string { return p.srv.URL }

// Close stops the server.
func (p *Provider) Close() { p.srv.Close() }

// SetUser sets who the next /authorize signs in.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// SetTamper sets how the next ID tokens misbehave (the zero Tamper behaves).
func (p *Provider) SetTamper(t Tamper) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = t
}

// TokenRequests counts successful code exchanges.
func (p *Provider) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenRequests
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return // the client went away; nothing else to do in a test server
	}
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.srv.URL,
		"authorization_endpoint":                p.srv.URL + "/authorize",
		"token_endpoint":                        p.srv.URL + "/token",
		"jwks_uri":                              p.srv.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
	})
}

func coord(b []byte) string {
	out := make([]byte, 32)
	copy(out[32-len(b):], b)
	return base64.RawURLEncoding.EncodeToString(out)
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := p.key.PublicKey
	raw, err := pub.Bytes() // uncompressed point: 0x04 | X | Y
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": p.kid,
		"x": coord(raw[1:33]), "y": coord(raw[33:65]),
	}}})
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	switch {
	case q.Get("client_id") != p.cfg.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case redirect == "" || (len(p.cfg.RedirectURIs) > 0 && !slices.Contains(p.cfg.RedirectURIs, redirect)):
		http.Error(w, "redirect_uri not registered", http.StatusBadRequest)
		return
	}
	ru, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	fail := func(code string) {
		v := ru.Query()
		v.Set("error", code)
		v.Set("state", q.Get("state"))
		ru.RawQuery = v.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type")
		return
	}
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		fail("invalid_request")
		return
	}
	p.mu.Lock()
	code := randomString(24)
	p.codes[code] = grant{clientID: q.Get("client_id"), redirectURI: redirect, challenge: q.Get("code_challenge"),
		nonce: q.Get("nonce"), user: p.user, expires: p.cfg.Now().Add(time.Minute)}
	p.mu.Unlock()
	v := ru.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

func tokenError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: Basic credentials are form-urlencoded first.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.cfg.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.cfg.ClientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	p.mu.Lock()
	code := r.PostForm.Get("code")
	g, ok := p.codes[code]
	delete(p.codes, code) // single use, even when the rest fails
	tamper := p.tamper
	p.mu.Unlock()
	now := p.cfg.Now()
	if !ok || now.After(g.expires) || g.clientID != id || g.redirectURI != r.PostForm.Get("redirect_uri") {
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	idToken, err := p.idToken(g, tamper, now)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error")
		return
	}
	p.mu.Lock()
	p.tokenRequests++
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": randomString(24), "token_type": "Bearer", "expires_in": 3600, "id_token": idToken,
	})
}

func (p *Provider) idToken(g grant, t Tamper, now time.Time) (string, error) {
	ttl := 5 * time.Minute
	if t.ExpiresIn != 0 {
		ttl = t.ExpiresIn
	}
	aud := p.cfg.ClientID
	if t.Audience != "" {
		aud = t.Audience
	}
	claims := jwt.MapClaims{
		"iss": p.srv.URL, "aud": aud, "iat": now.Add(-time.Second).Unix(), "exp": now.Add(ttl).Unix(),
		"email": g.user.Email, "email_verified": g.user.EmailVerified,
		"given_name": g.user.GivenName, "family_name": g.user.FamilyName,
	}
	if !t.OmitSubject {
		claims["sub"] = g.user.Subject
	}
	switch {
	case t.OmitNonce:
	case t.Nonce != "":
		claims["nonce"] = t.Nonce
	default:
		claims["nonce"] = g.nonce
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = p.kid
	key := p.key
	if t.ForeignKey {
		key = p.foreign
	}
	return tok.SignedString(key)
}
