package cloudlink

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetedge/fleetedge/edge/internal/configstore"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// handlerFunc lets a test stand in for command.Manager.HandleRequest.
type handlerFunc func(ctx context.Context, req link.CommandRequest) link.CommandResult

func (f handlerFunc) HandleRequest(ctx context.Context, req link.CommandRequest) link.CommandResult {
	return f(ctx, req)
}

func validRequest(id string) link.CommandRequest {
	return link.CommandRequest{V: link.Version, ID: id, Vehicle: "861123456789012", Code: 1, Source: "admin:7", TimeoutMs: 3000}
}

func TestCommandRequests(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	var calls atomic.Int32
	var deadlineLeft atomic.Int64
	h := handlerFunc(func(ctx context.Context, req link.CommandRequest) link.CommandResult {
		calls.Add(1)
		if d, ok := ctx.Deadline(); ok {
			deadlineLeft.Store(int64(time.Until(d)))
		}
		st := 0
		return link.CommandResult{V: link.Version, ID: req.ID, Vehicle: req.Vehicle, Code: req.Code, Source: req.Source,
			Outcome: link.OutcomeAcked, ReplyCode: 2, Status: &st, Reply: json.RawMessage(`{"a":2,"s":0}`), Attempts: 1}
	})
	l := runLink(t, Config{Conn: dialGateway(t, srv.ClientURL()), Commands: h, Store: openStore(t, t.TempDir()), Applier: &applier{}})
	waitSubscribed(t, srv)
	c := newCloud(t, srv.ClientURL())

	res, err := c.request(validRequest("cmd-1"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != link.OutcomeAcked || res.ID != "cmd-1" || res.ReplyCode != 2 || string(res.Reply) != `{"a":2,"s":0}` {
		t.Errorf("result %+v", res)
	}
	// timeout_ms 3000 + ReplyGrace 1 s bounds the wait.
	if left := time.Duration(deadlineLeft.Load()); left < 3500*time.Millisecond || left > 4*time.Second {
		t.Errorf("handler deadline %v ahead, want ~4s", left)
	}

	bad := func(mut func(r *link.CommandRequest)) []byte {
		r := validRequest("bad-1")
		mut(&r)
		b, _ := json.Marshal(r)
		return b
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		wantID string
		want   string
	}{
		{"not json", []byte(`{"v":1,"id":`), "", "malformed"},
		{"wrong type", []byte(`{"v":1,"id":"x","vehicle":"A1","code":"one"}`), "x", "malformed"},
		{"binary", []byte{0xff, 0x00, 0x13}, "", "malformed"},
		{"empty", nil, "", "malformed"},
		{"version", bad(func(r *link.CommandRequest) { r.V = 9 }), "bad-1", "version"},
		{"no id", bad(func(r *link.CommandRequest) { r.ID = "" }), "", "command id"},
		{"no vehicle", bad(func(r *link.CommandRequest) { r.Vehicle = "" }), "bad-1", "without vehicle"},
		{"code", bad(func(r *link.CommandRequest) { r.Code = 300 }), "bad-1", "out of range"},
		{"timeout", bad(func(r *link.CommandRequest) { r.TimeoutMs = -5 }), "bad-1", "timeout_ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.requestRaw(tc.body, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != link.OutcomeRejected || res.ID != tc.wantID || !strings.Contains(res.Error, tc.want) ||
				res.V != link.Version {
				t.Errorf("result %+v, want rejected with %q", res, tc.want)
			}
		})
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1 (malformed requests never reach it)", n)
	}
	st := l.Stats()
	if st.Requests[link.OutcomeAcked] != 1 || st.Requests[link.OutcomeRejected] != 9 || !st.Connected {
		t.Errorf("stats %+v", st)
	}
}

func TestBusyIsRejected(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := handlerFunc(func(ctx context.Context, req link.CommandRequest) link.CommandResult {
		started <- struct{}{}
		<-release
		return link.CommandResult{V: link.Version, ID: req.ID, Outcome: link.OutcomeAcked}
	})
	runLink(t, Config{Conn: dialGateway(t, srv.ClientURL()), Commands: h, Store: openStore(t, t.TempDir()),
		Applier: &applier{}, Workers: 1, Queue: -1})
	waitSubscribed(t, srv)
	c := newCloud(t, srv.ClientURL())
	first := make(chan link.CommandResult, 1)
	go func() {
		res, err := c.request(validRequest("slow"), 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		first <- res
	}()
	<-started
	// The only worker is busy and there is no queue.
	res, err := c.request(validRequest("second"), 5*time.Second)
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != link.OutcomeRejected || res.ID != "second" || !strings.Contains(res.Error, "busy") {
		t.Errorf("second: %+v", res)
	}
	if res := <-first; res.Outcome != link.OutcomeAcked {
		t.Errorf("first: %+v", res)
	}
}

func tariffsDoc(version int64) link.TariffsDoc {
	return link.TariffsDoc{V: link.Version, City: testCity, Version: version, Updated: time.Now().UTC(),
		Tariffs: []link.Tariff{{ID: "std", Currency: "EUR", UnlockFee: 100, PerMinute: 25, EffectiveFrom: time.Now().UTC()}}}
}

func vehiclesDoc(version int64, ids ...string) link.VehiclesDoc {
	d := link.VehiclesDoc{V: link.Version, City: testCity, Version: version, Updated: time.Now().UTC()}
	for _, id := range ids {
		d.Vehicles = append(d.Vehicles, link.VehicleConfig{ID: id, Type: "scooter", CredentialHash: "argon2id$x", NormalLimitKmh: 25})
	}
	return d
}

func stored(t *testing.T, s *configstore.Store, kind string) configstore.Document {
	t.Helper()
	d, err := s.Get(kind)
	if err != nil {
		t.Fatalf("stored %s: %v", kind, err)
	}
	return d
}

// TestConfigAppliedAndValidated: documents put in the city's bucket are
// validated, stored and applied; bad ones are rejected and the last good one
// stays in force; older versions never replace newer ones.
func TestConfigAppliedAndValidated(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	c := newCloud(t, srv.ClientURL())
	// Values present before the gateway starts arrive as the watch's initial values.
	c.put(link.ConfigZones, zonesDoc(1, 2))
	store := openStore(t, t.TempDir())
	app := &applier{refuse: map[string]error{}}
	l := runLink(t, Config{Conn: dialGateway(t, srv.ClientURL()), Commands: handlerFunc(nil), Store: store, Applier: app})
	waitFor(t, "zones v1 applied", func() bool { return app.versions()[link.ConfigZones] == 1 })
	if n := app.zoneCount(); n != 2 {
		t.Errorf("%d zones in force, want 2", n)
	}
	// The stored form is what the gateway loads at start: the GBFS document itself.
	if d := stored(t, store, link.ConfigZones); d.Version != 1 || string(d.Data) != string(gbfs(2, 10)) {
		t.Errorf("stored zones v%d %.80s", d.Version, d.Data)
	}

	c.put(link.ConfigVehicles, vehiclesDoc(3, "A1", "B2"))
	c.put(link.ConfigTariffs, tariffsDoc(1))
	c.put(link.ConfigZones, zonesDoc(2, 3))
	waitFor(t, "all applied", func() bool {
		v := app.versions()
		return v[link.ConfigVehicles] == 3 && v[link.ConfigTariffs] == 1 && v[link.ConfigZones] == 2
	})
	if d := stored(t, store, link.ConfigVehicles); d.Version != 3 {
		t.Errorf("stored vehicles v%d", d.Version)
	}

	rejectedBefore := func(k RejectKey) func() bool {
		n := l.Stats().Rejected[k]
		return func() bool { return l.Stats().Rejected[k] > n }
	}
	brokenGeo := zonesDoc(3, 1)
	brokenGeo.Geofence = json.RawMessage(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1]]]}}]}`)
	otherCity := zonesDoc(4, 1)
	otherCity.City = "elsewhere"
	noVersion := zonesDoc(0, 1)
	for _, tc := range []struct {
		name  string
		key   string
		value any
		want  RejectKey
	}{
		{"zones not GBFS", link.ConfigZones, brokenGeo, RejectKey{link.ConfigZones, ReasonInvalid}},
		{"zones not JSON", link.ConfigZones, []byte(`{"v":1,`), RejectKey{link.ConfigZones, ReasonInvalid}},
		{"zones without version", link.ConfigZones, noVersion, RejectKey{link.ConfigZones, ReasonInvalid}},
		{"zones of another city", link.ConfigZones, otherCity, RejectKey{link.ConfigZones, ReasonCity}},
		{"older zones", link.ConfigZones, zonesDoc(1, 5), RejectKey{link.ConfigZones, ReasonStale}},
		{"same version other zones", link.ConfigZones, zonesDoc(2, 5), RejectKey{link.ConfigZones, ReasonConflict}},
		{"vehicle without hash", link.ConfigVehicles, link.VehiclesDoc{V: 1, City: testCity, Version: 9,
			Vehicles: []link.VehicleConfig{{ID: "A1"}}}, RejectKey{link.ConfigVehicles, ReasonInvalid}},
		{"unknown key", "speedlimits", []byte(`{}`), RejectKey{"other", ReasonUnknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := rejectedBefore(tc.want)
			c.put(tc.key, tc.value)
			waitFor(t, "rejection "+tc.want.Reason, done)
		})
	}
	// The gateway's own checks (Applier) refuse a document: not stored, not applied.
	app.mu.Lock()
	app.refuse[link.ConfigVehicles] = errors.New("credential hash does not parse")
	app.mu.Unlock()
	done := rejectedBefore(RejectKey{link.ConfigVehicles, ReasonInvalid})
	c.put(link.ConfigVehicles, vehiclesDoc(4, "A1"))
	waitFor(t, "applier refusal", done)
	// A deleted key keeps the last document.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done = rejectedBefore(RejectKey{link.ConfigTariffs, ReasonDeleted})
	if err := c.bucket().Delete(ctx, link.ConfigTariffs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delete ignored", done)

	if v := app.versions(); v[link.ConfigZones] != 2 || v[link.ConfigVehicles] != 3 || v[link.ConfigTariffs] != 1 {
		t.Errorf("in force %v, want zones 2 vehicles 3 tariffs 1", v)
	}
	if n := app.zoneCount(); n != 3 {
		t.Errorf("%d zones in force, want 3 (v2)", n)
	}
	for kind, want := range map[string]uint64{link.ConfigZones: 2, link.ConfigVehicles: 3, link.ConfigTariffs: 1} {
		if d := stored(t, store, kind); d.Version != want {
			t.Errorf("stored %s v%d, want %d", kind, d.Version, want)
		}
	}
	st := l.Stats()
	if st.Applied[link.ConfigZones] != 2 || st.Versions[link.ConfigZones] != 2 || st.Versions[link.ConfigVehicles] != 3 {
		t.Errorf("stats %+v", st)
	}
	// And a good newer one still goes through after all that.
	c.put(link.ConfigZones, zonesDoc(7, 1))
	waitFor(t, "zones v7", func() bool { return app.versions()[link.ConfigZones] == 7 && app.zoneCount() == 1 })
}

// TestStartsFromStoreVersions: at start the versions in force are those of
// the store (loaded by the gateway); a replay of the same document is a no-op
// and an older one is refused.
func TestStartsFromStoreVersions(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	store := openStore(t, t.TempDir())
	if _, err := store.Put(configstore.Document{Name: link.ConfigZones, Version: 5, Data: gbfs(2, 10)}); err != nil {
		t.Fatal(err)
	}
	c := newCloud(t, srv.ClientURL())
	c.put(link.ConfigZones, zonesDoc(5, 2)) // the same document: no-op
	app := &applier{}
	l := runLink(t, Config{Conn: dialGateway(t, srv.ClientURL()), Commands: handlerFunc(nil), Store: store, Applier: app})
	if v := l.Stats().Versions[link.ConfigZones]; v != 5 {
		t.Errorf("version in force at start %d, want 5", v)
	}
	c.put(link.ConfigZones, zonesDoc(4, 1))
	waitFor(t, "older refused", func() bool { return l.Stats().Rejected[RejectKey{link.ConfigZones, ReasonStale}] == 1 })
	if n := len(app.versions()); n != 0 {
		t.Errorf("applied %v, want nothing (replay and older)", app.versions())
	}
	if d := stored(t, store, link.ConfigZones); d.Version != 5 {
		t.Errorf("stored v%d", d.Version)
	}
}

// proxy is a loopback TCP proxy between the gateway and NATS that the test
// can cut (closing every connection and refusing new ones) and restore.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, up: true}
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if !p.up {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go pipe(c, s)
		go pipe(s, c)
	}
}

func pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = false
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.up = true
	p.mu.Unlock()
}

// TestOfflineChangeArrivesOnReconnect: the gateway's link is cut while the
// cloud stays up; commands find no gateway; a zones change made meanwhile is
// applied as soon as the link is back; then the NATS server itself restarts
// (same store) and a change made after it is applied too.
func TestOfflineChangeArrivesOnReconnect(t *testing.T) {
	dir := t.TempDir()
	srv := startNATS(t, dir, -1)
	port := srv.Addr().(*net.TCPAddr).Port
	px := newProxy(t, srv.Addr().String())
	c := newCloud(t, srv.ClientURL())
	c.put(link.ConfigZones, zonesDoc(1, 1))
	app := &applier{}
	h := handlerFunc(func(_ context.Context, req link.CommandRequest) link.CommandResult {
		return link.CommandResult{V: link.Version, ID: req.ID, Outcome: link.OutcomeAcked}
	})
	gw := dialGateway(t, px.url())
	l := runLink(t, Config{Conn: gw, Commands: h, Store: openStore(t, t.TempDir()), Applier: app})
	waitFor(t, "zones v1", func() bool { return app.versions()[link.ConfigZones] == 1 })

	px.cut()
	waitFor(t, "gateway disconnected", func() bool { return !l.Stats().Connected })
	waitFor(t, "subscription gone from the server", func() bool { return !hasInterest(srv, link.CommandSubject(testCity)) })
	if _, err := c.request(validRequest("offline"), 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("request while the gateway is offline: %v, want no responders", err)
	}
	c.put(link.ConfigZones, zonesDoc(2, 2))
	px.restore()
	waitFor(t, "zones v2 after reconnect", func() bool { return app.versions()[link.ConfigZones] == 2 && app.zoneCount() == 2 })
	waitSubscribed(t, srv)
	if res, err := c.request(validRequest("back"), 5*time.Second); err != nil || res.Outcome != link.OutcomeAcked {
		t.Errorf("request after reconnect: %+v %v", res, err)
	}

	// The server restarts on the same port and store.
	c.nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()
	waitFor(t, "gateway disconnected", func() bool { return !l.Stats().Connected })
	srv2 := startNATS(t, dir, port)
	c2 := newCloud(t, srv2.ClientURL())
	c2.put(link.ConfigZones, zonesDoc(3, 3))
	waitFor(t, "zones v3 after server restart", func() bool { return app.versions()[link.ConfigZones] == 3 && app.zoneCount() == 3 })
	if st := l.Stats(); st.WatchRestarts < 2 || !st.Connected {
		t.Errorf("stats %+v", st)
	}
}

// TestStartsOffline: the link runs before the cloud is reachable (the gateway
// works meanwhile), then subscribes and applies once NATS appears.
func TestStartsOffline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	gw := dialGateway(t, "nats://127.0.0.1:"+itoa(port))
	app := &applier{}
	l := runLink(t, Config{Conn: gw, Commands: handlerFunc(func(_ context.Context, req link.CommandRequest) link.CommandResult {
		return link.CommandResult{V: link.Version, ID: req.ID, Outcome: link.OutcomeAcked}
	}), Store: openStore(t, t.TempDir()), Applier: app})
	if l.Stats().Connected {
		t.Fatal("connected to nothing")
	}
	srv := startNATS(t, t.TempDir(), port)
	c := newCloud(t, srv.ClientURL())
	c.put(link.ConfigZones, zonesDoc(1, 1))
	waitFor(t, "zones applied", func() bool { return app.versions()[link.ConfigZones] == 1 })
	waitSubscribed(t, srv)
	if res, err := c.request(validRequest("late"), 5*time.Second); err != nil || res.Outcome != link.OutcomeAcked {
		t.Errorf("request: %+v %v", res, err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestConfigErrors(t *testing.T) {
	_, err := New(Config{City: "Bad City"})
	for _, want := range []string{"city", "NATS connection", "command handler", "config store", "applier"} {
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v, want %q", err, want)
		}
	}
}
