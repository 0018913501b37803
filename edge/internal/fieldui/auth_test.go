package fieldui

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// cheap argon2id costs for test hashes (verification reads them from the hash).
var testArgon = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type eventLog struct {
	mu  sync.Mutex
	evs []link.Event
}

func (l *eventLog) Emit(ev link.Event) { l.mu.Lock(); l.evs = append(l.evs, ev); l.mu.Unlock() }

func (l *eventLog) reasons() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		if e.Kind == link.EventSecurity {
			out = append(out, e.Security.Reason+"/"+e.Security.ClientID+"/"+e.Vehicle)
		}
	}
	return out
}

type fixture struct {
	srv    *Server
	ts     *httptest.Server
	clock  *testClock
	events *eventLog
	acc    *Accounts
	fleet  *fleet.Fleet
}

func hash(t testing.TB, pw string) string {
	t.Helper()
	h, err := HashPassword(pw, testArgon)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	clock := &testClock{now: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	acc, err := NewAccounts("admin", hash(t, "break-glass-pw"))
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Apply(&AccountsDoc{V: 1, Accounts: []AccountEntry{
		{Username: "ana", Name: "Ana", PasswordHash: hash(t, "ana-secret")},
		{Username: "bo", PasswordHash: hash(t, "bo-secret")},
	}}); err != nil {
		t.Fatal(err)
	}
	fl := fleet.New(fleet.Options{})
	fl.Register(clock.Now(), "V1", "V2")
	cmds, err := command.New(command.Config{Publisher: failPublisher{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmds.Close() })
	ev := &eventLog{}
	srv, err := New(cfg, Deps{Fleet: fl, Commands: cmds, Events: ev, Accounts: acc, History: NewHistory(10, 100),
		City: "test", GatewayID: "gw-1", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Routes(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	return &fixture{srv: srv, ts: ts, clock: clock, events: ev, acc: acc, fleet: fl}
}

type failPublisher struct{}

func (failPublisher) Publish(string, []byte, byte) error { return errors.New("no broker in this test") }

type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func (f *fixture) client(t *testing.T) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: f.ts.URL, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (c *client) do(method, path, body string, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) login(user, pw string) (*http.Response, string) {
	c.t.Helper()
	b, _ := json.Marshal(loginBody{Username: user, Password: pw})
	resp, body := c.do("POST", "/ui/api/login", string(b), nil)
	if resp.StatusCode == http.StatusOK {
		var s sessionBody
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			c.t.Fatal(err)
		}
		c.csrf = s.CSRF
	}
	return resp, body
}

func (c *client) mustLogin(user, pw string) {
	c.t.Helper()
	if resp, body := c.login(user, pw); resp.StatusCode != http.StatusOK {
		c.t.Fatalf("login %s: %d %s", user, resp.StatusCode, body)
	}
}

func TestAuthRequired(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.client(t)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/ui/api/session", ""},
		{"GET", "/ui/api/zones", ""},
		{"GET", "/ui/api/vehicles", ""},
		{"GET", "/ui/api/vehicles/V1", ""},
		{"GET", "/ui/api/live", ""},
		{"POST", "/ui/api/vehicles/V1/commands", `{"action":"beep"}`},
		{"POST", "/ui/api/logout", ""},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			resp, _ := c.do(tc.method, tc.path, tc.body, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("no cookie: status %d, want 401", resp.StatusCode)
			}
			resp, _ = c.do(tc.method, tc.path, tc.body, map[string]string{"Cookie": cookieName + "=forged-session-id"})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("forged cookie: status %d, want 401", resp.StatusCode)
			}
		})
	}
	// The page itself and its assets are public (the login form is in them).
	for _, p := range []string{"/ui/", "/ui/static/app.js", "/ui/static/map.js", "/ui/static/app.css"} {
		resp, _ := c.do("GET", p, "", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("%s: %d, CSP %q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
}

func TestLoginCookieAndCSRF(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.client(t)
	if resp, _ := c.login("ana", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if resp, b := c.login("nobody", "ana-secret"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(b, "wrong username or password") {
		t.Fatalf("unknown user: %d %s", resp.StatusCode, b)
	}
	if resp, _ := c.login("Ana's Secret Pw!", "x"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("password typed as username: %d", resp.StatusCode)
	}
	if got := strings.Join(f.events.reasons(), " "); strings.Contains(got, "Secret") || !strings.Contains(got, "(not a username)") {
		t.Fatalf("a password-like username reached the audit: %s", got)
	}
	resp, _ := c.login("ana", "ana-secret")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == cookieName {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || len(ck.Value) < 43 {
		t.Fatalf("session cookie on plain HTTP: %+v", ck)
	}
	if resp, _ := c.do("GET", "/ui/api/session", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("session: %d", resp.StatusCode)
	}
	for name, hdr := range map[string]map[string]string{
		"no token":    nil,
		"wrong token": {CSRFHeader: "x" + c.csrf[1:]},
		"empty token": {CSRFHeader: ""},
	} {
		t.Run(name, func(t *testing.T) {
			if resp, _ := c.do("POST", "/ui/api/vehicles/V1/commands", `{"action":"beep"}`, hdr); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("command: %d, want 403", resp.StatusCode)
			}
			if resp, _ := c.do("POST", "/ui/api/logout", "", hdr); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("logout: %d, want 403", resp.StatusCode)
			}
		})
	}
	// Another session's token does not work either.
	other := f.client(t)
	other.mustLogin("bo", "bo-secret")
	if resp, _ := c.do("POST", "/ui/api/logout", "", map[string]string{CSRFHeader: other.csrf}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout with another session's token: %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/ui/api/logout", "", map[string]string{CSRFHeader: c.csrf}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/ui/api/session", "", map[string]string{"Cookie": cookieName + "=" + ck.Value}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session after logout: %d", resp.StatusCode)
	}
	got := strings.Join(f.events.reasons(), " ")
	for _, want := range []string{"fieldui:login_failed/ana/gateway:gw-1", "fieldui:login/ana/gateway:gw-1",
		"fieldui:csrf_rejected/ana/gateway:gw-1", "fieldui:logout/ana/gateway:gw-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit events %q lack %q", got, want)
		}
	}
}

func TestSecureCookies(t *testing.T) {
	f := newFixture(t, Config{SecureCookies: true})
	c := f.client(t)
	b, _ := json.Marshal(loginBody{Username: "ana", Password: "ana-secret"})
	resp, _ := c.do("POST", "/ui/api/login", string(b), nil)
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == secureCookieName {
			ck = k
		}
	}
	if ck == nil || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie: %+v", resp.Cookies())
	}
}

