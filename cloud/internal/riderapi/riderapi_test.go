package riderapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/fleetedge/fleetedge/cloud/internal/loginguard"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
)

func TestPasswordAccountLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("  Ana.Garcia@Example.COM ")})
	if r.status != http.StatusCreated {
		t.Fatalf("signup: %d %s", r.status, r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.str("token_type") != "Bearer" || r.body["expires_in"].(float64) != 900 {
		t.Fatalf("token response: %v %s", r.header, r.raw)
	}
	rider := r.body["rider"].(map[string]any)
	if rider["email"] != "ana.garcia@example.com" || rider["phone"] != "+34600111222" || rider["has_password"] != true {
		t.Fatalf("rider %v", rider)
	}
	access, refresh := r.str("access_token"), r.str("refresh_token")

	me := e.do(req{method: "GET", path: "/v1/me", token: access})
	if me.status != 200 || me.str("id") != rider["id"] || me.str("first_name") != "Ana" {
		t.Fatalf("me: %d %s", me.status, me.raw)
	}
	p := e.do(req{method: "PATCH", path: "/v1/me", token: access, body: map[string]any{"last_name": "García López", "phone": ""}})
	if p.status != 200 || p.str("last_name") != "García López" || p.str("phone") != "" || p.str("first_name") != "Ana" {
		t.Fatalf("patch: %d %s", p.status, p.raw)
	}
	expectProblem(t, e.do(req{method: "PATCH", path: "/v1/me", token: access, body: map[string]any{"phone": "12"}}), 422, riderapi.CodeInvalidRequest)
	expectProblem(t, e.do(req{method: "PATCH", path: "/v1/me", token: access, body: map[string]any{"first_name": "  "}}), 422, riderapi.CodeInvalidRequest)

	l := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ANA.GARCIA@example.com", "password": "correct horse battery"}})
	if l.status != 200 || l.str("access_token") == "" {
		t.Fatalf("login: %d %s", l.status, l.raw)
	}

	f := e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": refresh}})
	if f.status != 200 || f.str("refresh_token") == refresh || f.str("access_token") == "" {
		t.Fatalf("refresh: %d %s", f.status, f.raw)
	}
	if me := e.do(req{method: "GET", path: "/v1/me", token: f.str("access_token")}); me.status != 200 {
		t.Fatalf("me with refreshed token: %d", me.status)
	}
	// Reuse of the rotated token: the family (including the new token) is revoked.
	expectProblem(t, e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": refresh}}), 401, riderapi.CodeTokenReused)
	expectProblem(t, e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": f.str("refresh_token")}}), 401, riderapi.CodeTokenInvalid)

	// Logout ends the other login's family; logging out again is still 204.
	for range 2 {
		if lo := e.do(req{method: "POST", path: "/v1/auth/logout", body: map[string]any{"refresh_token": l.str("refresh_token")}}); lo.status != 204 {
			t.Fatalf("logout: %d %s", lo.status, lo.raw)
		}
	}
	expectProblem(t, e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": l.str("refresh_token")}}), 401, riderapi.CodeTokenInvalid)

	// Password change: wrong current password, weak new one, then success ending other sessions.
	expectProblem(t, e.do(req{method: "POST", path: "/v1/me/password", token: access,
		body: map[string]any{"current_password": "nope nope nope", "new_password": "a brand new secret"}}), 401, riderapi.CodeInvalidCredentials)
	expectProblem(t, e.do(req{method: "POST", path: "/v1/me/password", token: access,
		body: map[string]any{"current_password": "correct horse battery", "new_password": "1234567890"}}), 422, riderapi.CodeWeakPassword)
	pw := e.do(req{method: "POST", path: "/v1/me/password", token: access,
		body: map[string]any{"current_password": "correct horse battery", "new_password": "a brand new secret"}})
	if pw.status != 200 || pw.str("refresh_token") == "" {
		t.Fatalf("password change: %d %s", pw.status, pw.raw)
	}
	if l := e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ana.garcia@example.com", "password": "a brand new secret"}}); l.status != 200 {
		t.Fatalf("login with the new password: %d %s", l.status, l.raw)
	}

	if d := e.do(req{method: "DELETE", path: "/v1/me", token: access}); d.status != 204 {
		t.Fatalf("delete: %d %s", d.status, d.raw)
	}
	expectProblem(t, e.do(req{method: "GET", path: "/v1/me", token: access}), 401, riderapi.CodeUnauthorized)
	expectProblem(t, e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ana.garcia@example.com", "password": "correct horse battery"}}), 401, riderapi.CodeInvalidCredentials)
	// The address can be used again.
	if r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("ana.garcia@example.com")}); r.status != 201 {
		t.Fatalf("sign up after delete: %d %s", r.status, r.raw)
	}
}

func TestProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("ana@example.com")}); r.status != 201 {
		t.Fatalf("signup: %d %s", r.status, r.raw)
	}
	weak := signupBody("luis@example.com")
	weak["password"] = "aaaaaaaaaaaa"
	wp := e.do(req{method: "POST", path: "/v1/auth/signup", body: weak})
	expectProblem(t, wp, 422, riderapi.CodeWeakPassword)
	if !strings.Contains(wp.raw, `"location":"body.password"`) || strings.Contains(wp.raw, "aaaaaaaaaaaa") {
		t.Fatalf("weak password problem: %s", wp.raw)
	}
	cases := []struct {
		name   string
		req    req
		status int
		code   string
	}{
		{"email taken other case", req{method: "POST", path: "/v1/auth/signup", body: signupBody("ANA@Example.com")}, 409, riderapi.CodeEmailTaken},
		{"invalid email", req{method: "POST", path: "/v1/auth/signup", body: signupBody("not-an-email")}, 422, riderapi.CodeInvalidRequest},
		{"sql in email", req{method: "POST", path: "/v1/auth/signup", body: signupBody("x'; DROP TABLE riders;--@example.com")}, 422, riderapi.CodeInvalidRequest},
		{"missing field", req{method: "POST", path: "/v1/auth/signup", body: map[string]any{"email": "a@example.com"}}, 422, riderapi.CodeInvalidRequest},
		{"name too long", req{method: "POST", path: "/v1/auth/signup", body: func() map[string]any {
			b := signupBody("b@example.com")
			b["first_name"] = strings.Repeat("x", 101)
			return b
		}()}, 422, riderapi.CodeInvalidRequest},
		{"not json", req{method: "POST", path: "/v1/auth/login", body: "{"}, 400, riderapi.CodeInvalidRequest},
		{"oversized body", req{method: "POST", path: "/v1/auth/login", body: `{"email":"` + strings.Repeat("a", 20000) + `","password":"x"}`}, 413, riderapi.CodeInvalidRequest},
		{"wrong password", req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ana@example.com", "password": "wrong password!"}}, 401, riderapi.CodeInvalidCredentials},
		{"unknown email", req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "nobody@example.com", "password": "correct horse battery"}}, 401, riderapi.CodeInvalidCredentials},
		{"garbage email at login", req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "' OR '1'='1", "password": "x"}}, 401, riderapi.CodeInvalidCredentials},
		{"garbage refresh token", req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": "' OR 1=1 --"}}, 401, riderapi.CodeTokenInvalid},
		{"no bearer", req{method: "GET", path: "/v1/me"}, 401, riderapi.CodeUnauthorized},
		{"not a jwt", req{method: "GET", path: "/v1/me", token: "abc.def.ghi"}, 401, riderapi.CodeUnauthorized},
		{"unknown provider", req{method: "GET", path: "/v1/auth/oidc/nope/start"}, 404, riderapi.CodeUnknownProvider},
		{"unknown route", req{method: "GET", path: "/v1/nothing/here"}, 404, riderapi.CodeNotFound},
		{"wrong method", req{method: "GET", path: "/v1/auth/login"}, 404, riderapi.CodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expectProblem(t, e.do(c.req), c.status, c.code) })
	}
	if r := e.do(req{method: "GET", path: "/v1/me"}); !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no challenge: %v", r.header)
	}
}

func TestAccessTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("ana@example.com")})
	access := r.str("access_token")
	// Tampered payload.
	parts := strings.Split(access, ".")
	tampered := parts[0] + "." + parts[1][:len(parts[1])-2] + "xx." + parts[2]
	expectProblem(t, e.do(req{method: "GET", path: "/v1/me", token: tampered}), 401, riderapi.CodeUnauthorized)
	// Signed by a key the API does not hold, under the same kid.
	other, _ := authtoken.NewKeyset("k1", map[string][]byte{"k1": bytes.Repeat([]byte{2}, ed25519.SeedSize)})
	oi, _ := authtoken.NewIssuer(other, authtoken.Config{Issuer: "fleetedge", Audience: "rider-api", Now: e.clock.Now})
	forged, _, _ := oi.Issue(r.body["rider"].(map[string]any)["id"].(string))
	expectProblem(t, e.do(req{method: "GET", path: "/v1/me", token: forged}), 401, riderapi.CodeUnauthorized)
	// Expired.
	e.clock.Add(16 * time.Minute)
	ex := e.do(req{method: "GET", path: "/v1/me", token: access})
	expectProblem(t, ex, 401, riderapi.CodeUnauthorized)
	if !strings.Contains(ex.header.Get("WWW-Authenticate"), `error="invalid_token"`) || ex.str("detail") != "access token expired" {
		t.Fatalf("expired: %v %s", ex.header, ex.raw)
	}
	// The refresh token still works after the access token expired.
	if f := e.do(req{method: "POST", path: "/v1/auth/refresh", body: map[string]any{"refresh_token": r.str("refresh_token")}}); f.status != 200 {
		t.Fatalf("refresh: %d %s", f.status, f.raw)
	}
}

