package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/edge/internal/cloudlink"
	"github.com/fleetedge/fleetedge/edge/internal/fieldui"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// techClient is a browser-like client of the field UI (cookie jar).
type techClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newTechClient(t *testing.T, g *Gateway) *techClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &techClient{t: t, base: "http://" + g.Addrs().HTTP, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (c *techClient) login(user, pw string) int {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	res, err := c.hc.Post(c.base+"/ui/api/login", "application/json", strings.NewReader(string(b)))
	if err != nil {
		c.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func (c *techClient) session() int {
	c.t.Helper()
	res, err := c.hc.Get(c.base + "/ui/api/session")
	if err != nil {
		c.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestTechniciansFromCloud: the technicians' document put in the city's KV
// bucket (as the cloud's downlink does) is stored and applied: its
// technicians log in to the field UI; a technician left out of the next
// version loses their session and cannot log in; with the cloud gone, and
// after a restart while it is unreachable, the others still log in from the
// stored copy, and the break-glass account from config works throughout.
func TestTechniciansFromCloud(t *testing.T) {
	srv, err := server.NewServer(&server.Options{ServerName: "gw-technicians-test", Host: "127.0.0.1", Port: -1,
		JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	cheap := fieldui.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	hash := func(pw string) string {
		h, err := fieldui.HashPassword(pw, cheap)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Cloud.NATSURL = srv.ClientURL()
	cfg.UI.BreakGlassUser, cfg.UI.BreakGlassHash = "rescue", hash("rescue-pw")
	r := start(t, cfg)

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: link.ConfigBucket(link.CityID(cfg.City)), History: 5})
	if err != nil {
		t.Fatal(err)
	}
	put := func(version int64, ts ...link.Technician) {
		t.Helper()
		b, err := json.Marshal(link.TechniciansDoc{V: link.Version, City: link.CityID(cfg.City), Version: version,
			Updated: time.Now().UTC(), Technicians: ts})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(t.Context(), link.ConfigTechnicians, b); err != nil {
			t.Fatal(err)
		}
	}
	carla := link.Technician{Username: "carla", Name: "Carla", PasswordHash: hash("carla-pw")}
	dan := link.Technician{Username: "dan", PasswordHash: hash("dan-pw")}
	put(1, carla, dan)

	cc, dc := newTechClient(t, r.g), newTechClient(t, r.g)
	waitFor(t, "carla's login", func() bool { return cc.login("carla", "carla-pw") == http.StatusOK })
	if code := dc.login("dan", "dan-pw"); code != http.StatusOK {
		t.Fatalf("dan: %d", code)
	}
	if code := cc.login("carla", "dan-pw"); code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", code)
	}
	stored, err := r.g.config.Get(fieldui.DocAccounts)
	if err != nil || stored.Version != 1 || !strings.Contains(string(stored.Data), `"technicians"`) {
		t.Fatalf("stored copy %+v %v", stored, err)
	}

	// carla disabled in the cloud: left out of version 2.
	if code := cc.session(); code != http.StatusOK {
		t.Fatalf("carla's session before: %d", code)
	}
	put(2, dan)
	waitFor(t, "carla's session ended", func() bool { return cc.session() == http.StatusUnauthorized })
	if code := cc.login("carla", "carla-pw"); code != http.StatusUnauthorized {
		t.Fatalf("carla logs in after being disabled: %d", code)
	}
	if code := dc.session(); code != http.StatusOK {
		t.Fatalf("dan's session after carla's removal: %d", code)
	}

	// The cloud goes away: logins go on.
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()
	if code := newTechClient(t, r.g).login("dan", "dan-pw"); code != http.StatusOK {
		t.Fatalf("dan with the cloud down: %d", code)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	// Restart while the cloud is unreachable: the stored version 2 is in force.
	r = start(t, cfg)
	if code := newTechClient(t, r.g).login("dan", "dan-pw"); code != http.StatusOK {
		t.Fatalf("dan after a restart without the cloud: %d", code)
	}
	if code := newTechClient(t, r.g).login("carla", "carla-pw"); code != http.StatusUnauthorized {
		t.Fatalf("carla after the restart: %d", code)
	}
	if code := newTechClient(t, r.g).login("rescue", "rescue-pw"); code != http.StatusOK {
		t.Fatalf("break-glass: %d", code)
	}
	if doc, err := r.g.config.Get(fieldui.DocAccounts); err != nil || doc.Version != 2 {
		t.Fatalf("stored after restart: %+v %v", doc, err)
	}
}

// A document the field UI refuses (a hash beyond the gateway's cost bounds)
// is neither stored nor applied: the accounts in force stay.
func TestTechniciansRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	r := start(t, cfg)
	huge := "$argon2id$v=19$m=262145,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	doc := &link.TechniciansDoc{V: link.Version, City: link.CityID(cfg.City), Version: 1,
		Technicians: []link.Technician{{Username: "eve", PasswordHash: huge}}}
	if err := doc.Validate(); err == nil {
		t.Fatal("link accepts a hash beyond 256 MiB")
	}
	// Bypassing the link's check, the gateway's own parse refuses it too.
	if _, err := r.g.PrepareConfig(technicianUpdate(doc)); err == nil {
		t.Fatal("gateway accepted a hash beyond its bounds")
	}
	if r.g.accounts.Len() != 0 {
		t.Fatalf("accounts changed: %d", r.g.accounts.Len())
	}
}

func technicianUpdate(d *link.TechniciansDoc) cloudlink.Update {
	return cloudlink.Update{Kind: link.ConfigTechnicians, Version: d.Version, Technicians: d}
}