func TestLoginRefusesCrossSite(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.client(t)
	body := `{"username":"ana","password":"ana-secret"}`
	for name, tc := range map[string]struct {
		hdr  map[string]string
		want int
	}{
		"foreign origin":     {map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		"cross-site fetch":   {map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		"form content type":  {map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		"same origin passes": {map[string]string{"Origin": f.ts.URL, "Sec-Fetch-Site": "same-origin"}, http.StatusOK},
	} {
		t.Run(name, func(t *testing.T) {
			if resp, b := c.do("POST", "/ui/api/login", body, tc.hdr); resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.want)
			}
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, Config{SessionIdle: 10 * time.Minute, SessionMaxAge: 30 * time.Minute})
	c := f.client(t)
	c.mustLogin("ana", "ana-secret")
	ok := func(want int) {
		t.Helper()
		if resp, _ := c.do("GET", "/ui/api/session", "", nil); resp.StatusCode != want {
			t.Fatalf("at +%v: status %d, want %d", f.clock.Now().Sub(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)), resp.StatusCode, want)
		}
	}
	// Used every 9 minutes it stays alive until the absolute limit.
	for i := 0; i < 3; i++ {
		f.clock.Add(9 * time.Minute)
		ok(http.StatusOK)
	}
	f.clock.Add(3 * time.Minute) // 30 min after login
	ok(http.StatusUnauthorized)

	c.mustLogin("ana", "ana-secret")
	f.clock.Add(10 * time.Minute) // idle
	ok(http.StatusUnauthorized)
}

func TestDisabledAccountEndsSession(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.client(t)
	c.mustLogin("bo", "bo-secret")
	if err := f.acc.Apply(&AccountsDoc{V: 1, Accounts: []AccountEntry{{Username: "bo", PasswordHash: hash(t, "bo-secret"), Disabled: true}}}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := c.do("GET", "/ui/api/session", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("disabled account's session: %d", resp.StatusCode)
	}
	if resp, _ := c.login("bo", "bo-secret"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("disabled login: %d", resp.StatusCode)
	}
	// The break-glass account survives any pushed document.
	c.mustLogin("admin", "break-glass-pw")
	if got := strings.Join(f.events.reasons(), " "); !strings.Contains(got, "fieldui:login_break_glass/admin") {
		t.Errorf("break-glass login not audited: %s", got)
	}
}

func TestLoginRateLimit(t *testing.T) {
	t.Run("per user", func(t *testing.T) {
		f := newFixture(t, Config{LoginFailuresPerUser: 3, LoginAttemptsPerMinute: 100})
		c := f.client(t)
		for i := 0; i < 3; i++ {
			if resp, _ := c.login("ana", "guess"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d", i, resp.StatusCode)
			}
		}
		resp, _ := c.login("ana", "ana-secret") // right password, but locked
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("locked account: %d retry-after %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		c.mustLogin("bo", "bo-secret") // other users are not affected
		f.clock.Add(15 * time.Minute)
		c.mustLogin("ana", "ana-secret")
	})
	t.Run("per address", func(t *testing.T) {
		f := newFixture(t, Config{LoginAttemptsPerMinute: 4, LoginFailuresPerUser: 100})
		c := f.client(t)
		for i := 0; i < 4; i++ {
			c.login("bo", "guess")
		}
		if resp, _ := c.login("ana", "ana-secret"); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("5th attempt from one address: %d", resp.StatusCode)
		}
		f.clock.Add(time.Minute)
		c.mustLogin("ana", "ana-secret")
	})
}

func TestCommandValidates(t *testing.T) {
	f := newFixture(t, Config{})
	c := f.client(t)
	c.mustLogin("ana", "ana-secret")
	h := map[string]string{CSRFHeader: c.csrf}
	for _, tc := range []struct {
		name, path, body string
		want             int
	}{
		{"unknown action", "/ui/api/vehicles/V1/commands", `{"action":"self_destruct"}`, 400},
		{"raw protocol code", "/ui/api/vehicles/V1/commands", `{"action":"beep","code":3}`, 400},
		{"not json", "/ui/api/vehicles/V1/commands", `beep`, 400},
		{"empty body", "/ui/api/vehicles/V1/commands", ``, 400},
		{"bad vehicle number", "/ui/api/vehicles/bike/commands", `{"action":"beep"}`, 400},
		{"too long vehicle number", "/ui/api/vehicles/" + strings.Repeat("A", 33) + "/commands", `{"action":"beep"}`, 400},
		{"unknown vehicle", "/ui/api/vehicles/NOPE/commands", `{"action":"beep"}`, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp, b := c.do("POST", tc.path, tc.body, h); resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.want)
			}
		})
	}
	// An offline vehicle: the command is accepted, audited and expires unsent
	// once the technician stopped waiting.
	resp, b := c.do("POST", "/ui/api/vehicles/V1/commands", `{"action":"query_gps"}`, h)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		t.Fatalf("offline vehicle: %d %s", resp.StatusCode, b)
	}
	if got := strings.Join(f.events.reasons(), " "); !strings.Contains(got, "fieldui:command/ana/V1") {
		t.Errorf("command not audited: %s", got)
	}
}

