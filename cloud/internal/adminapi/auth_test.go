package adminapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
)

func TestLoginPasswordOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.newAdmin("Viewer@Example.com", admin.RoleViewer)

	cases := []struct {
		name, email, password string
		status                int
		code                  string
	}{
		{"ok, email in any case", "  VIEWER@example.COM ", superPassword, 200, ""},
		{"wrong password", "viewer@example.com", "wrong password!", 401, adminapi.CodeInvalidCredentials},
		{"unknown email", "ghost@example.com", superPassword, 401, adminapi.CodeInvalidCredentials},
		{"schema: empty password", "viewer@example.com", "", 422, adminapi.CodeInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", "/admin/v1/auth/login", "", map[string]string{"email": c.email, "password": c.password})
			if r.status != c.status || (c.code != "" && r.code(t) != c.code) {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, c.status, c.code)
			}
			if c.status >= 400 && r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("content type %q", r.header.Get("Content-Type"))
			}
		})
	}

	tok := e.login("viewer@example.com", superPassword)
	var me adminapi.MeBody
	r := e.do("GET", "/admin/v1/me", tok, nil)
	r.json(t, &me)
	if r.status != 200 || me.Admin.ID != id || me.Admin.LastLoginAt == nil || strings.Join(me.Permissions, ",") != "analytics.read,tariffs.read,vehicles.read,zones.read" {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
	// Logout ends the session at once; the token is then refused.
	if r := e.do("POST", "/admin/v1/auth/logout", tok, nil); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/admin/v1/me", tok, nil); r.status != 401 {
		t.Fatalf("me after logout: %d", r.status)
	}
	if n := len(e.auditEntries(audit.Filter{AdminID: id, Action: "admin.logout"})); n != 1 {
		t.Fatalf("%d logout entries", n)
	}

	// A disabled admin fails like a wrong password, and their sessions end.
	tok = e.login("viewer@example.com", superPassword)
	if _, err := e.svc.Disable(t.Context(), e.super, id, admin.Client{}); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/admin/v1/me", tok, nil); r.status != 401 {
		t.Fatalf("session of a disabled admin: %d", r.status)
	}
	if r := e.do("POST", "/admin/v1/auth/login", "", map[string]string{"email": "viewer@example.com", "password": superPassword}); r.status != 401 || r.code(t) != adminapi.CodeInvalidCredentials {
		t.Fatalf("disabled login: %d %s", r.status, r.body)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.login(superEmail, superPassword)
	// Used every 20 minutes, the session lives until its absolute TTL (8 h).
	for range 23 {
		e.clock.Add(20 * time.Minute)
		if r := e.do("GET", "/admin/v1/me", tok, nil); r.status != 200 {
			t.Fatalf("at %s: %d", e.clock.Now(), r.status)
		}
	}
	e.clock.Add(20 * time.Minute) // 8 h after login
	if r := e.do("GET", "/admin/v1/me", tok, nil); r.status != 401 {
		t.Fatalf("after the TTL: %d", r.status)
	}
	// Idle for 30 minutes ends a session.
	tok = e.login(superEmail, superPassword)
	e.clock.Add(30 * time.Minute)
	if r := e.do("GET", "/admin/v1/me", tok, nil); r.status != 401 {
		t.Fatalf("after idling: %d", r.status)
	}
	// The dead sessions (newEnv's, the expired and the idle one) are purged; a live one stays.
	live := e.login(superEmail, superPassword)
	if n, err := e.svc.PurgeExpiredSessions(t.Context()); err != nil || n != 3 {
		t.Fatalf("purged %d, %v; want 3", n, err)
	}
	if r := e.do("GET", "/admin/v1/me", live, nil); r.status != 200 {
		t.Fatalf("live session after purge: %d", r.status)
	}
}

func TestTOTPEnrolmentLoginAndReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.newAdmin("ops@example.com", admin.RoleFleetOperator)
	tok := e.login("ops@example.com", superPassword)

	// Confirming without enrolment is refused.
	if r := e.do("POST", "/admin/v1/me/totp/confirm", tok, map[string]string{"code": "123456"}); r.status != 409 || r.code(t) != adminapi.CodeTOTPNotEnrolling {
		t.Fatalf("confirm first: %d %s", r.status, r.body)
	}
	r := e.do("POST", "/admin/v1/me/totp", tok, nil)
	var enr adminapi.EnrolmentBody
	r.json(t, &enr)
	if r.status != 200 || len(enr.Secret) != 32 || !strings.HasPrefix(enr.URI, "otpauth://totp/fleetedge:ops@example.com?") || !strings.Contains(enr.URI, "secret="+enr.Secret) {
		t.Fatalf("start: %d %s", r.status, r.body)
	}
	// The secret is stored sealed, never in clear.
	var cipher []byte
	if err := e.db.Pool.QueryRow(t.Context(), `SELECT totp_pending_ciphertext FROM admins WHERE id = $1`, id).Scan(&cipher); err != nil || strings.Contains(string(cipher), enr.Secret) || len(cipher) < 20 {
		t.Fatalf("pending secret stored as %x (%v)", cipher, err)
	}
	if r := e.do("POST", "/admin/v1/me/totp/confirm", tok, map[string]string{"code": "000000"}); r.status != 401 || r.code(t) != adminapi.CodeTOTPInvalid {
		t.Fatalf("confirm wrong code: %d %s", r.status, r.body)
	}
	enrolCode := totpCode(t, enr.Secret, e.clock.Now())
	if r := e.do("POST", "/admin/v1/me/totp/confirm", tok, map[string]string{"code": enrolCode}); r.status != 204 {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/admin/v1/me/totp", tok, nil); r.status != 409 || r.code(t) != adminapi.CodeTOTPEnabled {
		t.Fatalf("start again: %d %s", r.status, r.body)
	}

	challenge := func() string {
		t.Helper()
		r := e.do("POST", "/admin/v1/auth/login", "", map[string]string{"email": "ops@example.com", "password": superPassword})
		var out adminapi.LoginBody
		r.json(t, &out)
		if r.status != 200 || out.Status != "totp_required" || out.Challenge == nil || out.Session != nil {
			t.Fatalf("login with totp: %d %s", r.status, r.body)
		}
		return out.Challenge.Token
	}
	totpLogin := func(ch, code string) response {
		return e.do("POST", "/admin/v1/auth/login/totp", "", map[string]string{"challenge": ch, "code": code})
	}
	// The code used at enrolment cannot be used again to log in.
	ch := challenge()
	if r := totpLogin(ch, enrolCode); r.status != 401 || r.code(t) != adminapi.CodeTOTPReplay {
		t.Fatalf("enrolment code replayed: %d %s", r.status, r.body)
	}
	e.clock.Add(30 * time.Second)
	code := totpCode(t, enr.Secret, e.clock.Now())
	r = totpLogin(ch, code)
	var sess adminapi.SessionBody
	r.json(t, &sess)
	if r.status != 200 || sess.Admin.ID != id || !sess.Admin.TOTPEnabled {
		t.Fatalf("totp login: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/admin/v1/me", sess.Token, nil); r.status != 200 {
		t.Fatalf("me with the totp session: %d", r.status)
	}
	// The challenge is single use.
	if r := totpLogin(ch, code); r.status != 401 || r.code(t) != adminapi.CodeChallengeInvalid {
		t.Fatalf("challenge reused: %d %s", r.status, r.body)
	}
	// Replay of the used code on a fresh challenge, and of the previous step's code, is refused.
	ch = challenge()
	if r := totpLogin(ch, code); r.status != 401 || r.code(t) != adminapi.CodeTOTPReplay {
		t.Fatalf("code replayed: %d %s", r.status, r.body)
	}
	if r := totpLogin(ch, totpCode(t, enr.Secret, e.clock.Now().Add(-30*time.Second))); r.status != 401 || r.code(t) != adminapi.CodeTOTPReplay {
		t.Fatalf("older code: %d %s", r.status, r.body)
	}
	// The next step's code (clock drift +1) is accepted.
	if r := totpLogin(ch, totpCode(t, enr.Secret, e.clock.Now().Add(30*time.Second))); r.status != 200 {
		t.Fatalf("drift +1: %d %s", r.status, r.body)
	}
	// A code two steps away is not; nor is an expired challenge.
	e.clock.Add(2 * time.Minute)
	ch = challenge()
	if r := totpLogin(ch, totpCode(t, enr.Secret, e.clock.Now().Add(-60*time.Second))); r.status != 401 || r.code(t) != adminapi.CodeTOTPInvalid {
		t.Fatalf("drift -2: %d %s", r.status, r.body)
	}
	e.clock.Add(5 * time.Minute)
	if r := totpLogin(ch, totpCode(t, enr.Secret, e.clock.Now())); r.status != 401 || r.code(t) != adminapi.CodeChallengeInvalid {
		t.Fatalf("expired challenge: %d %s", r.status, r.body)
	}
	if n := len(e.auditEntries(audit.Filter{AdminID: id, Action: "admin.totp_enable"})); n != 1 {
		t.Fatalf("%d totp_enable entries", n)
	}
}

func TestLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.newAdmin("ops@example.com", admin.RoleSupport)
	try := func(pw string) response {
		return e.do("POST", "/admin/v1/auth/login", "", map[string]string{"email": "ops@example.com", "password": pw})
	}
	for i := range 4 {
		if r := try("wrong password!"); r.status != 401 {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
		}
	}
	// A success resets the count.
	e.login("ops@example.com", superPassword)
	for i := range 4 {
		if r := try("wrong password!"); r.status != 401 {
			t.Fatalf("failure %d after reset: %d %s", i+1, r.status, r.body)
		}
	}
	r := try("wrong password!")
	if r.status != http.StatusTooManyRequests || r.code(t) != adminapi.CodeLocked || r.header.Get("Retry-After") != "900" {
		t.Fatalf("5th failure: %d %s %v", r.status, r.body, r.header)
	}
	// Locked: even the right password is refused until the lock runs out.
	e.clock.Add(14 * time.Minute)
	if r := try(superPassword); r.status != http.StatusTooManyRequests || r.code(t) != adminapi.CodeLocked {
		t.Fatalf("right password while locked: %d %s", r.status, r.body)
	}
	e.clock.Add(time.Minute)
	e.login("ops@example.com", superPassword)
	if n := len(e.auditEntries(audit.Filter{AdminID: id, Action: "admin.lockout"})); n != 1 {
		t.Fatalf("%d lockout entries", n)
	}
}

func TestLoginRateLimitPerIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	api, err := adminapi.New(adminapi.Config{Admins: e.svc, Audit: e.db.Pool, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// The default limit (10/min, burst 10) is exercised through a second server.
	srv := newServer(t, api)
	e2 := *e
	e2.url = srv
	for i := range 10 {
		if r := e2.do("POST", "/admin/v1/auth/login", "", map[string]string{"email": "x@example.com", "password": "x"}); r.status != 401 {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	r := e2.do("POST", "/admin/v1/auth/login", "", map[string]string{"email": "x@example.com", "password": "x"})
	if r.status != 429 || r.code(t) != adminapi.CodeRateLimited || r.header.Get("Retry-After") == "" {
		t.Fatalf("11th attempt: %d %s", r.status, r.body)
	}
}

func TestChangePasswordAndResetTOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.newAdmin("ops@example.com", admin.RoleViewer)
	tok, other := e.login("ops@example.com", superPassword), e.login("ops@example.com", superPassword)
	const next = "a much better passphrase"
	change := func(cur, nw string) response {
		return e.do("POST", "/admin/v1/me/password", tok, map[string]string{"current_password": cur, "new_password": nw})
	}
	if r := change("not the password", next); r.status != 401 || r.code(t) != adminapi.CodeInvalidCredentials {
		t.Fatalf("wrong current: %d %s", r.status, r.body)
	}
	if r := change(superPassword, "short"); r.status != 422 {
		t.Fatalf("short new: %d %s", r.status, r.body)
	}
	if r := change(superPassword, next); r.status != 204 {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/admin/v1/me", tok, nil); r.status != 200 {
		t.Fatalf("this session after the change: %d", r.status)
	}
	if r := e.do("GET", "/admin/v1/me", other, nil); r.status != 401 {
		t.Fatalf("other session after the change: %d", r.status)
	}
	if r := e.do("POST", "/admin/v1/auth/login", "", map[string]string{"email": "ops@example.com", "password": superPassword}); r.status != 401 {
		t.Fatalf("old password: %d", r.status)
	}
	e.login("ops@example.com", next)

	// Enrol TOTP, then a manager resets it (lost phone): password alone works again.
	var enr adminapi.EnrolmentBody
	e.do("POST", "/admin/v1/me/totp", tok, nil).json(t, &enr)
	if r := e.do("POST", "/admin/v1/me/totp/confirm", tok, map[string]string{"code": totpCode(t, enr.Secret, e.clock.Now())}); r.status != 204 {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/admin/v1/admins/"+e.super.AdminID+"/totp", e.login(superEmail, superPassword), nil); r.status != 403 || r.code(t) != adminapi.CodeSelfChange {
		t.Fatalf("reset own totp: %d %s", r.status, r.body)
	}
	r := e.do("DELETE", "/admin/v1/admins/"+id+"/totp", e.login(superEmail, superPassword), nil)
	var out adminapi.AdminBody
	r.json(t, &out)
	if r.status != 200 || out.TOTPEnabled {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/admin/v1/me", tok, nil); r.status != 401 {
		t.Fatalf("session after totp reset: %d", r.status)
	}
	e.login("ops@example.com", next) // no challenge
	for _, action := range []string{"admin.password_change", "admin.totp_reset"} {
		if n := len(e.auditEntries(audit.Filter{TargetID: id, Action: action})); n != 1 {
			t.Errorf("%s: %d entries", action, n)
		}
	}
}
