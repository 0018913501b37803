package riderapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/loginguard"
	"github.com/fleetedge/fleetedge/cloud/internal/oidctest"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
)

func (e *env) get(b *http.Client, u string) *http.Response {
	e.t.Helper()
	res, err := b.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) asResponse(res *http.Response) response {
	e.t.Helper()
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("body %q: %v", raw, err)
		}
	}
	return out
}

// start runs /start in browser b and returns the provider authorization URL.
func (e *env) start(b *http.Client) *url.URL {
	e.t.Helper()
	res := e.get(b, e.url+"/v1/auth/oidc/test/start")
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		e.t.Fatalf("start: %d", res.StatusCode)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	sc := res.Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, rideroidc.CookieName+"=") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") || !strings.Contains(sc, "Path=/v1/auth/oidc/") {
		e.t.Fatalf("state cookie %q", sc)
	}
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), e.idp.Issuer()+"/authorize?") || q.Get("code_challenge_method") != "S256" ||
		len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || q.Get("state") == "" || q.Get("client_id") != "fleetedge-rider" ||
		!strings.Contains(q.Get("scope"), "openid") {
		e.t.Fatalf("authorization URL %s", loc)
	}
	return loc
}

// authorize follows the provider's authorization URL and returns the callback URL it redirects to.
func (e *env) authorize(b *http.Client, authURL *url.URL) *url.URL {
	e.t.Helper()
	res := e.get(b, authURL.String())
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		e.t.Fatalf("authorize: %d", res.StatusCode)
	}
	cb, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(cb.String(), e.url+"/v1/auth/oidc/test/callback?") {
		e.t.Fatalf("callback URL %s", cb)
	}
	return cb
}

func (e *env) callback(b *http.Client, cb *url.URL) response {
	e.t.Helper()
	return e.asResponse(e.get(b, cb.String()))
}

// oidcLogin runs the whole redirect flow in a fresh browser.
func (e *env) oidcLogin() response {
	e.t.Helper()
	b := browser(e.t)
	return e.callback(b, e.authorize(b, e.start(b)))
}

func (e *env) identities() int {
	e.t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(e.t.Context(), `SELECT count(*) FROM rider_identities`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestOIDCLoginCreatesThenLogsIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withPolicy(oidcPolicy()))
	e.idp.SetUser(oidctest.User{Subject: "sub-luis", Email: "Luis@Example.com", EmailVerified: true, GivenName: "Luis", FamilyName: "Pérez"})
	r := e.oidcLogin()
	if r.status != 200 || r.body["created"] != true {
		t.Fatalf("first login: %d %s", r.status, r.raw)
	}
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("state cookie not cleared: %q", sc)
	}
	rider := r.body["rider"].(map[string]any)
	if rider["email"] != "luis@example.com" || rider["first_name"] != "Luis" || rider["has_password"] != false {
		t.Fatalf("rider %v", rider)
	}
	me := e.do(req{method: "GET", path: "/v1/me", token: r.str("access_token")})
	if me.status != 200 || me.str("id") != rider["id"] {
		t.Fatalf("me: %d %s", me.status, me.raw)
	}
	if f := e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": r.str("refresh_token")}}); f.status != 200 {
		t.Fatalf("refresh of an OIDC login: %d %s", f.status, f.raw)
	}
	again := e.oidcLogin()
	if again.status != 200 || again.body["created"] != false || again.body["rider"].(map[string]any)["id"] != rider["id"] {
		t.Fatalf("second login: %d %s", again.status, again.raw)
	}
	if e.identities() != 1 || e.idp.TokenRequests() != 2 {
		t.Fatalf("identities %d, token requests %d", e.identities(), e.idp.TokenRequests())
	}
}

func TestOIDCLinksByVerifiedEmailOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("ana@example.com")})
	if s.status != 201 {
		t.Fatal(s.raw)
	}
	id := s.body["rider"].(map[string]any)["id"]

	e.idp.SetUser(oidctest.User{Subject: "sub-ana", Email: "ana@example.com", EmailVerified: false, GivenName: "Impostor"})
	expectProblem(t, e.oidcLogin(), 403, riderapi.CodeOIDCEmailUnverified)
	if e.identities() != 0 {
		t.Fatal("identity linked through an unverified email")
	}

	e.idp.SetUser(oidctest.User{Subject: "sub-ana", Email: "ANA@example.com", EmailVerified: true, GivenName: "Ana"})
	r := e.oidcLogin()
	if r.status != 200 || r.body["created"] != false || r.body["rider"].(map[string]any)["id"] != id {
		t.Fatalf("verified link: %d %s", r.status, r.raw)
	}
	if e.identities() != 1 {
		t.Fatal("identity not linked")
	}
	// The password still works too.
	if l := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ana@example.com", "password": "correct horse battery"}}); l.status != 200 {
		t.Fatalf("password login after linking: %d", l.status)
	}
}

