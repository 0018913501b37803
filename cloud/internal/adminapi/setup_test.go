package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/apitest"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/loginguard"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
	"github.com/fleetedge/fleetedge/shared/pgtest"
)

// clock is the tests' settable clock.
type clock = apitest.Clock

type env struct {
	t     *testing.T
	db    *pgtest.DB
	svc   *admin.Service
	api   *adminapi.API
	url   string
	clock *clock
	super admin.Principal // the bootstrap super admin
}

const superEmail, superPassword = "root@example.com", "correct horse battery"

type envOption func(*admin.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	db := pgstoretest.New(t)
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	kr, err := fieldcrypt.NewKeyring("k1", map[string][]byte{"k1": key})
	if err != nil {
		t.Fatal(err)
	}
	clk := apitest.NewClock(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := admin.Config{Pool: db.Pool, Keyring: kr, Argon2: admin.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}, Now: clk.Now, Log: log}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := admin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	api, err := adminapi.New(adminapi.Config{Admins: svc, Audit: db.Pool, Now: clk.Now, Log: log,
		LoginPerIP: loginguard.Rate{PerMinute: 10_000, Burst: 10_000}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, svc: svc, api: api, url: newServer(t, api), clock: clk}
	if created, err := svc.Bootstrap(t.Context(), superEmail, "Root", superPassword); err != nil || !created {
		t.Fatalf("bootstrap: %v %v", created, err)
	}
	e.super = e.principal(e.login(superEmail, superPassword))
	return e
}

// newServer serves api as cloudsvc mounts it and returns the base URL.
func newServer(t *testing.T, api *adminapi.API) string {
	mux := http.NewServeMux()
	mux.Handle(adminapi.Prefix+"/", api.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) code(t *testing.T) string {
	t.Helper()
	var p struct{ Code string }
	if err := json.Unmarshal(r.body, &p); err != nil {
		return ""
	}
	return p.Code
}

func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", "admin-test/1")
	req.Header.Set("X-Request-Id", "req-"+strings.ReplaceAll(path, "/", "_"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // read fully below
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// login logs in with a password (no TOTP) and returns the session token.
func (e *env) login(email, password string) string {
	e.t.Helper()
	r := e.do("POST", "/admin/v1/auth/login", "", map[string]string{"email": email, "password": password})
	if r.status != 200 {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	var out adminapi.LoginBody
	r.json(e.t, &out)
	if out.Status != "ok" || out.Session == nil {
		e.t.Fatalf("login %s: %s", email, r.body)
	}
	return out.Session.Token
}

func (e *env) principal(token string) admin.Principal {
	e.t.Helper()
	p, err := e.svc.Authenticate(e.t.Context(), token)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// newAdmin creates an admin with roles (as the bootstrap super admin) and returns its id.
func (e *env) newAdmin(email string, roles ...string) string {
	e.t.Helper()
	if roles == nil {
		roles = []string{}
	}
	a, err := e.svc.CreateAdmin(e.t.Context(), e.super, admin.NewAdmin{Email: email, DisplayName: email, Password: superPassword, Roles: roles}, admin.Client{})
	if err != nil {
		e.t.Fatalf("create %s: %v", email, err)
	}
	return a.ID
}

// newRole adds a role holding exactly perms (roles are seeded by migrations; tests add their own).
func (e *env) newRole(name string, perms ...admin.Permission) {
	e.t.Helper()
	ctx := e.t.Context()
	err := pgx.BeginFunc(ctx, e.db.Pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO roles (name) VALUES ($1) RETURNING id`, name).Scan(&id); err != nil {
			return err
		}
		for _, p := range perms {
			if _, err := tx.Exec(ctx, `INSERT INTO role_permissions (role_id, permission_code) VALUES ($1, $2)`, id, string(p)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) auditEntries(f audit.Filter) []audit.Stored {
	e.t.Helper()
	p, err := audit.List(context.WithoutCancel(e.t.Context()), e.db.Pool, f)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Records
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := admin.TOTPCodeAt(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