func TestAccountsDoc(t *testing.T) {
	good := hash(t, "pw")
	for _, tc := range []struct {
		name, doc string
	}{
		{"wrong version", `{"v":2,"accounts":[]}`},
		{"bad username", `{"v":1,"accounts":[{"username":"Ana Smith","password_hash":"` + good + `"}]}`},
		{"duplicate", `{"v":1,"accounts":[{"username":"a","password_hash":"` + good + `"},{"username":"a","password_hash":"` + good + `"}]}`},
		{"plain password", `{"v":1,"accounts":[{"username":"a","password_hash":"hunter2"}]}`},
		{"bcrypt hash", `{"v":1,"accounts":[{"username":"a","password_hash":"$2a$10$abcdefghijklmnopqrstuv"}]}`},
		{"absurd cost", `{"v":1,"accounts":[{"username":"a","password_hash":"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5"}]}`},
		{"unknown field", `{"v":1,"accounts":[],"admins":[]}`},
		{"not json", `{`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseAccounts([]byte(tc.doc)); !errors.Is(err, ErrAccounts) {
				t.Fatalf("err %v, want ErrAccounts", err)
			}
		})
	}
	doc, err := ParseAccounts([]byte(`{"v":1,"accounts":[{"username":"ana","password_hash":"` + good + `"}]}`))
	if err != nil || len(doc.Accounts) != 1 {
		t.Fatalf("good doc: %v", err)
	}
}

