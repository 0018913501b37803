package rideroidc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"golang.org/x/oauth2"
	"golang.org/x/text/unicode/norm"
)

// Errors; check with errors.Is.
var (
	ErrUnknownProvider = errors.New("rideroidc: unknown provider")
	ErrState           = errors.New("rideroidc: missing, expired or mismatched login state")
	ErrDenied          = errors.New("rideroidc: the provider reported an error")
	ErrExchange        = errors.New("rideroidc: code exchange failed")
	ErrIDToken         = errors.New("rideroidc: ID token rejected")
	ErrUnavailable     = errors.New("rideroidc: provider unavailable")
	ErrConfig          = errors.New("rideroidc: invalid configuration")
	// ErrResponseMode: the callback came by the other method than the provider's response
	// mode (a GET for a form_post provider, a POST for a query one).
	ErrResponseMode = errors.New("rideroidc: callback method does not match the provider's response mode")
)

// Response modes (ProviderConfig.ResponseMode).
const (
	// ResponseModeQuery: the provider redirects the browser to the callback with code and
	// state in the query (GET). The default.
	ResponseModeQuery = "query"
	// ResponseModeFormPost: the provider's page POSTs code and state to the callback as an
	// application/x-www-form-urlencoded form (OAuth 2.0 Form Post Response Mode; Sign in
	// with Apple requires it when it is asked for name or email).
	ResponseModeFormPost = "form_post"
)

// MaxUserJSON bounds the form_post "user" field (Apple's first-login name) Finish reads.
const MaxUserJSON = 4096

// CookieName is the state cookie's name.
const CookieName = "fleetedge_oidc"

// ProviderConfig is one configured provider (plain Go: the cloud's configuration owns the file
// format and must mask ClientSecret when it prints itself).
type ProviderConfig struct {
	// Name is the provider's path segment and identities.provider value (google, apple, …).
	Name         string
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Scopes       []string // default openid, email, profile (Apple: openid, email, name)
	// ResponseMode is ResponseModeQuery (default when empty) or ResponseModeFormPost.
	ResponseMode string
	// ClientSecretJWT, when set, signs a short-lived ES256 JWT as the client secret at each
	// code exchange (cached until near its expiry) instead of sending ClientSecret, which
	// must then be empty (Sign in with Apple).
	ClientSecretJWT *ClientSecretJWT
}

// Validate checks one provider's settings (New calls it for each; New also refuses
// duplicate names). Errors wrap ErrConfig and name the provider and the setting.
func (p ProviderConfig) Validate() error {
	if !namePattern.MatchString(p.Name) {
		return fmt.Errorf("%w: provider name %q must match %s", ErrConfig, p.Name, namePattern)
	}
	if p.Issuer == "" || p.ClientID == "" || p.RedirectURL == "" {
		return fmt.Errorf("%w: provider %q needs issuer, client_id and redirect_url", ErrConfig, p.Name)
	}
	switch p.ResponseMode {
	case "", ResponseModeQuery, ResponseModeFormPost:
	default:
		return fmt.Errorf("%w: provider %q: response_mode %q: want %q or %q", ErrConfig, p.Name, p.ResponseMode,
			ResponseModeQuery, ResponseModeFormPost)
	}
	if j := p.ClientSecretJWT; j != nil {
		switch {
		case p.ClientSecret != "":
			return fmt.Errorf("%w: provider %q: client_secret and client_secret_jwt exclude each other", ErrConfig, p.Name)
		case j.TeamID == "" || j.KeyID == "":
			return fmt.Errorf("%w: provider %q: client_secret_jwt needs team_id and key_id", ErrConfig, p.Name)
		case j.TTL != 0 && (j.TTL < time.Minute || j.TTL > MaxClientSecretTTL):
			return fmt.Errorf("%w: provider %q: client_secret_jwt ttl %s: want 1m to %s", ErrConfig, p.Name, j.TTL, MaxClientSecretTTL)
		}
		if _, err := ParseClientSecretKey(j.PrivateKeyPEM); err != nil {
			return fmt.Errorf("%w: provider %q: client_secret_jwt private key: %w", ErrConfig, p.Name, err)
		}
	}
	return nil
}

