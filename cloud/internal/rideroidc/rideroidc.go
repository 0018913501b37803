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
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"golang.org/x/oauth2"
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
)

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
	Scopes       []string // default openid, email, profile
}

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
	cfg ProviderConfig

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
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
		if !namePattern.MatchString(p.Name) {
			return nil, fmt.Errorf("%w: provider name %q must match %s", ErrConfig, p.Name, namePattern)
		}
		if _, dup := l.providers[p.Name]; dup {
			return nil, fmt.Errorf("%w: provider %q twice", ErrConfig, p.Name)
		}
		if p.Issuer == "" || p.ClientID == "" || p.RedirectURL == "" {
			return nil, fmt.Errorf("%w: provider %q needs issuer, client_id and redirect_url", ErrConfig, p.Name)
		}
		if len(p.Scopes) == 0 {
			p.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
		}
		l.providers[p.Name] = &provider{cfg: p}
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
func (l *Login) ready(ctx context.Context, p *provider) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oauth != nil {
		return p.oauth, p.verifier, nil
	}
	op, err := oidc.NewProvider(l.clientCtx(ctx), p.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: discovery: %w", ErrUnavailable, p.cfg.Name, err)
	}
	p.oauth = &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: op.Endpoint(),
		RedirectURL: p.cfg.RedirectURL, Scopes: p.cfg.Scopes}
	p.verifier = op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: l.cfg.Now})
	return p.oauth, p.verifier, nil
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

func (l *Login) cookie(value string, maxAge int, expires time.Time) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: l.cfg.CookiePath, MaxAge: maxAge, Expires: expires,
		HttpOnly: true, Secure: !l.cfg.InsecureCookie, SameSite: http.SameSiteLaxMode}
}

// ClearCookie deletes the state cookie (set it on the callback's response).
func (l *Login) ClearCookie() *http.Cookie { return l.cookie("", -1, time.Unix(0, 0)) }

// Start begins a login with provider: the browser should be redirected to authURL with cookie
// set.
func (l *Login) Start(ctx context.Context, providerName string) (authURL string, cookie *http.Cookie, err error) {
	p, ok := l.providers[providerName]
	if !ok {
		return "", nil, ErrUnknownProvider
	}
	oc, _, err := l.ready(ctx, p)
	if err != nil {
		return "", nil, err
	}
	sp := statePayload{Provider: providerName, State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(),
		Expires: l.cfg.Now().Add(l.cfg.StateTTL).Unix()}
	payload, err := json.Marshal(sp)
	if err != nil {
		return "", nil, fmt.Errorf("rideroidc: start: %w", err)
	}
	authURL = oc.AuthCodeURL(sp.State, oauth2.S256ChallengeOption(sp.Verifier), oidc.Nonce(sp.Nonce))
	return authURL, l.cookie(l.sign(payload), int(l.cfg.StateTTL/time.Second), l.cfg.Now().Add(l.cfg.StateTTL)), nil
}

// Callback is what the provider's redirect brought back.
type Callback struct {
	Cookie string // the state cookie's value ("" when absent)
	State  string
	Code   string
	Error  string // the provider's error parameter, if any
}

// Finish completes a login: it checks the state cookie, exchanges the code with the PKCE
// verifier and verifies the ID token and its nonce.
func (l *Login) Finish(ctx context.Context, providerName string, cb Callback) (account.Identity, error) {
	p, ok := l.providers[providerName]
	if !ok {
		return account.Identity{}, ErrUnknownProvider
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
	oc, verifier, err := l.ready(ctx, p)
	if err != nil {
		return account.Identity{}, err
	}
	tok, err := oc.Exchange(l.clientCtx(ctx), cb.Code, oauth2.VerifierOption(sp.Verifier))
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
	id := account.Identity{Provider: providerName, Subject: idt.Subject, FirstName: clip(c.GivenName, 100), LastName: clip(c.FamilyName, 100)}
	if len(c.Email) <= account.MaxEmailBytes {
		id.Email = c.Email
		// Apple sends "true" as a string; anything but true is unverified.
		v := strings.Trim(string(c.EmailVerified), `"`)
		id.EmailVerified = v == "true" && c.Email != ""
	}
	return id, nil
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