func TestClassify(t *testing.T) {
	f := newFixture(t, Config{LowBatteryPct: 20})
	now := f.clock.Now()
	base := fleet.Vehicle{ID: "V1", State: fleet.StateOnline, Known: fleet.FieldBattery | fleet.FieldPower | fleet.FieldPosture | fleet.FieldError, BatteryPct: 80}
	for _, tc := range []struct {
		name    string
		mod     func(v *fleet.Vehicle)
		cat     string
		reasons string
	}{
		{"available", func(v *fleet.Vehicle) {}, CatAvailable, ""},
		{"on ride", func(v *fleet.Vehicle) { v.Powered = true }, CatOnRide, ""},
		{"low battery", func(v *fleet.Vehicle) { v.BatteryPct = 19 }, CatLowBattery, "low_battery"},
		{"fallen", func(v *fleet.Vehicle) { v.Powered, v.Fallen = true, true }, CatFallen, "fallen"},
		{"error in words", func(v *fleet.Vehicle) { v.ErrorCode = 8 }, CatError, "error"},
		{"vibration", func(v *fleet.Vehicle) { v.LastVibration = now.Add(-time.Minute) }, CatAvailable, "vibration"},
		{"old vibration", func(v *fleet.Vehicle) { v.LastVibration = now.Add(-time.Hour) }, CatAvailable, ""},
		{"lost beats all", func(v *fleet.Vehicle) { v.State, v.Fallen, v.Powered, v.BatteryPct = fleet.StateLost, true, true, 5 }, CatLost, "lost,fallen,low_battery"},
		{"offline", func(v *fleet.Vehicle) { v.State = fleet.StateOffline }, CatOffline, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := base
			tc.mod(&v)
			m := f.srv.classify(&v, now)
			if m.Cat != tc.cat || strings.Join(m.Attention, ",") != tc.reasons {
				t.Fatalf("got %s [%s], want %s [%s]", m.Cat, strings.Join(m.Attention, ","), tc.cat, tc.reasons)
			}
			if tc.name == "error in words" && m.ErrorText == "" {
				t.Fatal("no error text")
			}
		})
	}
}

func TestActionsAreValidCommands(t *testing.T) {
	want := map[string]protocol.Code{"beep": 28, "lights_on": 37, "lights_off": 37, "battery_unlock": 60, "battery_lock": 62,
		"chain_unlock": 71, "motor_lock": 107, "motor_unlock": 105, "query_params": 15, "query_gps": 18,
		"query_version": 21, "query_signal": 97, "reboot": 20}
	if len(actions) != len(want) {
		t.Fatalf("%d actions, want %d", len(actions), len(want))
	}
	for _, a := range actions {
		cmd := a.build()
		if cmd.Code() != want[a.name] {
			t.Errorf("%s: code %d, want %d", a.name, cmd.Code(), want[a.name])
		}
		if _, err := protocol.EncodeCommand("V1", cmd); err != nil {
			t.Errorf("%s: %v", a.name, err)
		}
	}
}

func TestLiveStreamEndsWithSession(t *testing.T) {
	f := newFixture(t, Config{})
	f.srv.keepAlive = 20 * time.Millisecond
	c := f.client(t)
	c.mustLogin("ana", "ana-secret")
	req, _ := http.NewRequest("GET", f.ts.URL+"/ui/api/live", nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("live: %d", resp.StatusCode)
	}
	if r, _ := c.do("POST", "/ui/api/logout", "", map[string]string{CSRFHeader: c.csrf}); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	select {
	case <-done: // the server ended the stream
	case <-time.After(5 * time.Second):
		t.Fatal("event stream still open after logout")
	}
}