// oidcPolicy lets one test run many OIDC logins from one IP.
func oidcPolicy() loginguard.Policy {
	p := loginguard.DefaultPolicy()
	p.LoginPerIP = loginguard.Rate{PerMinute: 1000, Burst: 1000}
	return p
}

func TestOIDCRejects(t *testing.T) {
	t.Parallel()
	parent := newEnv(t, withPolicy(oidcPolicy()))
	e := parent
	e.idp.SetUser(oidctest.User{Subject: "sub-x", Email: "x@example.com", EmailVerified: true})

	t.Run("wrong state", func(t *testing.T) {
		e := parent.with(t)
		b := browser(t)
		cb := e.authorize(b, e.start(b))
		q := cb.Query()
		q.Set("state", q.Get("state")+"x")
		cb.RawQuery = q.Encode()
		expectProblem(t, e.callback(b, cb), 400, riderapi.CodeOIDCStateInvalid)
	})
	t.Run("no state cookie", func(t *testing.T) {
		e := parent.with(t)
		b := browser(t)
		cb := e.authorize(b, e.start(b))
		expectProblem(t, e.callback(browser(t), cb), 400, riderapi.CodeOIDCStateInvalid)
	})
	t.Run("state expired", func(t *testing.T) {
		e := parent.with(t)
		b := browser(t)
		cb := e.authorize(b, e.start(b))
		e.clock.Add(11 * time.Minute)
		expectProblem(t, e.callback(b, cb), 400, riderapi.CodeOIDCStateInvalid)
	})
	t.Run("pkce verifier mismatch (injected code)", func(t *testing.T) {
		e := parent.with(t)
		victim, attacker := browser(t), browser(t)
		victimAuth := e.start(victim)
		attackerCB := e.authorize(attacker, e.start(attacker))
		// The attacker's code delivered into the victim's browser, with the victim's state so
		// the state check passes: only PKCE stops it.
		cb := *attackerCB
		q := cb.Query()
		q.Set("state", victimAuth.Query().Get("state"))
		cb.RawQuery = q.Encode()
		before := e.idp.TokenRequests()
		expectProblem(t, e.callback(victim, &cb), 401, riderapi.CodeOIDCFailed)
		if e.idp.TokenRequests() != before {
			t.Fatal("provider issued tokens")
		}
	})
	t.Run("code replay", func(t *testing.T) {
		e := parent.with(t)
		b := browser(t)
		cb := e.authorize(b, e.start(b))
		stolen := b.Jar.Cookies(cb) // the state cookie, as an attacker who copied it would hold it
		if r := e.callback(b, cb); r.status != 200 {
			t.Fatalf("first use: %d %s", r.status, r.raw)
		}
		// The browser dropped the cookie, so a plain replay fails the state check …
		expectProblem(t, e.callback(b, cb), 400, riderapi.CodeOIDCStateInvalid)
		// … and with the copied cookie the provider refuses the used code.
		replayer := browser(t)
		replayer.Jar.SetCookies(cb, stolen)
		expectProblem(t, e.callback(replayer, cb), 401, riderapi.CodeOIDCFailed)
	})
	t.Run("provider error", func(t *testing.T) {
		e := parent.with(t)
		b := browser(t)
		auth := e.start(b)
		cb, _ := url.Parse(e.url + "/v1/auth/oidc/test/callback?error=access_denied&state=" + url.QueryEscape(auth.Query().Get("state")))
		expectProblem(t, e.callback(b, cb), 401, riderapi.CodeOIDCDenied)
	})
	tampers := map[string]oidctest.Tamper{
		"wrong nonce":      {Nonce: "not-the-nonce"},
		"missing nonce":    {OmitNonce: true},
		"expired id token": {ExpiresIn: -time.Minute},
		"wrong audience":   {Audience: "someone-else"},
		"unknown key":      {ForeignKey: true},
		"no subject":       {OmitSubject: true},
	}
	for name, tamper := range tampers {
		t.Run(name, func(t *testing.T) {
			e := parent.with(t)
			e.idp.SetTamper(tamper)
			defer e.idp.SetTamper(oidctest.Tamper{})
			before := e.identities()
			expectProblem(t, e.oidcLogin(), 401, riderapi.CodeOIDCFailed)
			if e.identities() != before {
				t.Fatal("identity stored from a rejected ID token")
			}
		})
	}
	// And the same provider, behaving, still works.
	if r := e.oidcLogin(); r.status != 200 {
		t.Fatalf("control: %d %s", r.status, r.raw)
	}
}
