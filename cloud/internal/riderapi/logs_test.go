package riderapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/loginguard"
	"github.com/fleetedge/fleetedge/cloud/internal/oidctest"
)

// TestLogsCarryNoSecrets runs every flow, including failures, with debug logging and checks
// that no password, token, authorization code, state cookie or email address was logged.
func TestLogsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	p := loginguard.DefaultPolicy()
	p.LoginPerIP = loginguard.Rate{PerMinute: 1000, Burst: 1000}
	p.LockoutAfter = 2
	e := newEnv(t, withPolicy(p))
	const password, wrongPassword = "correct horse battery", "Wr0ng-Passw0rd!"
	secrets := []string{password, wrongPassword, "ana.secret@example.com", "600111222", "luis.secret@example.com"}

	s := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("ana.secret@example.com")})
	if s.status != 201 {
		t.Fatal(s.raw)
	}
	secrets = append(secrets, s.str("access_token"), s.str("refresh_token"))
	l := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ana.secret@example.com", "password": password}})
	secrets = append(secrets, l.str("access_token"), l.str("refresh_token"))
	f := e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": s.str("refresh_token")}})
	secrets = append(secrets, f.str("access_token"), f.str("refresh_token"))
	e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": s.str("refresh_token")}}) // reuse
	e.do(req{method: "POST", path: "/v1/auth/logout", body: map[string]any{"refresh_token": l.str("refresh_token")}})
	for range 3 { // failures and a lockout
		e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ana.secret@example.com", "password": wrongPassword}})
	}
	e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("ana.secret@example.com")}) // email taken
	const newPassword = "N3w-Secr3t-Passw0rd"
	secrets = append(secrets, newPassword)
	e.do(req{method: "POST", path: "/v1/me/password", token: s.str("access_token"), body: map[string]any{"current_password": wrongPassword, "new_password": newPassword}})
	pw := e.do(req{method: "POST", path: "/v1/me/password", token: s.str("access_token"), body: map[string]any{"current_password": password, "new_password": newPassword}})
	secrets = append(secrets, pw.str("access_token"), pw.str("refresh_token"))
	e.do(req{method: "GET", path: "/v1/me", token: s.str("access_token") + "x"})

	e.idp.SetUser(oidctest.User{Subject: "sub-luis", Email: "luis.secret@example.com", EmailVerified: true})
	b := browser(t)
	cb := e.authorize(b, e.start(b))
	for _, c := range b.Jar.Cookies(cb) {
		secrets = append(secrets, c.Value)
	}
	secrets = append(secrets, cb.Query().Get("code"), cb.Query().Get("state"))
	o := e.callback(b, cb)
	if o.status != http.StatusOK {
		t.Fatal(o.raw)
	}
	secrets = append(secrets, o.str("access_token"), o.str("refresh_token"))
	e.idp.SetTamper(oidctest.Tamper{Nonce: "bad"}) // a rejected ID token is logged
	e.oidcLogin()

	logs := e.logs.String()
	for _, want := range []string{"rider signed up", "login failed", "refresh token reused", "oidc login rejected", "password changed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("expected a %q log line; logs:\n%s", want, logs)
		}
	}
	for _, sec := range secrets {
		if sec == "" {
			t.Fatal("a secret of the flow was empty: the test lost track of it")
		}
		if strings.Contains(logs, sec) {
			t.Errorf("log contains a secret %.12q…", sec)
		}
	}
}
