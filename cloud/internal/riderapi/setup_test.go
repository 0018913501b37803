package riderapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/accountpg"
	"github.com/fleetedge/fleetedge/cloud/internal/apitest"
	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/loginguard"
	"github.com/fleetedge/fleetedge/cloud/internal/oidctest"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
	"github.com/fleetedge/fleetedge/shared/pgtest"
	"github.com/prometheus/client_golang/prometheus"
)

// clock is the tests' settable clock.
type clock = apitest.Clock

// logBuffer collects every log line of the API and the account service.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type env struct {
	t      *testing.T
	db     *pgtest.DB
	srv    *httptest.Server
	url    string
	clock  *clock
	logs   *logBuffer
	idp    *oidctest.Provider
	policy loginguard.Policy
	reg    *prometheus.Registry
	api    *riderapi.API
}

// with returns a copy of e reporting to t (for subtests).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

type option func(*env, *riderapi.Config)

func withPolicy(p loginguard.Policy) option {
	return func(_ *env, c *riderapi.Config) { c.Guard = p }
}

func withTrustedProxy(prefix string) option {
	return func(_ *env, c *riderapi.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(prefix)} }
}

func newEnv(t *testing.T, opts ...option) *env {
	t.Helper()
	e := &env{t: t, db: pgstoretest.New(t), clock: apitest.NewClock(time.Now().UTC().Truncate(time.Second)), logs: &logBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var handler http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.url = e.srv.URL

	idp, err := oidctest.Start(oidctest.Config{ClientID: "fleetedge-rider", ClientSecret: "s3cret-client",
		RedirectURIs: []string{e.url + "/v1/auth/oidc/test/callback"}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	e.idp = idp

	kr, err := fieldcrypt.NewKeyring("p1", map[string][]byte{"p1": bytes.Repeat([]byte{7}, fieldcrypt.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := account.NewHasher(account.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 4)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := authtoken.NewKeyset("k1", map[string][]byte{"k1": bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := authtoken.NewIssuer(ks, authtoken.Config{Issuer: "fleetedge", Audience: "rider-api", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := account.NewService(account.Config{Store: accountpg.New(e.db.Pool), Hasher: h, Tokens: iss, Keyring: kr,
		Now: e.clock.Now, Log: log.With("component", "account")})
	if err != nil {
		t.Fatal(err)
	}
	login, err := rideroidc.New(rideroidc.Config{
		Providers: []rideroidc.ProviderConfig{{Name: "test", Issuer: idp.Issuer(), ClientID: "fleetedge-rider",
			ClientSecret: "s3cret-client", RedirectURL: e.url + "/v1/auth/oidc/test/callback"}},
		StateKey: bytes.Repeat([]byte("k"), 32), InsecureCookie: true, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.reg = prometheus.NewRegistry()
	cfg := riderapi.Config{Accounts: svc, Tokens: iss, OIDC: login, Guard: loginguard.DefaultPolicy(),
		Metrics: e.reg, Now: e.clock.Now, Log: log.With("component", "riderapi")}
	for _, o := range opts {
		o(e, &cfg)
	}
	e.policy = cfg.Guard
	api, err := riderapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.api = api
	mux := http.NewServeMux()
	mux.Handle("/v1/", api.Handler()) // as cloudsvc mounts it
	handler = mux
	return e
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r response) str(k string) string {
	s, _ := r.body[k].(string)
	return s
}

type req struct {
	method, path string
	body         any
	token        string
	header       map[string]string
}

func (e *env) do(r req) response {
	e.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequestWithContext(context.Background(), r.method, e.url+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 && strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Fatalf("%s %s: body %q: %v", r.method, r.path, raw, err)
		}
	}
	return out
}

// expectProblem checks a problem+json response with status and code.
func expectProblem(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("code") != code {
		t.Fatalf("got %d %s, want %d %s: %s", r.status, r.str("code"), status, code, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q", ct)
	}
	if r.str("type") != riderapi.ProblemTypePrefix+code {
		t.Fatalf("type %q", r.str("type"))
	}
	if int(r.body["status"].(float64)) != status {
		t.Fatalf("status field %v", r.body["status"])
	}
}

func signupBody(email string) map[string]any {
	return map[string]any{"first_name": "Ana", "last_name": "García", "email": email, "password": "correct horse battery", "phone": "+34 600 111 222"}
}

// browser is an http.Client with a cookie jar that does not follow redirects, so the test
// walks the OIDC redirect chain itself.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
