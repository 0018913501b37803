package cloudlink

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/edge/internal/configstore"
	"github.com/fleetedge/fleetedge/edge/internal/uplink"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

const testCity link.CityID = "testcity"

func testLogger() *slog.Logger {
	if os.Getenv("CLOUDLINK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startNATS runs an embedded JetStream server on port (-1 = random) with its
// store in dir.
func startNATS(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		ServerName: "cloudlink-test", Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// dialGateway connects like the gateway does (shared with the uplink).
func dialGateway(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := uplink.Dial(uplink.NATSConfig{URL: url, Name: "gateway-test",
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// cloud is the cloud side as seen on the wire (cloud/internal/downlink does
// the same: JSON request on link.CommandSubject, KV puts on link.ConfigBucket).
type cloud struct {
	t  testing.TB
	nc *nats.Conn
	kv jetstream.KeyValue
}

func newCloud(t testing.TB, url string) *cloud {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return &cloud{t: t, nc: nc}
}

func (c *cloud) request(req link.CommandRequest, timeout time.Duration) (link.CommandResult, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return link.CommandResult{}, err
	}
	return c.requestRaw(data, timeout)
}

func (c *cloud) requestRaw(data []byte, timeout time.Duration) (link.CommandResult, error) {
	msg, err := c.nc.Request(link.CommandSubject(testCity), data, timeout)
	if err != nil {
		return link.CommandResult{}, err
	}
	var res link.CommandResult
	if err := json.Unmarshal(msg.Data, &res); err != nil {
		return res, fmt.Errorf("reply %s: %w", msg.Data, err)
	}
	return res, nil
}

func (c *cloud) bucket() jetstream.KeyValue {
	c.t.Helper()
	if c.kv != nil {
		return c.kv
	}
	js, err := jetstream.New(c.nc)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: link.ConfigBucket(testCity), History: 5,
		Storage: jetstream.FileStorage})
	if err != nil {
		c.t.Fatal(err)
	}
	c.kv = kv
	return kv
}

// put stores v (marshalled) under key; raw []byte values go as they are.
func (c *cloud) put(key string, v any) {
	c.t.Helper()
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.bucket().Put(ctx, key, data); err != nil {
		c.t.Fatalf("put %s: %v", key, err)
	}
}

// gbfs returns a geofencing document with n slow zones (limit kmh) side by side.
func gbfs(n, kmh int) json.RawMessage {
	type feature struct {
		Type     string         `json:"type"`
		ID       string         `json:"id"`
		Geometry map[string]any `json:"geometry"`
		Props    map[string]any `json:"properties"`
	}
	fs := make([]feature, n)
	for i := range fs {
		x := -3.71 + float64(i)*0.01
		fs[i] = feature{Type: "Feature", ID: fmt.Sprintf("slow-%d", i),
			Geometry: map[string]any{"type": "MultiPolygon", "coordinates": [][][][2]float64{{{
				{x, 40.41}, {x + 0.005, 40.41}, {x + 0.005, 40.415}, {x, 40.415}, {x, 40.41}}}}},
			Props: map[string]any{"rules": []map[string]any{{"ride_start_allowed": true, "ride_end_allowed": true,
				"ride_through_allowed": true, "maximum_speed_kph": kmh}}}}
	}
	doc := map[string]any{"last_updated": "2026-11-25T12:00:00Z", "ttl": 300, "version": "3.0",
		"data": map[string]any{"global_rules": []any{}, "geofencing_zones": map[string]any{"type": "FeatureCollection", "features": fs}}}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

func zonesDoc(version int64, n int) link.ZonesDoc {
	return link.ZonesDoc{V: link.Version, City: testCity, Version: version, Updated: time.Now().UTC(), Geofence: gbfs(n, 10)}
}

// applier records what was put in force; refuse makes PrepareConfig fail.
type applier struct {
	mu      sync.Mutex
	zones   *zone.Set
	vehicle *link.VehiclesDoc
	tariffs *link.TariffsDoc
	applied []Update
	refuse  map[string]error
}

func (a *applier) PrepareConfig(u Update) (func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.refuse[u.Kind]; err != nil {
		return nil, err
	}
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		switch u.Kind {
		case link.ConfigZones:
			a.zones = u.Zones
		case link.ConfigVehicles:
			a.vehicle = u.Vehicles
		case link.ConfigTariffs:
			a.tariffs = u.Tariffs
		}
		a.applied = append(a.applied, u)
	}, nil
}

func (a *applier) versions() map[string]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[string]int64{}
	for _, u := range a.applied {
		m[u.Kind] = u.Version
	}
	return m
}

func (a *applier) zoneCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.zones == nil {
		return 0
	}
	return a.zones.Len()
}

func openStore(t testing.TB, dir string) *configstore.Store {
	t.Helper()
	s, err := configstore.Open(filepath.Join(dir, "config.db"), configstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// runLink starts a Link and stops it at cleanup.
func runLink(t testing.TB, cfg Config) *Link {
	t.Helper()
	if cfg.City == "" {
		cfg.City = testCity
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	cfg.WatchRetryMin, cfg.WatchRetryMax = 20*time.Millisecond, 200*time.Millisecond
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return l
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitSubscribed waits until the gateway's command subscription reached the
// server (a request before that would find no responders).
func waitSubscribed(t testing.TB, srv *server.Server) {
	t.Helper()
	waitFor(t, "command subscription", func() bool {
		return hasInterest(srv, link.CommandSubject(testCity))
	})
}

func hasInterest(srv *server.Server, subject string) bool {
	return srv.GlobalAccount().SubscriptionInterest(subject)
}