func TestConcurrentSignUpDifferentCase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	emails := []string{"Race@Example.com", "race@EXAMPLE.COM"}
	res := make([]response, len(emails))
	var wg sync.WaitGroup
	for i, em := range emails {
		wg.Go(func() { res[i] = e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody(em)}) })
	}
	wg.Wait()
	created, taken := 0, 0
	for _, r := range res {
		switch {
		case r.status == 201:
			created++
		case r.status == 409 && r.str("code") == riderapi.CodeEmailTaken:
			taken++
		default:
			t.Fatalf("unexpected %d %s", r.status, r.raw)
		}
	}
	if created != 1 || taken != 1 {
		t.Fatalf("created %d taken %d", created, taken)
	}
}

func TestLoginLockout(t *testing.T) {
	t.Parallel()
	p := loginguard.DefaultPolicy()
	p.LoginPerIP = loginguard.Rate{PerMinute: 100, Burst: 100}
	p.LockoutAfter, p.LockoutBase, p.LockoutMax = 3, time.Minute, 10*time.Minute
	e := newEnv(t, withPolicy(p))
	if r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("ana@example.com")}); r.status != 201 {
		t.Fatal(r.raw)
	}
	wrong := req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ana@example.com", "password": "wrong password!"}}
	right := req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "Ana@Example.com", "password": "correct horse battery"}}
	for range 3 {
		expectProblem(t, e.do(wrong), 401, riderapi.CodeInvalidCredentials)
	}
	// Locked: even the right password is refused, with Retry-After.
	l := e.do(right)
	expectProblem(t, l, 429, riderapi.CodeLocked)
	if l.header.Get("Retry-After") != "60" {
		t.Fatalf("Retry-After %q", l.header.Get("Retry-After"))
	}
	// An unknown email locks the same way (no enumeration through the lockout).
	ghost := req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ghost@example.com", "password": "wrong password!"}}
	for range 3 {
		expectProblem(t, e.do(ghost), 401, riderapi.CodeInvalidCredentials)
	}
	expectProblem(t, e.do(ghost), 429, riderapi.CodeLocked)

	e.clock.Add(61 * time.Second)
	// One more failure after the lock ran out doubles it.
	expectProblem(t, e.do(wrong), 401, riderapi.CodeInvalidCredentials)
	if l := e.do(right); l.status != 429 || l.header.Get("Retry-After") != "120" {
		t.Fatalf("backoff: %d %s %q", l.status, l.raw, l.header.Get("Retry-After"))
	}
	e.clock.Add(121 * time.Second)
	if l := e.do(right); l.status != 200 {
		t.Fatalf("after lock: %d %s", l.status, l.raw)
	}
	if counterValue(t, e.reg, "login", "locked") < 3 || counterValue(t, e.reg, "login", "invalid_credentials") < 7 {
		t.Fatalf("lockout metrics: locked %v invalid %v", counterValue(t, e.reg, "login", "locked"), counterValue(t, e.reg, "login", "invalid_credentials"))
	}
	// Success reset the count.
	expectProblem(t, e.do(wrong), 401, riderapi.CodeInvalidCredentials)
	if l := e.do(right); l.status != 200 {
		t.Fatalf("after reset: %d %s", l.status, l.raw)
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	burst := e.policy.SignupPerIP.Burst
	for i := range burst {
		r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody(strings.Repeat("x", i+1) + "@example.com")})
		if r.status != 201 {
			t.Fatalf("signup %d: %d %s", i, r.status, r.raw)
		}
	}
	r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("late@example.com"),
		header: map[string]string{"X-Forwarded-For": "203.0.113.9"}}) // not trusted: no way around the limit
	expectProblem(t, r, 429, riderapi.CodeRateLimited)
	if r.header.Get("Retry-After") != "12" { // 5/min: one token every 12 s
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Per-IP login limit with the default policy: 10 attempts, then 429.
	for i := range e.policy.LoginPerIP.Burst {
		em := strings.Repeat("y", i+1) + "@example.com" // distinct accounts: neither lockout nor account limit
		expectProblem(t, e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": em, "password": "wrong password!"}}), 401, riderapi.CodeInvalidCredentials)
	}
	expectProblem(t, e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "z@example.com", "password": "x"}}), 429, riderapi.CodeRateLimited)
	e.clock.Add(12 * time.Second)
	if r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("later@example.com")}); r.status != 201 {
		t.Fatalf("after refill: %d %s", r.status, r.raw)
	}
}