func (p ProviderConfig) formPost() bool { return p.ResponseMode == ResponseModeFormPost }

// Config configures a Login.
type Config struct {
	Providers []ProviderConfig
	// StateKey signs the state cookie (at least 32 bytes; random per deployment, shared by
	// all API replicas).
	StateKey []byte
	// StateTTL bounds the time between Start and Finish (default 10 min).
	StateTTL time.Duration
	// InsecureCookie drops the Secure attribute (plain-HTTP tests and local development only).
	InsecureCookie bool
	// CookiePath scopes the cookie (default "/v1/auth/oidc/").
	CookiePath string
	// HTTPClient talks to providers (default: 10 s timeout).
	HTTPClient *http.Client
	Now        func() time.Time
}

var namePattern = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

type provider struct {
	cfg    ProviderConfig
	secret *secretSigner // nil without ClientSecretJWT

	// mu guards the discovered endpoint and verifier (set once, on the first success).
	mu       sync.Mutex
	endpoint *oauth2.Endpoint
	verifier *oidc.IDTokenVerifier
}

// oauth returns the oauth2 configuration with clientSecret (built per call: the secret may
// rotate).
func (p *provider) oauth(ep oauth2.Endpoint, clientSecret string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: clientSecret, Endpoint: ep,
		RedirectURL: p.cfg.RedirectURL, Scopes: p.cfg.Scopes}
}

func (p *provider) clientSecret() (string, error) {
	if p.secret == nil {
		return p.cfg.ClientSecret, nil
	}
	return p.secret.get()
}

// Login runs OIDC logins for the configured providers.
type Login struct {
	cfg       Config
	providers map[string]*provider
}

// New checks cfg and returns a Login; it does not contact the providers.
func New(cfg Config) (*Login, error) {
	if len(cfg.StateKey) < 32 {
		return nil, fmt.Errorf("%w: state key must be at least 32 bytes", ErrConfig)
	}
	if cfg.StateTTL == 0 {
		cfg.StateTTL = 10 * time.Minute
	}
	if cfg.CookiePath == "" {
		cfg.CookiePath = "/v1/auth/oidc/"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Login{cfg: cfg, providers: map[string]*provider{}}
	for _, p := range cfg.Providers {
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if _, dup := l.providers[p.Name]; dup {
			return nil, fmt.Errorf("%w: provider %q twice", ErrConfig, p.Name)
		}
		if len(p.Scopes) == 0 {
			p.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
		}
		if p.ResponseMode == "" {
			p.ResponseMode = ResponseModeQuery
		}
		pr := &provider{cfg: p}
		if j := p.ClientSecretJWT; j != nil {
			key, err := ParseClientSecretKey(j.PrivateKeyPEM)
			if err != nil { // checked by Validate
				return nil, fmt.Errorf("%w: provider %q: %w", ErrConfig, p.Name, err)
			}
			sc := *j
			if sc.Audience == "" {
				sc.Audience = p.Issuer
			}
			if sc.TTL == 0 {
				sc.TTL = DefaultClientSecretTTL
			}
			sc.PrivateKeyPEM = nil // parsed; not kept
			pr.secret = &secretSigner{cfg: sc, clientID: p.ClientID, key: key, now: cfg.Now}
		}
		l.providers[p.Name] = pr
	}
	return l, nil
}

// Providers lists the configured provider names.
func (l *Login) Providers() []string {
	out := make([]string, 0, len(l.providers))
	for n := range l.providers {
		out = append(out, n)
	}
	return out
}

func (l *Login) clientCtx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, l.cfg.HTTPClient)
}

