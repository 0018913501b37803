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
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
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

// Token endpoint client authentication methods (Config.TokenAuthMethods).
const (
	AuthBasic = "client_secret_basic"
	AuthPost  = "client_secret_post"
)

// Config configures a provider.
type Config struct {
	ClientID string
	// ClientSecret is the static client secret; required unless ClientSecretJWT is set.
	ClientSecret string
	// RedirectURIs, when not empty, are the only redirect_uri values /authorize accepts.
	RedirectURIs []string
	// Now is the clock for iat/exp (default time.Now).
	Now func() time.Time

	// TokenAuthMethods are the client authentication methods /token accepts and discovery
	// lists (AuthBasic, AuthPost; default both). Apple accepts only AuthPost.
	TokenAuthMethods []string
	// ClientSecretJWT, when set, makes /token require a client secret that is an ES256 JWT
	// signed by this key (Sign in with Apple); ClientSecret is then unused.
	ClientSecretJWT *ClientSecretJWT
	// RequireFormPost makes /authorize refuse any response mode but form_post (Apple does
	// when asked for name or email).
	RequireFormPost bool
	// NamesInFormPost is Apple's way with names: ID tokens carry none; a subject's first
	// authorization answered with form_post carries them in a "user" JSON field.
	NamesInFormPost bool
	// EmailVerifiedAsString sends email_verified as "true"/"false" strings (Apple).
	EmailVerifiedAsString bool
}

// ClientSecretJWT is how the provider verifies a JWT client secret: header alg ES256 and
// kid = KeyID, signature by PublicKey, iss = TeamID, sub = the client id, aud = the
// provider's issuer, iat not in the future, exp in the future and at most MaxTTL after iat.
type ClientSecretJWT struct {
	TeamID    string
	KeyID     string
	PublicKey *ecdsa.PublicKey
	// MaxTTL defaults to Apple's 15,777,000 s.
	MaxTTL time.Duration
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
	consented     map[string]bool // subjects that authorized once (Apple's "user" field comes once)
	secretsSeen   map[string]bool // distinct JWT client secrets accepted
	tokenRequests int
}

// Start generates a signing key and serves the provider on a loopback port.
func Start(cfg Config) (*Provider, error) {
	if cfg.ClientID == "" || (cfg.ClientSecret == "" && cfg.ClientSecretJWT == nil) {
		return nil, errors.New("oidctest: client id and secret (or client secret JWT key) are required")
	}
	if j := cfg.ClientSecretJWT; j != nil {
		if j.TeamID == "" || j.KeyID == "" || j.PublicKey == nil {
			return nil, errors.New("oidctest: client secret JWT needs team id, key id and public key")
		}
		if j.MaxTTL == 0 {
			j.MaxTTL = 15777000 * time.Second
		}
	}
	if len(cfg.TokenAuthMethods) == 0 {
		cfg.TokenAuthMethods = []string{AuthBasic, AuthPost}
	}
	for _, m := range cfg.TokenAuthMethods {
		if m != AuthBasic && m != AuthPost {
			return nil, fmt.Errorf("oidctest: token auth method %q: want %s or %s", m, AuthBasic, AuthPost)
		}
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
		consented: map[string]bool{}, secretsSeen: map[string]bool{},
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

// ClientSecretsSeen counts the distinct JWT client secrets /token accepted (a relying party
// that caches its secret presents one for many exchanges).
func (p *Provider) ClientSecretsSeen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.secretsSeen)
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
		"token_endpoint_auth_methods_supported": p.cfg.TokenAuthMethods,
		"response_modes_supported":              p.responseModes(),
		"scopes_supported":                      []string{"openid", "email", "profile"},
	})
}