func TestRateLimitPerAccount(t *testing.T) {
	t.Parallel()
	p := loginguard.DefaultPolicy()
	p.LoginPerIP = loginguard.Rate{PerMinute: 1000, Burst: 1000}
	p.LockoutAfter = 100 // isolate the per-account bucket from the lockout
	p.LoginPerAccount = loginguard.Rate{PerMinute: 2, Burst: 2}
	e := newEnv(t, withPolicy(p))
	wrong := req{method: "POST", path: "/v1/auth/login", body: map[string]any{"email": "ana@example.com", "password": "wrong password!"}}
	expectProblem(t, e.do(wrong), 401, riderapi.CodeInvalidCredentials)
	expectProblem(t, e.do(wrong), 401, riderapi.CodeInvalidCredentials)
	r := e.do(wrong)
	expectProblem(t, r, 429, riderapi.CodeRateLimited)
	if r.header.Get("Retry-After") != "30" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
}

func TestTrustedProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withTrustedProxy("127.0.0.0/8"))
	burst := e.policy.SignupPerIP.Burst
	for i := range burst + 2 {
		// Each rider behind the proxy has their own bucket.
		ip := "203.0.113." + string(rune('1'+i))
		r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody(strings.Repeat("p", i+1) + "@example.com"),
			header: map[string]string{"X-Forwarded-For": "198.51.100.7, " + ip}})
		if r.status != 201 {
			t.Fatalf("signup %d via proxy: %d %s", i, r.status, r.raw)
		}
	}
	var ip string
	if err := e.db.Pool.QueryRow(t.Context(), `SELECT host(ip) FROM rider_sessions ORDER BY created_at LIMIT 1`).Scan(&ip); err != nil || !strings.HasPrefix(ip, "203.0.113.") {
		t.Fatalf("session ip %q %v", ip, err)
	}
}

