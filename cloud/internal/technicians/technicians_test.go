package technicians_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/cloud/internal/natsbus"
	"github.com/fleetedge/fleetedge/cloud/internal/technicians"
	"github.com/fleetedge/fleetedge/protocol/link"
)

const city = "bcn"

// env is the admin API with the technicians area on a fresh database, and a downlink on
// an embedded NATS that the test can switch off (getter returns nil) and on.
type env struct {
	*adminapitest.Env
	svc *technicians.Service
	bus *natsbus.Bus
	// busDir is the embedded NATS store (a restarted server reuses it).
	busDir string
	down   atomic.Pointer[downlink.Downlink]
	dlOn   atomic.Bool
	token  string
}

func openBus(t testing.TB, port int, dir string) *natsbus.Bus {
	t.Helper()
	b, err := natsbus.Open(t.Context(), natsbus.Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       natsbus.EmbeddedConfig{Host: "127.0.0.1", Port: port, StoreDir: dir},
		Stream:         natsbus.DefaultStreamConfig(),
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newEnv(t *testing.T, cfg technicians.Config) *env {
	t.Helper()
	e := &env{Env: adminapitest.New(t)}
	if _, err := e.DB.Pool.Exec(t.Context(), `INSERT INTO cities (code, name, currency) VALUES ($1, 'Barcelona', 'EUR'), ('mad', 'Madrid', 'EUR')`, city); err != nil {
		t.Fatal(err)
	}
	e.busDir = t.TempDir()
	e.bus = openBus(t, -1, e.busDir)
	t.Cleanup(func() { _ = e.bus.Close() })
	e.setBus(t, e.bus)
	e.dlOn.Store(true)
	hasher, err := account.NewHasher(account.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DB, cfg.Hasher, cfg.Log = e.DB.Pool, hasher, e.Log
	cfg.Downlink = func() technicians.Publisher {
		if d := e.down.Load(); d != nil && e.dlOn.Load() {
			return d
		}
		return nil
	}
	if e.svc, err = technicians.New(cfg); err != nil {
		t.Fatal(err)
	}
	e.svc.Register(e.API)
	e.token, _ = e.TokenWith(technicians.Permission)
	return e
}

// setBus makes a downlink on b the one the service publishes through.
func (e *env) setBus(t *testing.T, b *natsbus.Bus) {
	t.Helper()
	d, err := downlink.New(b.Conn(), b.JetStream(), downlink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e.down.Store(d)
}

// published reads the city's technicians document from its bucket.
func (e *env) published(t *testing.T) *link.TechniciansDoc {
	t.Helper()
	cur, err := e.down.Load().CurrentConfig(t.Context(), city, link.ConfigTechnicians)
	if err != nil {
		t.Fatal(err)
	}
	var d link.TechniciansDoc
	if err := json.Unmarshal(cur.Data, &d); err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("published document invalid: %v", err)
	}
	return &d
}

func usernames(d *link.TechniciansDoc) string {
	var u []string
	for _, t := range d.Technicians {
		u = append(u, t.Username)
	}
	return strings.Join(u, ",")
}

func (e *env) list(t *testing.T) technicians.TechnicianListBody {
	t.Helper()
	r := e.Do("GET", adminapi.Prefix+"/cities/"+city+"/technicians", e.token, nil)
	if r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	var out technicians.TechnicianListBody
	r.JSON(t, &out)
	return out
}

func routes(e *env) []adminapi.Route {
	var out []adminapi.Route
	for _, r := range e.API.Routes() {
		if strings.Contains(r.Path, "/technicians") {
			out = append(out, r)
		}
	}
	return out
}

// Every route requires vehicles.manage: 401 without a session, 403 naming the permission
// without it (also for vehicles.read and zones.write holders), allowed with exactly it.
func TestAccess(t *testing.T) {
	e := newEnv(t, technicians.Config{})
	rs := routes(e)
	if len(rs) != 7 {
		t.Fatalf("%d technicians routes: %+v", len(rs), rs)
	}
	adminapitest.CheckAccess(t, e.Env, rs, map[string]string{"city": city, "username": "ana"})
	for _, p := range []admin.Permission{admin.PermVehiclesRead, admin.PermZonesWrite, admin.PermAdminsManage} {
		tok, _ := e.TokenWith(p)
		if r := e.Do("POST", adminapi.Prefix+"/cities/"+city+"/technicians", tok,
			map[string]string{"username": "x1", "password": "a good long password"}); r.Status != 403 {
			t.Errorf("create with only %s: %d %s", p, r.Status, r.Body)
		}
	}
	if got := e.list(t); len(got.Technicians) != 0 {
		t.Fatalf("refused creates created: %+v", got)
	}
	// The area's part of the admin OpenAPI document is precise enough to generate clients.
	r := e.Do("GET", adminapi.Prefix+"/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	adminapitest.CheckDocument(t, r.Body)
	for _, want := range []string{`"/admin/v1/cities/{city}/technicians/{username}/disable"`, `"TechnicianBody"`, `"x-fleetedge-permission":"vehicles.manage"`} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("document lacks %s", want)
		}
	}
}

// The whole life of an account: each change is audited in its transaction, published to the
// city's bucket at once (only active technicians, argon2id hashes, never the password), and
// refused inputs change nothing.
func TestLifecycle(t *testing.T) {
	e := newEnv(t, technicians.Config{})
	tokAdmin, actorID := e.TokenWith(technicians.Permission)
	base := adminapi.Prefix + "/cities/" + city + "/technicians"
	const pw = "street-work 2026"
	r := e.Do("POST", base, tokAdmin, map[string]string{"username": "ana", "display_name": "Ana Ruiz", "password": pw})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var ana technicians.TechnicianBody
	r.JSON(t, &ana)
	if ana.Username != "ana" || ana.Status != "active" || ana.City != city || ana.DisplayName != "Ana Ruiz" || strings.Contains(string(r.Body), "argon2") {
		t.Fatalf("created %s", r.Body)
	}
	doc := e.published(t)
	if usernames(doc) != "ana" || doc.Technicians[0].Name != "Ana Ruiz" || !strings.HasPrefix(doc.Technicians[0].PasswordHash, "$argon2id$v=19$") {
		t.Fatalf("published %+v", doc)
	}
	raw, _ := json.Marshal(doc)
	if strings.Contains(string(raw), pw) {
		t.Fatal("the password itself was published")
	}
	if doc.Version < time.Now().Add(-time.Hour).UnixMilli() {
		t.Fatalf("version %d is not above local files' small versions", doc.Version)
	}
	firstHash, firstVersion := doc.Technicians[0].PasswordHash, doc.Version
	st := e.list(t)
	if len(st.Technicians) != 1 || st.Document.Pending || st.Document.Version != firstVersion || st.Document.PublishedVersion != firstVersion {
		t.Fatalf("list %+v", st)
	}

	for name, tc := range map[string]struct {
		path string
		body any
		code string
		st   int
	}{
		"duplicate":          {base, map[string]string{"username": "ana", "password": "another good password"}, technicians.CodeUsernameTaken, 409},
		"weak password":      {base, map[string]string{"username": "bo", "password": "1234567890"}, adminapi.CodeWeakPassword, 422},
		"username in pw":     {base, map[string]string{"username": "bobby", "password": "bobby's password"}, adminapi.CodeWeakPassword, 422},
		"bad username":       {base, map[string]string{"username": "Bo Bo", "password": "a good long password"}, adminapi.CodeInvalidRequest, 422},
		"control in name":    {base, map[string]string{"username": "bo", "display_name": "B\x00o", "password": "a good long password"}, adminapi.CodeInvalidRequest, 422},
		"unknown city":       {adminapi.Prefix + "/cities/nowhere/technicians", map[string]string{"username": "bo", "password": "a good long password"}, adminapi.CodeNotFound, 404},
		"unknown technician": {base + "/zed/password", map[string]string{"password": "a good long password"}, adminapi.CodeNotFound, 404},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.Do("POST", tc.path, tokAdmin, tc.body)
			if r.Status != tc.st || r.Code() != tc.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.st, tc.code)
			}
		})
	}
	if d := e.published(t); d.Version != firstVersion {
		t.Fatalf("refused changes published version %d", d.Version)
	}

	// The same username in another city is another technician.
	if r := e.Do("POST", adminapi.Prefix+"/cities/mad/technicians", tokAdmin, map[string]string{"username": "ana", "password": pw}); r.Status != 201 {
		t.Fatalf("ana in mad: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", base, tokAdmin, map[string]string{"username": "bo", "password": "bo's good password"}); r.Status != 201 {
		t.Fatalf("bo: %d %s", r.Status, r.Body)
	}
	if got := usernames(e.published(t)); got != "ana,bo" {
		t.Fatalf("published %s", got)
	}

	if r := e.Do("POST", base+"/ana/password", tokAdmin, map[string]string{"password": "a brand new password"}); r.Status != 200 {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	doc = e.published(t)
	if doc.Technicians[0].Username != "ana" || doc.Technicians[0].PasswordHash == firstHash || doc.Version <= firstVersion {
		t.Fatalf("after reset %+v", doc)
	}
	for range 2 { // idempotent: the second disable changes and records nothing
		r = e.Do("POST", base+"/ana/disable", tokAdmin, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"status":"disabled"`) {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
	}
	if got := usernames(e.published(t)); got != "bo" {
		t.Fatalf("after disable: %s", got)
	}
	if r := e.Do("POST", base+"/ana/enable", tokAdmin, nil); r.Status != 200 {
		t.Fatalf("enable: %d %s", r.Status, r.Body)
	}
	if got := usernames(e.published(t)); got != "ana,bo" {
		t.Fatalf("after enable: %s", got)
	}
	if r := e.Do("DELETE", base+"/bo", tokAdmin, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", base+"/bo", tokAdmin, nil); r.Status != 404 {
		t.Fatalf("get deleted: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", base+"/ana", tokAdmin, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"status":"active"`) {
		t.Fatalf("get ana: %d %s", r.Status, r.Body)
	}
	if got := usernames(e.published(t)); got != "ana" {
		t.Fatalf("after delete: %s", got)
	}

	entries := e.Audit(audit.Filter{Action: "technician.*"})
	var actions []string
	for i := len(entries) - 1; i >= 0; i-- {
		x := entries[i]
		if x.AdminID != actorID || x.TargetType != "technician" || x.TargetID == "" {
			t.Errorf("entry %+v", x)
		}
		actions = append(actions, x.Action)
	}
	want := "technician.create technician.create technician.create technician.password_reset technician.disable technician.enable technician.delete"
	if strings.Join(actions, " ") != want {
		t.Fatalf("audit %v\nwant %s", actions, want)
	}
	var details map[string]any
	if err := json.Unmarshal(entries[2].Details, &details); err != nil || details["username"] != "ana" || details["city"] != city {
		t.Fatalf("disable entry details %s", entries[2].Details)
	}
	if strings.Contains(string(entries[3].Details), "argon2") {
		t.Fatalf("a hash reached the audit log: %s", entries[3].Details)
	}
}

// Without a downlink (role api, NATS not up yet) changes are accepted and stay pending;
// the pusher publishes them once NATS is there, and a bucket that lost the document (a new
// NATS store) gets it again at the next full check.
func TestPendingUntilNATS(t *testing.T) {
	e := newEnv(t, technicians.Config{RetryInterval: 20 * time.Millisecond, FullCheck: 50 * time.Millisecond})
	e.dlOn.Store(false)
	base := adminapi.Prefix + "/cities/" + city + "/technicians"
	if r := e.Do("POST", base, e.token, map[string]string{"username": "ana", "password": "a good long password"}); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if st := e.list(t); !st.Document.Pending || st.Document.PublishedVersion != 0 {
		t.Fatalf("without NATS: %+v", st.Document)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); e.svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	e.dlOn.Store(true)
	waitFor(t, "published once NATS is up", func() bool { return !e.list(t).Document.Pending })
	if got := usernames(e.published(t)); got != "ana" {
		t.Fatalf("published %s", got)
	}
	// The bucket loses the document (the key purged): the full check publishes it again.
	kv, err := e.bus.JetStream().KeyValue(ctx, link.ConfigBucket(city))
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, link.ConfigTechnicians); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "republished after a purge", func() bool {
		_, err := e.down.Load().CurrentConfig(ctx, city, link.ConfigTechnicians)
		return err == nil
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A city holds at most link.MaxTechnicians active technicians: the document beyond would not
// validate, so the gateway could never get it. Creating or enabling one more is refused.
func TestLimit(t *testing.T) {
	e := newEnv(t, technicians.Config{})
	const phc = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	if _, err := e.DB.Pool.Exec(t.Context(), `INSERT INTO technicians (city_id, username, password_hash)
		SELECT (SELECT id FROM cities WHERE code = $1), 't' || i, $2 FROM generate_series(1, $3::int) i`, city, phc, link.MaxTechnicians); err != nil {
		t.Fatal(err)
	}
	base := adminapi.Prefix + "/cities/" + city + "/technicians"
	if r := e.Do("POST", base+"/t1/disable", e.token, nil); r.Status != 200 {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", base, e.token, map[string]string{"username": "one-more", "password": "a good long password"}); r.Status != 201 {
		t.Fatalf("create below the limit: %d %s", r.Status, r.Body)
	}
	if d := e.published(t); len(d.Technicians) != link.MaxTechnicians {
		t.Fatalf("published %d technicians", len(d.Technicians))
	}
	if r := e.Do("POST", base+"/t1/enable", e.token, nil); r.Status != 422 || r.Code() != adminapi.CodeInvalidRequest {
		t.Fatalf("enable beyond the limit: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", base, e.token, map[string]string{"username": "two-more", "password": "a good long password"}); r.Status != 422 {
		t.Fatalf("create beyond the limit: %d %s", r.Status, r.Body)
	}
}
