// Package riderapitest runs the rider API on a fresh PostgreSQL database for the tests of the
// rider areas (rides, payments): riders signed up over HTTP with their access tokens, and a
// request helper.
package riderapitest

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/accountpg"
	"github.com/fleetedge/fleetedge/cloud/internal/apitest"
	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/loginguard"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
	"github.com/fleetedge/fleetedge/shared/pgtest"
)

// Password is the password of every rider the Env signs up.
const Password = "correct horse battery"

// Env is a rider API served over HTTP on a fresh database.
type Env struct {
	T        testing.TB
	DB       *pgtest.DB
	Keyring  *fieldcrypt.Keyring
	Accounts *account.Service
	Tokens   *authtoken.Issuer
	API      *riderapi.API
	URL      string
	Log      *slog.Logger

	n atomic.Int64
}

// New starts the API on a fresh database (pgstoretest), with cheap argon2id parameters and
// rate limits high enough for tests. Register the area's operations on e.API.Huma().
func New(t testing.TB) *Env {
	t.Helper()
	db := pgstoretest.New(t)
	return NewOn(t, db)
}

// NewOn is New on an existing database (e.g. one the test shares with an admin API).
func NewOn(t testing.TB, db *pgtest.DB) *Env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
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
	iss, err := authtoken.NewIssuer(ks, authtoken.Config{Issuer: "fleetedge", Audience: "rider-api", AccessTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := account.NewService(account.Config{Store: accountpg.New(db.Pool), Hasher: h, Tokens: iss, Keyring: kr, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	loose := loginguard.Rate{PerMinute: 100_000, Burst: 100_000}
	guard := loginguard.DefaultPolicy()
	guard.LoginPerIP, guard.SignupPerIP, guard.RefreshPerIP, guard.LoginPerAccount = loose, loose, loose, loose
	api, err := riderapi.New(riderapi.Config{Accounts: svc, Tokens: authtoken.NewVerifyCache(iss, 10_000, nil), Guard: guard, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", api.Handler()) // as cloudsvc mounts it
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &Env{T: t, DB: db, Keyring: kr, Accounts: svc, Tokens: iss, API: api, URL: srv.URL, Log: log}
}

// Rider is a signed-up rider.
type Rider struct {
	ID, Email, Token string
}

// SignUp creates a rider over HTTP (a unique email when email is "") and returns its id and
// access token.
func (e *Env) SignUp(email string) Rider {
	e.T.Helper()
	if email == "" {
		email = "rider" + strconv.FormatInt(e.n.Add(1), 10) + "@example.com"
	}
	r := e.Do("POST", "/v1/auth/signup", "", map[string]any{"first_name": "Ana", "last_name": "García",
		"email": email, "password": Password}, nil)
	var out riderapi.TokenBody
	if r.Status == 200 || r.Status == 201 {
		r.JSON(e.T, &out)
	}
	if out.AccessToken == "" || out.Rider == nil {
		e.T.Fatalf("riderapitest: sign up %s: %d %s", email, r.Status, r.Body)
	}
	return Rider{ID: out.Rider.ID, Email: email, Token: out.AccessToken}
}

// Response is an HTTP response read fully.
type Response = apitest.Response

// Do sends a request (body marshalled as JSON unless it is a string or []byte) with token as
// the bearer access token ("" for none) and extra headers (e.g. Idempotency-Key).
func (e *Env) Do(method, path, token string, body any, headers map[string]string) Response {
	e.T.Helper()
	return apitest.Do(e.T, e.URL, method, path, token, body, headers)
}