func TestIPv6ClientsLimitedPerSlash64(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withTrustedProxy("127.0.0.0/8"))
	burst := e.policy.SignupPerIP.Burst
	for i := range burst {
		r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody(strings.Repeat("v", i+1) + "@example.com"),
			header: map[string]string{"X-Forwarded-For": "2001:db8:1:2::" + string(rune('a'+i))}})
		if r.status != 201 {
			t.Fatalf("signup %d: %d %s", i, r.status, r.raw)
		}
	}
	// Another address of the same /64 shares the bucket; another /64 does not.
	expectProblem(t, e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("w@example.com"),
		header: map[string]string{"X-Forwarded-For": "2001:db8:1:2:ffff::1"}}), 429, riderapi.CodeRateLimited)
	if r := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("w@example.com"),
		header: map[string]string{"X-Forwarded-For": "2001:db8:1:3::1"}}); r.status != 201 {
		t.Fatalf("other /64: %d %s", r.status, r.raw)
	}
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(req{method: "GET", path: "/v1/openapi.json"})
	if r.status != 200 || r.str("openapi") != "3.1.0" {
		t.Fatalf("%d %.200s", r.status, r.raw)
	}
	paths := r.body["paths"].(map[string]any)
	for _, p := range []string{"/v1/auth/signup", "/v1/auth/login", "/v1/auth/refresh", "/v1/auth/logout",
		"/v1/auth/oidc/{provider}/start", "/v1/auth/oidc/{provider}/callback", "/v1/me", "/v1/me/password"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("openapi lacks %s", p)
		}
	}
	me := paths["/v1/me"].(map[string]any)
	for _, m := range []string{"get", "patch", "delete"} {
		if _, ok := me[m]; !ok {
			t.Errorf("openapi lacks %s /v1/me", m)
		}
	}
	login := paths["/v1/auth/login"].(map[string]any)["post"].(map[string]any)["responses"].(map[string]any)
	if !strings.Contains(mustJSON(t, login["401"]), `"$ref":"#/components/schemas/Problem"`) ||
		!strings.Contains(mustJSON(t, r.body["components"]), `"code":{`) {
		t.Errorf("error responses not documented as Problem: %s", mustJSON(t, login))
	}
	if !strings.Contains(r.raw, `"bearerFormat":"JWT"`) {
		t.Error("no bearer security scheme")
	}
}

// TestBearerAuthForOtherRiderAPIs registers an operation the way the rides API will (on
// API.Huma() with BearerSecurity) and checks it sees the authenticated rider.
func TestBearerAuthForOtherRiderAPIs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type whoami struct {
		Body struct {
			Rider string `json:"rider"`
		}
	}
	huma.Register(e.api.Huma(), huma.Operation{OperationID: "whoami", Method: "GET", Path: "/v1/rides/whoami",
		Security: riderapi.BearerSecurity}, func(ctx context.Context, _ *struct{}) (*whoami, error) {
		id, ok := riderapi.RiderID(ctx)
		if !ok {
			return nil, riderapi.NewProblem(500, riderapi.CodeInternal, "no rider in context")
		}
		out := &whoami{}
		out.Body.Rider = id
		return out, nil
	})
	huma.Register(e.api.Huma(), huma.Operation{OperationID: "public", Method: "GET", Path: "/v1/rides/public"},
		func(ctx context.Context, _ *struct{}) (*whoami, error) {
			out := &whoami{}
			_, authed := riderapi.RiderID(ctx)
			out.Body.Rider = map[bool]string{true: "someone", false: "anonymous"}[authed]
			return out, nil
		})
	s := e.do(req{method: "POST", path: "/v1/auth/signup", body: signupBody("ana@example.com")})
	w := e.do(req{method: "GET", path: "/v1/rides/whoami", token: s.str("access_token")})
	if w.status != 200 || w.str("rider") != s.body["rider"].(map[string]any)["id"] {
		t.Fatalf("whoami: %d %s", w.status, w.raw)
	}
	expectProblem(t, e.do(req{method: "GET", path: "/v1/rides/whoami"}), 401, riderapi.CodeUnauthorized)
	if p := e.do(req{method: "GET", path: "/v1/rides/public"}); p.status != 200 || p.str("rider") != "anonymous" {
		t.Fatalf("public: %d %s", p.status, p.raw)
	}
	if o := e.do(req{method: "GET", path: "/v1/openapi.json"}); !strings.Contains(o.raw, "/v1/rides/whoami") {
		t.Fatal("the added operation is not in the OpenAPI document")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