func (p *Provider) responseModes() []string {
	if p.cfg.RequireFormPost {
		return []string{"form_post"}
	}
	return []string{"query", "form_post"}
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
	mode := q.Get("response_mode")
	if mode == "" {
		mode = "query"
	}
	// respond returns the authorization response the way the response mode says.
	respond := func(v url.Values) {
		if mode == "form_post" {
			formPost(w, redirect, v)
			return
		}
		rq := ru.Query()
		for k, vv := range v {
			rq[k] = vv
		}
		ru.RawQuery = rq.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	}
	fail := func(code string) {
		respond(url.Values{"error": {code}, "state": {q.Get("state")}})
	}
	switch {
	case mode != "query" && mode != "form_post":
		mode = "query"
		fail("invalid_request")
		return
	case p.cfg.RequireFormPost && mode != "form_post":
		fail("invalid_request")
		return
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
	user := p.user
	p.codes[code] = grant{clientID: q.Get("client_id"), redirectURI: redirect, challenge: q.Get("code_challenge"),
		nonce: q.Get("nonce"), user: user, expires: p.cfg.Now().Add(time.Minute)}
	first := !p.consented[user.Subject]
	p.consented[user.Subject] = true
	p.mu.Unlock()
	v := url.Values{"code": {code}, "state": {q.Get("state")}}
	if mode == "form_post" && p.cfg.NamesInFormPost && first {
		type name struct {
			FirstName string `json:"firstName,omitempty"`
			LastName  string `json:"lastName,omitempty"`
		}
		u, err := json.Marshal(struct {
			Name  name   `json:"name"`
			Email string `json:"email,omitempty"`
		}{name{user.GivenName, user.FamilyName}, user.Email})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		v.Set("user", string(u))
	}
	respond(v)
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
	method := AuthPost
	if basic {
		method = AuthBasic
		// RFC 6749 §2.3.1: Basic credentials are form-urlencoded first.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if !slices.Contains(p.cfg.TokenAuthMethods, method) || id != p.cfg.ClientID || !p.clientSecretOK(id, secret) {
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

// clientSecretOK checks the static secret, or the JWT client secret when configured.
func (p *Provider) clientSecretOK(clientID, secret string) bool {
	j := p.cfg.ClientSecretJWT
	if j == nil {
		return subtle.ConstantTimeCompare([]byte(secret), []byte(p.cfg.ClientSecret)) == 1
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(secret, &claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != j.KeyID {
			return nil, errors.New("unknown kid")
		}
		return j.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(j.TeamID), jwt.WithSubject(clientID),
		jwt.WithAudience(p.srv.URL), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(p.cfg.Now))
	if err != nil || claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > j.MaxTTL {
		return false
	}
	p.mu.Lock()
	p.secretsSeen[secret] = true
	p.mu.Unlock()
	return true
}

// formPostPage is the auto-submitting page of response_mode=form_post (OAuth 2.0 Form Post
// Response Mode §2): the browser POSTs the fields to the redirect URI on load.
var formPostPage = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Submit this form</title></head>
<body onload="javascript:document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range $k, $vs := .Fields}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}"/>
{{end}}{{end}}<noscript><button type="submit">Continue</button></noscript>
</form></body></html>
`))

func formPost(w http.ResponseWriter, action string, fields url.Values) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := formPostPage.Execute(w, struct {
		Action string
		Fields url.Values
	}{action, fields}); err != nil {
		return // the client went away; nothing else to do in a test server
	}
}

// ReadFormPost parses a form_post page as a browser would: the first form's action and
// its input fields. It fails when there is no form or the form does not POST.
func ReadFormPost(page io.Reader) (action string, fields url.Values, err error) {
	doc, err := html.Parse(page)
	if err != nil {
		return "", nil, fmt.Errorf("oidctest: form_post page: %w", err)
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.DataAtom == atom.Form {
			form = n
			break
		}
	}
	if form == nil {
		return "", nil, errors.New("oidctest: form_post page: no form")
	}
	if !strings.EqualFold(attr(form, "method"), "post") {
		return "", nil, fmt.Errorf("oidctest: form_post page: form method %q", attr(form, "method"))
	}
	fields = url.Values{}
	for n := range form.Descendants() {
		if n.Type == html.ElementNode && n.DataAtom == atom.Input && attr(n, "name") != "" {
			fields.Add(attr(n, "name"), attr(n, "value"))
		}
	}
	return attr(form, "action"), fields, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
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
	}
	if p.cfg.EmailVerifiedAsString {
		claims["email_verified"] = strconv.FormatBool(g.user.EmailVerified)
	}
	if !p.cfg.NamesInFormPost {
		claims["given_name"], claims["family_name"] = g.user.GivenName, g.user.FamilyName
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
