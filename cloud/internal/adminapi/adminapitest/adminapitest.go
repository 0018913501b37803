// Package adminapitest runs the admin API on a fresh PostgreSQL database for the tests of the
// admin areas (fleet, zones, money, analytics, …): admins holding chosen permissions, a request
// helper, and a walk that proves each route's declared permission is enforced.
package adminapitest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
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

// Password is the password of every admin the Env creates.
const Password = "correct horse battery"

// Clock is a settable clock for the API and the admin service.
type Clock = apitest.Clock

// Env is an admin API served over HTTP on a fresh database.
type Env struct {
	T       testing.TB
	DB      *pgtest.DB
	Keyring *fieldcrypt.Keyring
	Admins  *admin.Service
	API     *adminapi.API
	URL     string
	Clock   *Clock
	Log     *slog.Logger
	// Super is the bootstrap super admin; SuperToken its session.
	Super      admin.Principal
	SuperToken string

	n atomic.Int64
}

// New starts the API on a fresh database (pgstoretest) with a bootstrap super admin. The clock
// starts at the real current time (sessions and audit timestamps look normal). Register the
// area's operations on e.API before or after: the server serves whatever is registered.
func New(t testing.TB) *Env {
	t.Helper()
	db := pgstoretest.New(t)
	kr, err := fieldcrypt.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{3}, fieldcrypt.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	clk := apitest.NewClock(time.Now().UTC().Truncate(time.Second))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := admin.New(admin.Config{Pool: db.Pool, Keyring: kr, Argon2: admin.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1},
		Now: clk.Now, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	api, err := adminapi.New(adminapi.Config{Admins: svc, Audit: db.Pool, Now: clk.Now, Log: log,
		LoginPerIP: loginguard.Rate{PerMinute: 100_000, Burst: 100_000}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(adminapi.Prefix+"/", api.Handler()) // as cloudsvc mounts it
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &Env{T: t, DB: db, Keyring: kr, Admins: svc, API: api, URL: srv.URL, Clock: clk, Log: log}
	const superEmail = "root@example.com"
	if created, err := svc.Bootstrap(t.Context(), superEmail, "Root", Password); err != nil || !created {
		t.Fatalf("adminapitest: bootstrap: %v %v", created, err)
	}
	e.SuperToken = e.Login(superEmail, Password)
	if e.Super, err = svc.Authenticate(t.Context(), e.SuperToken); err != nil {
		t.Fatal(err)
	}
	return e
}

// Response is an HTTP response read fully.
type Response = apitest.Response

// Do sends a request (body marshalled as JSON unless it is a string or []byte) with token as
// the bearer session ("" for none).
func (e *Env) Do(method, path, token string, body any) Response {
	e.T.Helper()
	return apitest.Do(e.T, e.URL, method, path, token, body, map[string]string{"User-Agent": "adminapitest/1"})
}

// DoHeaders is Do with extra request headers (e.g. Idempotency-Key).
func (e *Env) DoHeaders(method, path, token string, body any, headers map[string]string) Response {
	e.T.Helper()
	return apitest.Do(e.T, e.URL, method, path, token, body, headers)
}

// Login logs in with a password (no TOTP) and returns the session token.
func (e *Env) Login(email, password string) string {
	e.T.Helper()
	r := e.Do("POST", adminapi.Prefix+"/auth/login", "", map[string]string{"email": email, "password": password})
	var out adminapi.LoginBody
	if r.Status == 200 {
		r.JSON(e.T, &out)
	}
	if out.Status != "ok" || out.Session == nil {
		e.T.Fatalf("adminapitest: login %s: %d %s", email, r.Status, r.Body)
	}
	return out.Session.Token
}

// NewRole adds a role holding exactly perms.
func (e *Env) NewRole(name string, perms ...admin.Permission) {
	e.T.Helper()
	ctx := e.T.Context()
	err := pgx.BeginFunc(ctx, e.DB.Pool, func(tx pgx.Tx) error {
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
		e.T.Fatalf("adminapitest: role %s: %v", name, err)
	}
}

// NewAdmin creates an admin with the named roles and returns its id.
func (e *Env) NewAdmin(email string, roles ...string) string {
	e.T.Helper()
	if roles == nil {
		roles = []string{}
	}
	a, err := e.Admins.CreateAdmin(e.T.Context(), e.Super, admin.NewAdmin{Email: email, DisplayName: email, Password: Password, Roles: roles}, admin.Client{})
	if err != nil {
		e.T.Fatalf("adminapitest: create %s: %v", email, err)
	}
	return a.ID
}

// AdminWith creates an admin holding exactly perms (none: an admin without rights) and
// returns its email (password Password) and id.
func (e *Env) AdminWith(perms ...admin.Permission) (email, id string) {
	e.T.Helper()
	n := strconv.FormatInt(e.n.Add(1), 10)
	email = "admin" + n + "@example.com"
	if len(perms) == 0 {
		return email, e.NewAdmin(email)
	}
	e.NewRole("test_role_"+n, perms...)
	return email, e.NewAdmin(email, "test_role_"+n)
}

// TokenWith creates an admin holding exactly perms and returns a session token and its id.
func (e *Env) TokenWith(perms ...admin.Permission) (token, id string) {
	e.T.Helper()
	email, id := e.AdminWith(perms...)
	return e.Login(email, Password), id
}

// Audit lists audit entries matching f.
func (e *Env) Audit(f audit.Filter) []audit.Stored {
	e.T.Helper()
	p, err := audit.List(e.T.Context(), e.DB.Pool, f)
	if err != nil {
		e.T.Fatal(err)
	}
	return p.Records
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// CheckAccess walks routes (e.g. the area's, from e.API.Routes() after it registered) and
// proves each declared access: without a session 401; a session without the permission 403
// naming it; a session holding exactly the permission is neither 401 nor 403. params fills
// path parameters by name (default "00000000-0000-4000-8000-000000000000"); bodies are {}.
func CheckAccess(t *testing.T, e *Env, routes []adminapi.Route, params map[string]string) {
	t.Helper()
	// Fresh sessions for every request: a route under test may end its session (logout).
	nobody, _ := e.AdminWith()
	fill := func(p string) string {
		return pathParam.ReplaceAllStringFunc(p, func(m string) string {
			if v, ok := params[strings.Trim(m, "{}")]; ok {
				return v
			}
			return "00000000-0000-4000-8000-000000000000"
		})
	}
	body := func(method string) any {
		if method == "POST" || method == "PUT" || method == "PATCH" {
			return map[string]any{}
		}
		return nil
	}
	if len(routes) == 0 {
		t.Fatal("adminapitest: no routes to check")
	}
	for _, r := range routes {
		t.Run(r.OperationID, func(t *testing.T) {
			path := fill(r.Path)
			if r.Access.Public {
				return
			}
			if got := e.Do(r.Method, path, "", body(r.Method)); got.Status != 401 || got.Code() != adminapi.CodeUnauthorized {
				t.Errorf("no session: %d %s, want 401 unauthorized", got.Status, got.Body)
			}
			if r.Access.Permission == "" {
				if got := e.Do(r.Method, path, e.Login(nobody, Password), body(r.Method)); got.Status == 401 || got.Status == 403 {
					t.Errorf("authenticated-only route refused an admin without roles: %d %s", got.Status, got.Body)
				}
				return
			}
			perm := r.Access.Permission
			got := e.Do(r.Method, path, e.Login(nobody, Password), body(r.Method))
			if got.Status != 403 || got.Code() != adminapi.CodeForbidden || !strings.Contains(string(got.Body), string(perm)) {
				t.Errorf("no permissions: %d %s, want 403 naming %s", got.Status, got.Body, perm)
			}
			only, _ := e.TokenWith(perm)
			if got := e.Do(r.Method, path, only, body(r.Method)); got.Status == 401 || got.Status == 403 {
				t.Errorf("admin holding exactly %s: %d %s", perm, got.Status, got.Body)
			}
		})
	}
}

// CheckDocument proves the admin OpenAPI document (doc, as served) is precise enough to
// generate clients from: OpenAPI 3.1; every operation names its access in
// adminapi.PermissionExtension and documents 401/403 exactly when guarded; every error
// response is problem+json; every schema property has a type (or $ref), a description and is
// not nullable.
func CheckDocument(t *testing.T, raw []byte) {
	t.Helper()
	var doc struct {
		OpenAPI    string
		Paths      map[string]map[string]map[string]any
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	for path, item := range doc.Paths {
		for method, op := range item {
			access, _ := op[adminapi.PermissionExtension].(string)
			if access == "" {
				t.Errorf("%s %s: no %s", method, path, adminapi.PermissionExtension)
			}
			resp, _ := op["responses"].(map[string]any)
			if _, ok := resp["default"]; ok {
				t.Errorf("%s %s: undocumented default error response", method, path)
			}
			for _, st := range []string{"401", "403"} {
				if access == "public" && st == "401" {
					continue // login answers invalid_credentials
				}
				_, has := resp[st]
				want := access != "public" && (st == "401" || access != "authenticated")
				if has != want {
					t.Errorf("%s %s (%s): response %s documented = %v", method, path, access, st, has)
				}
			}
			for st, v := range resp {
				if st[0] == '4' || st[0] == '5' {
					content, _ := v.(map[string]any)["content"].(map[string]any)
					if _, ok := content["application/problem+json"]; !ok || len(content) != 1 {
						t.Errorf("%s %s: %s not documented as problem+json: %v", method, path, st, content)
					}
				}
			}
		}
	}
	for name, schema := range doc.Components.Schemas {
		if name == "ErrorModel" { // huma's own, not referenced by any operation
			continue
		}
		for prop, s := range schema.Properties {
			_, typed := s["type"]
			_, ref := s["$ref"]
			if d, _ := s["description"].(string); d == "" {
				t.Errorf("schema %s: property %s has no description", name, prop)
			}
			if ts, ok := s["type"].([]any); ok {
				t.Errorf("schema %s: property %s is nullable (%v): dashboards would have to check null", name, prop, ts)
			}
			if !typed && !ref && prop != "value" { // ErrorDetail.value: the offending input, any JSON
				t.Errorf("schema %s: property %s has no type", name, prop)
			}
		}
	}
}