// ready discovers p on first use (retrying after failures).
func (l *Login) ready(ctx context.Context, p *provider) (oauth2.Endpoint, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.endpoint != nil {
		return *p.endpoint, p.verifier, nil
	}
	op, err := oidc.NewProvider(l.clientCtx(ctx), p.cfg.Issuer)
	if err != nil {
		return oauth2.Endpoint{}, nil, fmt.Errorf("%w: %s: discovery: %w", ErrUnavailable, p.cfg.Name, err)
	}
	var meta struct {
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		ResponseModes []string `json:"response_modes_supported"`
	}
	if err := op.Claims(&meta); err != nil {
		return oauth2.Endpoint{}, nil, fmt.Errorf("%w: %s: discovery: %w", ErrUnavailable, p.cfg.Name, err)
	}
	// A provider that lists its response modes must list ours (when it lists none, query
	// and form_post are assumed: many providers support form_post without saying so).
	if len(meta.ResponseModes) > 0 && !slices.Contains(meta.ResponseModes, p.cfg.ResponseMode) {
		return oauth2.Endpoint{}, nil, fmt.Errorf("%w: %w: %s: provider does not support response_mode %s (it lists %q)",
			ErrUnavailable, ErrConfig, p.cfg.Name, p.cfg.ResponseMode, meta.ResponseModes)
	}
	ep := op.Endpoint()
	ep.AuthStyle = authStyle(meta.AuthMethods)
	p.endpoint = &ep
	p.verifier = op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: l.cfg.Now})
	return ep, p.verifier, nil
}

