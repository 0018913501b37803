package rideroidc_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/oidctest"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func ecKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkcs8PEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

const appleRedirect = "https://api.example.com/v1/auth/oidc/apple/callback"

type appleSetup struct {
	idp   *oidctest.Provider
	login *rideroidc.Login
	clock *testClock
}

// newApple runs an Apple-like provider and a Login for it; signer is the key the Login signs
// its client secrets with (the provider knows key's public half).
func newApple(t *testing.T, key, signer *ecdsa.PrivateKey) appleSetup {
	t.Helper()
	clock := &testClock{t: time.Now().Truncate(time.Second)}
	idp, err := oidctest.Start(oidctest.Config{ClientID: "com.example.rider", RedirectURIs: []string{appleRedirect},
		TokenAuthMethods: []string{oidctest.AuthPost}, RequireFormPost: true, NamesInFormPost: true, EmailVerifiedAsString: true,
		ClientSecretJWT: &oidctest.ClientSecretJWT{TeamID: "TEAM123456", KeyID: "KEY1234567", PublicKey: &key.PublicKey},
		Now:             clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	l, err := rideroidc.New(rideroidc.Config{Providers: []rideroidc.ProviderConfig{{
		Name: "apple", Issuer: idp.Issuer(), ClientID: "com.example.rider", RedirectURL: appleRedirect,
		Scopes: []string{"openid", "email", "name"}, ResponseMode: rideroidc.ResponseModeFormPost,
		ClientSecretJWT: &rideroidc.ClientSecretJWT{TeamID: "TEAM123456", KeyID: "KEY1234567", PrivateKeyPEM: pkcs8PEM(t, signer)},
	}}, StateKey: bytes.Repeat([]byte("k"), 32), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return appleSetup{idp: idp, login: l, clock: clock}
}

// formPost runs /authorize and reads the auto-submitted form.
func formPost(t *testing.T, authURL string) url.Values {
	t.Helper()
	res, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	action, fields, err := oidctest.ReadFormPost(res.Body)
	if err != nil || action != appleRedirect {
		t.Fatalf("form_post page: %q %v", action, err)
	}
	return fields
}

// mustCallback starts a login and returns what the provider's form posts back.
func mustCallback(t *testing.T, a appleSetup) rideroidc.Callback {
	t.Helper()
	authURL, cookie, err := a.login.Start(context.Background(), "apple")
	if err != nil {
		t.Fatal(err)
	}
	f := formPost(t, authURL)
	return rideroidc.Callback{Cookie: cookie.Value, State: f.Get("state"), Code: f.Get("code"), Error: f.Get("error"),
		User: f.Get("user"), FormPost: true}
}

func TestFormPostLogin(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	a := newApple(t, key, key)
	ctx := context.Background()
	a.idp.SetUser(oidctest.User{Subject: "apple-1", Email: "rider@privaterelay.appleid.com", EmailVerified: true,
		GivenName: " Zoë\u0000 ", FamilyName: strings.Repeat("é", 150)})

	authURL, cookie, err := a.login.Start(ctx, "apple")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	if u.Query().Get("response_mode") != "form_post" || u.Query().Get("scope") != "openid email name" {
		t.Fatalf("authorization URL %s", authURL)
	}
	if cookie.SameSite != http.SameSiteNoneMode || !cookie.Secure || !cookie.HttpOnly {
		t.Fatalf("form_post state cookie %+v", cookie)
	}
	if c := a.login.ClearCookieFor("apple"); c.SameSite != http.SameSiteNoneMode || c.MaxAge != -1 || !c.Secure {
		t.Fatalf("clear cookie %+v", c)
	}
	f := formPost(t, authURL)
	cb := rideroidc.Callback{Cookie: cookie.Value, State: f.Get("state"), Code: f.Get("code"), User: f.Get("user"), FormPost: true}

	// The same answer arriving as a GET is refused before anything is spent.
	get := cb
	get.FormPost = false
	if _, err := a.login.Finish(ctx, "apple", get); !errors.Is(err, rideroidc.ErrResponseMode) {
		t.Fatalf("GET at a form_post provider: %v", err)
	}
	id, err := a.login.Finish(ctx, "apple", cb)
	if err != nil {
		t.Fatal(err)
	}
	// Names from the user field (the ID token has none), cleaned; the verified email from
	// the ID token (sent as the string "true").
	if id.Subject != "apple-1" || id.FirstName != "Zoë" || len([]rune(id.LastName)) != 100 ||
		id.Email != "rider@privaterelay.appleid.com" || !id.EmailVerified {
		t.Fatalf("identity %+v", id)
	}

	// Second login: no user field, so no names.
	cb2 := mustCallback(t, a)
	if cb2.User != "" {
		t.Fatal("user field twice")
	}
	id2, err := a.login.Finish(ctx, "apple", cb2)
	if err != nil || id2.FirstName != "" || id2.Subject != "apple-1" {
		t.Fatalf("second login %+v %v", id2, err)
	}
	// One client secret served both exchanges.
	if a.idp.TokenRequests() != 2 || a.idp.ClientSecretsSeen() != 1 {
		t.Fatalf("token requests %d, client secrets %d", a.idp.TokenRequests(), a.idp.ClientSecretsSeen())
	}
	// 54 min later the cached secret (1 h) is still used; past 55 min a new one is signed.
	a.clock.Add(54 * time.Minute)
	if _, err := a.login.Finish(ctx, "apple", mustCallback(t, a)); err != nil || a.idp.ClientSecretsSeen() != 1 {
		t.Fatalf("cached secret: %v, seen %d", err, a.idp.ClientSecretsSeen())
	}
	a.clock.Add(2 * time.Minute)
	if _, err := a.login.Finish(ctx, "apple", mustCallback(t, a)); err != nil || a.idp.ClientSecretsSeen() != 2 {
		t.Fatalf("renewed secret: %v, seen %d", err, a.idp.ClientSecretsSeen())
	}
}

func TestFormPostUserField(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	a := newApple(t, key, key)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		user        string
		first, last string
	}{
		"names":                   {`{"name":{"firstName":"Ana","lastName":"Gil"},"email":"evil@example.com"}`, "Ana", "Gil"},
		"garbage":                 {`{"name":`, "", ""},
		"oversized":               {`{"name":{"firstName":"` + strings.Repeat("a", rideroidc.MaxUserJSON) + `"}}`, "", ""},
		"control characters":      {`{"name":{"firstName":"\u0007\n","lastName":"O\u0000Neil"}}`, "", "ONeil"},
		"wrong types are no name": {`{"name":{"firstName":7}}`, "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			cb := mustCallback(t, a)
			cb.User = tc.user
			id, err := a.login.Finish(ctx, "apple", cb)
			if err != nil {
				t.Fatal(err)
			}
			if id.FirstName != tc.first || id.LastName != tc.last || id.Email != "user@example.com" {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func TestWrongClientSecretKeyIsRefusedByTheProvider(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	a := newApple(t, key, ecKey(t, elliptic.P256()))
	if _, err := a.login.Finish(context.Background(), "apple", mustCallback(t, a)); !errors.Is(err, rideroidc.ErrExchange) ||
		!strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("exchange with a secret signed by another key: %v", err)
	}
	if a.idp.TokenRequests() != 0 {
		t.Fatal("provider issued tokens")
	}
}

func TestQueryCallbackAtFormPostOnlyProvider(t *testing.T) {
	// A provider configured for query mode whose discovery lists only form_post fails at
	// Start with a clear error (it would refuse the authorization anyway).
	idp, err := oidctest.Start(oidctest.Config{ClientID: "cid", ClientSecret: "s", RequireFormPost: true})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	l, err := rideroidc.New(rideroidc.Config{Providers: []rideroidc.ProviderConfig{{Name: "q", Issuer: idp.Issuer(), ClientID: "cid",
		ClientSecret: "s", RedirectURL: appleRedirect}}, StateKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = l.Start(context.Background(), "q")
	if !errors.Is(err, rideroidc.ErrUnavailable) || !errors.Is(err, rideroidc.ErrConfig) || !strings.Contains(err.Error(), "response_mode query") {
		t.Fatalf("start: %v", err)
	}
	// And a form_post callback at a query provider is refused.
	l2 := newLogin(t, "http://127.0.0.1:1", nil)
	if _, err := l2.Finish(context.Background(), "test", rideroidc.Callback{FormPost: true, State: "s", Code: "c"}); !errors.Is(err, rideroidc.ErrResponseMode) {
		t.Fatalf("POST at a query provider: %v", err)
	}
	if m, err := l2.ResponseMode("test"); m != rideroidc.ResponseModeQuery || err != nil {
		t.Fatalf("response mode %q %v", m, err)
	}
	if c := l2.ClearCookieFor("test"); c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("query clear cookie %+v", c)
	}
}

func TestParseClientSecretKey(t *testing.T) {
	p256 := ecKey(t, elliptic.P256())
	sec1, err := x509.MarshalECPrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"pkcs8": pkcs8PEM(t, p256),
		"sec1":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
	} {
		if k, err := rideroidc.ParseClientSecretKey(b); err != nil || !k.Equal(p256) {
			t.Errorf("%s: %v", name, err)
		}
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"not pem":     []byte("-----BEGIN nothing"),
		"rsa":         pkcs8PEM(t, rsaKey),
		"p384":        pkcs8PEM(t, ecKey(t, elliptic.P384())),
		"certificate": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}}),
		"bad der":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"two blocks":  append(pkcs8PEM(t, p256), pkcs8PEM(t, p256)...),
	} {
		if _, err := rideroidc.ParseClientSecretKey(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "MIG") {
			t.Errorf("%s: error shows key material: %v", name, err)
		}
	}
}

func TestFormPostConfig(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	good := pkcs8PEM(t, ecKey(t, elliptic.P256()))
	base := func() rideroidc.ProviderConfig {
		return rideroidc.ProviderConfig{Name: "apple", Issuer: "https://appleid.apple.com", ClientID: "com.example.rider",
			RedirectURL: appleRedirect, ResponseMode: rideroidc.ResponseModeFormPost,
			ClientSecretJWT: &rideroidc.ClientSecretJWT{TeamID: "T", KeyID: "K", PrivateKeyPEM: good}}
	}
	if _, err := rideroidc.New(rideroidc.Config{Providers: []rideroidc.ProviderConfig{base()}, StateKey: key}); err != nil {
		t.Fatalf("good: %v", err)
	}
	for name, tc := range map[string]struct {
		change func(*rideroidc.ProviderConfig)
		want   string
	}{
		"unknown mode":    {func(p *rideroidc.ProviderConfig) { p.ResponseMode = "fragment" }, `response_mode "fragment"`},
		"secret and jwt":  {func(p *rideroidc.ProviderConfig) { p.ClientSecret = "x" }, "exclude each other"},
		"no team":         {func(p *rideroidc.ProviderConfig) { p.ClientSecretJWT.TeamID = "" }, "team_id and key_id"},
		"no key id":       {func(p *rideroidc.ProviderConfig) { p.ClientSecretJWT.KeyID = "" }, "team_id and key_id"},
		"bad key":         {func(p *rideroidc.ProviderConfig) { p.ClientSecretJWT.PrivateKeyPEM = []byte("x") }, "private key: no PEM block"},
		"ttl too short":   {func(p *rideroidc.ProviderConfig) { p.ClientSecretJWT.TTL = time.Second }, "ttl"},
		"ttl beyond 6 mo": {func(p *rideroidc.ProviderConfig) { p.ClientSecretJWT.TTL = 200 * 24 * time.Hour }, "ttl"},
	} {
		p := base()
		j := *p.ClientSecretJWT
		p.ClientSecretJWT = &j
		tc.change(&p)
		_, err := rideroidc.New(rideroidc.Config{Providers: []rideroidc.ProviderConfig{p}, StateKey: key})
		if !errors.Is(err, rideroidc.ErrConfig) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"apple"`) {
			t.Errorf("%s: %v", name, err)
		}
		if err := p.Validate(); !errors.Is(err, rideroidc.ErrConfig) {
			t.Errorf("%s: Validate: %v", name, err)
		}
	}
	if s := base().ClientSecretJWT.String(); strings.Contains(s, "BEGIN") {
		t.Errorf("String shows the key: %s", s)
	}
}
