package rideroidc_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/oidctest"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
)

const redirect = "http://127.0.0.1:1/v1/auth/oidc/test/callback"

func newLogin(t *testing.T, issuer string, now func() time.Time) *rideroidc.Login {
	t.Helper()
	l, err := rideroidc.New(rideroidc.Config{
		Providers: []rideroidc.ProviderConfig{{Name: "test", Issuer: issuer, ClientID: "cid", ClientSecret: "csecret", RedirectURL: redirect},
			{Name: "other", Issuer: issuer, ClientID: "cid", ClientSecret: "csecret", RedirectURL: redirect}},
		StateKey: bytes.Repeat([]byte("k"), 32), Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// authorize runs /authorize at the provider and returns code and state from the redirect.
func authorize(t *testing.T, authURL string) (code, state string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %v", res.StatusCode, err)
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

func TestFinishChecksTheStateCookie(t *testing.T) {
	now := time.Now()
	idp, err := oidctest.Start(oidctest.Config{ClientID: "cid", ClientSecret: "csecret", RedirectURIs: []string{redirect}})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	l := newLogin(t, idp.Issuer(), func() time.Time { return now })
	ctx := context.Background()
	authURL, cookie, err := l.Start(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteLaxMode || cookie.MaxAge != 600 {
		t.Fatalf("cookie attributes %+v", cookie)
	}
	code, state := authorize(t, authURL)
	flip := func(s string) string {
		b := []byte(s)
		b[len(b)/2] ^= 1
		return string(b)
	}
	for name, cb := range map[string]rideroidc.Callback{
		"no cookie":        {State: state, Code: code},
		"tampered cookie":  {Cookie: flip(cookie.Value), State: state, Code: code},
		"garbage cookie":   {Cookie: "x.y", State: state, Code: code},
		"state mismatch":   {Cookie: cookie.Value, State: state + "x", Code: code},
		"empty state":      {Cookie: cookie.Value, Code: code},
		"oversized cookie": {Cookie: strings.Repeat("a", 5000), State: state, Code: code},
	} {
		if _, err := l.Finish(ctx, "test", cb); !errors.Is(err, rideroidc.ErrState) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The cookie is bound to its provider.
	if _, err := l.Finish(ctx, "other", rideroidc.Callback{Cookie: cookie.Value, State: state, Code: code}); !errors.Is(err, rideroidc.ErrState) {
		t.Errorf("other provider: %v", err)
	}
	if _, err := l.Finish(ctx, "nope", rideroidc.Callback{Cookie: cookie.Value, State: state, Code: code}); !errors.Is(err, rideroidc.ErrUnknownProvider) {
		t.Errorf("unknown provider: %v", err)
	}
	// A cookie signed under another key is refused.
	l3, _ := rideroidc.New(rideroidc.Config{Providers: []rideroidc.ProviderConfig{{Name: "test", Issuer: idp.Issuer(), ClientID: "cid", RedirectURL: redirect}},
		StateKey: bytes.Repeat([]byte("z"), 32)})
	if _, err := l3.Finish(ctx, "test", rideroidc.Callback{Cookie: cookie.Value, State: state, Code: code}); !errors.Is(err, rideroidc.ErrState) {
		t.Errorf("other state key: %v", err)
	}
	// The untouched callback works, and the identity is what the provider said.
	id, err := l.Finish(ctx, "test", rideroidc.Callback{Cookie: cookie.Value, State: state, Code: code})
	if err != nil || id.Provider != "test" || id.Subject != "user-1" || id.Email != "user@example.com" || !id.EmailVerified {
		t.Fatalf("finish: %+v %v", id, err)
	}
}

func TestUnavailableProvider(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	issuer := dead.URL
	dead.Close()
	l := newLogin(t, issuer, nil)
	if _, _, err := l.Start(context.Background(), "test"); !errors.Is(err, rideroidc.ErrUnavailable) {
		t.Fatalf("dead provider: %v", err)
	}
}

func TestConfig(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	p := rideroidc.ProviderConfig{Name: "google", Issuer: "https://accounts.google.com", ClientID: "c", RedirectURL: "https://x/cb"}
	for name, cfg := range map[string]rideroidc.Config{
		"short key":     {Providers: []rideroidc.ProviderConfig{p}, StateKey: []byte("short")},
		"bad name":      {Providers: []rideroidc.ProviderConfig{{Name: "Goo gle", Issuer: "x", ClientID: "c", RedirectURL: "r"}}, StateKey: key},
		"duplicate":     {Providers: []rideroidc.ProviderConfig{p, p}, StateKey: key},
		"missing field": {Providers: []rideroidc.ProviderConfig{{Name: "x", Issuer: "x"}}, StateKey: key},
	} {
		if _, err := rideroidc.New(cfg); !errors.Is(err, rideroidc.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