// authStyle picks how the client authenticates at the token endpoint from what discovery
// announces: HTTP Basic when listed or when nothing is listed (the OIDC Discovery default),
// else the form body (Apple lists only client_secret_post). Explicit, so a code is never
// sent twice the way oauth2's auto-detection retries a refused request.
func authStyle(methods []string) oauth2.AuthStyle {
	if len(methods) == 0 || slices.Contains(methods, "client_secret_basic") {
		return oauth2.AuthStyleInHeader
	}
	if slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

type statePayload struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (l *Login) sign(payload []byte) string {
	m := hmac.New(sha256.New, l.cfg.StateKey)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (l *Login) open(value string) (statePayload, error) {
	var sp statePayload
	if len(value) > 2048 {
		return sp, ErrState
	}
	b64, sig64, ok := strings.Cut(value, ".")
	if !ok {
		return sp, ErrState
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(b64)
	sig, err2 := base64.RawURLEncoding.DecodeString(sig64)
	if err1 != nil || err2 != nil {
		return sp, ErrState
	}
	m := hmac.New(sha256.New, l.cfg.StateKey)
	m.Write(payload)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return sp, ErrState
	}
	if err := json.Unmarshal(payload, &sp); err != nil {
		return sp, ErrState
	}
	return sp, nil
}

// cookie builds the state cookie. SameSite depends on how the provider comes back:
//
//   - query: the provider redirects the browser to the callback — a top-level cross-site GET,
//     on which browsers send SameSite=Lax cookies. Lax is kept: the cookie then never goes
//     with cross-site POSTs or subresource requests.
//   - form_post: the provider's page POSTs to the callback — a cross-site POST, on which
//     browsers send only SameSite=None cookies (with Lax the cookie is missing and every
//     login fails the state check). None requires Secure (browsers drop a None cookie
//     without it), so form_post over plain HTTP (InsecureCookie) does not work in browsers.
//
// SameSite=None is not what keeps the callback safe from cross-site forgeries: a forged POST
// carries the victim's cookie but not its state (a random value the attacker never sees:
// the cookie is HttpOnly, Secure, signed) nor its PKCE verifier, so it fails the state check
// or the code exchange; and the cookie is bound to its provider, so a form_post cookie is
// useless at a query provider's callback. The cookie holds only one-time values, lives
// StateTTL, is scoped to CookiePath, and the callback deletes it.
func (l *Login) cookie(value string, maxAge int, expires time.Time, formPost bool) *http.Cookie {
	ss := http.SameSiteLaxMode
	if formPost {
		ss = http.SameSiteNoneMode
	}
	return &http.Cookie{Name: CookieName, Value: value, Path: l.cfg.CookiePath, MaxAge: maxAge, Expires: expires,
		HttpOnly: true, Secure: !l.cfg.InsecureCookie, SameSite: ss}
}

// ClearCookieFor deletes the state cookie (set it on the callback's response) with the
// attributes the provider's Start set (SameSite=None for form_post: the response to a
// cross-site POST sets it).
func (l *Login) ClearCookieFor(providerName string) *http.Cookie {
	p, ok := l.providers[providerName]
	return l.cookie("", -1, time.Unix(0, 0), ok && p.cfg.formPost())
}

// ResponseMode returns the provider's response mode (ResponseModeQuery or
// ResponseModeFormPost), or ErrUnknownProvider.
func (l *Login) ResponseMode(providerName string) (string, error) {
	p, ok := l.providers[providerName]
	if !ok {
		return "", ErrUnknownProvider
	}
	return p.cfg.ResponseMode, nil
}

// Start begins a login with provider: the browser should be redirected to authURL with cookie
// set.
func (l *Login) Start(ctx context.Context, providerName string) (authURL string, cookie *http.Cookie, err error) {
	p, ok := l.providers[providerName]
	if !ok {
		return "", nil, ErrUnknownProvider
	}
	ep, _, err := l.ready(ctx, p)
	if err != nil {
		return "", nil, err
	}
	sp := statePayload{Provider: providerName, State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(),
		Expires: l.cfg.Now().Add(l.cfg.StateTTL).Unix()}
	payload, err := json.Marshal(sp)
	if err != nil {
		return "", nil, fmt.Errorf("rideroidc: start: %w", err)
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(sp.Verifier), oidc.Nonce(sp.Nonce)}
	if p.cfg.formPost() {
		opts = append(opts, oauth2.SetAuthURLParam("response_mode", ResponseModeFormPost))
	}
	// The client secret is not needed to build the URL.
	authURL = p.oauth(ep, "").AuthCodeURL(sp.State, opts...)
	return authURL, l.cookie(l.sign(payload), int(l.cfg.StateTTL/time.Second), l.cfg.Now().Add(l.cfg.StateTTL), p.cfg.formPost()), nil
}

// Callback is what the provider's redirect (query) or form (form_post) brought back.
type Callback struct {
	Cookie string // the state cookie's value ("" when absent)
	State  string
	Code   string
	Error  string // the provider's error parameter, if any
	// FormPost: the callback arrived as a POSTed form; it must match the provider's
	// response mode (else ErrResponseMode).
	FormPost bool
	// User is form_post's "user" field: Sign in with Apple sends it, as JSON, on a rider's
	// first authorization only ({"name":{"firstName":…,"lastName":…},"email":…}). Only the
	// names are used, and only where the ID token has none: it is not signed, so its email
	// is ignored. Unparsable or larger than MaxUserJSON: ignored.
	User string
}

// Finish completes a login: it checks the state cookie, exchanges the code with the PKCE
// verifier and verifies the ID token and its nonce.
func (l *Login) Finish(ctx context.Context, providerName string, cb Callback) (account.Identity, error) {
	p, ok := l.providers[providerName]
	if !ok {
		return account.Identity{}, ErrUnknownProvider
	}
	if cb.FormPost != p.cfg.formPost() {
		return account.Identity{}, fmt.Errorf("%w: %s answers with %s", ErrResponseMode, providerName, p.cfg.ResponseMode)
	}
	sp, err := l.open(cb.Cookie)
	if err != nil {
		return account.Identity{}, err
	}
	if sp.Provider != providerName || sp.State == "" ||
		!hmac.Equal([]byte(sp.State), []byte(cb.State)) || l.cfg.Now().Unix() > sp.Expires {
		return account.Identity{}, ErrState
	}
	if cb.Error != "" {
		return account.Identity{}, fmt.Errorf("%w: %.64q", ErrDenied, cb.Error)
	}
	if cb.Code == "" || len(cb.Code) > 2048 {
		return account.Identity{}, fmt.Errorf("%w: no code", ErrExchange)
	}
	ep, verifier, err := l.ready(ctx, p)
	if err != nil {
		return account.Identity{}, err
	}
	secret, err := p.clientSecret()
	if err != nil {
		return account.Identity{}, err
	}
	tok, err := p.oauth(ep, secret).Exchange(l.clientCtx(ctx), cb.Code, oauth2.VerifierOption(sp.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return account.Identity{}, fmt.Errorf("%w: %s: %s", ErrExchange, providerName, re.ErrorCode)
		}
		return account.Identity{}, fmt.Errorf("%w: %s: %w", ErrUnavailable, providerName, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return account.Identity{}, fmt.Errorf("%w: %s: no id_token in the token response", ErrIDToken, providerName)
	}
	idt, err := verifier.Verify(l.clientCtx(ctx), raw)
	if err != nil {
		return account.Identity{}, fmt.Errorf("%w: %s: %w", ErrIDToken, providerName, err)
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(sp.Nonce)) {
		return account.Identity{}, fmt.Errorf("%w: %s: nonce mismatch", ErrIDToken, providerName)
	}
	var c struct {
		Email         string          `json:"email"`
		EmailVerified json.RawMessage `json:"email_verified"`
		GivenName     string          `json:"given_name"`
		FamilyName    string          `json:"family_name"`
	}
	if err := idt.Claims(&c); err != nil {
		return account.Identity{}, fmt.Errorf("%w: %s: claims: %w", ErrIDToken, providerName, err)
	}
	if idt.Subject == "" || len(idt.Subject) > 255 {
		return account.Identity{}, fmt.Errorf("%w: %s: subject missing or longer than 255", ErrIDToken, providerName)
	}
	id := account.Identity{Provider: providerName, Subject: idt.Subject, FirstName: cleanName(c.GivenName), LastName: cleanName(c.FamilyName)}
	if cb.FormPost {
		first, last := UserNames(cb.User)
		if id.FirstName == "" {
			id.FirstName = first
		}
		if id.LastName == "" {
			id.LastName = last
		}
	}
	if len(c.Email) <= account.MaxEmailBytes {
		id.Email = c.Email
		// Apple sends "true" as a string; anything but true is unverified.
		v := strings.Trim(string(c.EmailVerified), `"`)
		id.EmailVerified = v == "true" && c.Email != ""
	}
	return id, nil
}

// UserNames reads the names of Sign in with Apple's form_post "user" field
// ({"name":{"firstName":…,"lastName":…},…}), cleaned like ID-token names. Anything it cannot
// read (empty, unparsable, larger than MaxUserJSON) gives "", "": the names are cosmetic and
// a login must not fail over them.
func UserNames(user string) (first, last string) {
	if user == "" || len(user) > MaxUserJSON {
		return "", ""
	}
	var u struct {
		Name struct {
			FirstName string `json:"firstName"`
			LastName  string `json:"lastName"`
		} `json:"name"`
	}
	if json.Unmarshal([]byte(user), &u) != nil {
		return "", ""
	}
	return cleanName(u.Name.FirstName), cleanName(u.Name.LastName)
}

// cleanName makes a provider-supplied name acceptable to the account (valid UTF-8, no
// control characters, trimmed, at most 100 characters): a provider's odd name must not fail
// the login; "" lets the account use its default.
func cleanName(s string) string {
	if len(s) > 4*account.MaxNameRunes+16 {
		s = s[:4*account.MaxNameRunes+16]
	}
	s = norm.NFC.String(strings.ToValidUTF8(s, "")) // as the account will: NFC may change the count
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > account.MaxNameRunes {
		s = strings.TrimSpace(string(r[:account.MaxNameRunes]))
	}
	return s
}
