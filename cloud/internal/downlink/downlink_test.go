package downlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/cloud/internal/natsbus"
	"github.com/fleetedge/fleetedge/protocol/link"
)

const city link.CityID = "testcity"

func openBus(t *testing.T) *natsbus.Bus { return openBusB(t) }

func openBusB(t testing.TB) *natsbus.Bus {
	t.Helper()
	b, err := natsbus.Open(t.Context(), natsbus.Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       natsbus.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()},
		Stream:         natsbus.DefaultStreamConfig(),
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func newDownlink(t *testing.T, b *natsbus.Bus, cfg Config) *Downlink {
	t.Helper()
	d, err := New(b.Conn(), b.JetStream(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func geofence(zones int) json.RawMessage {
	fs := ""
	for i := range zones {
		x := -3.71 + float64(i)*0.01
		if i > 0 {
			fs += ","
		}
		fs += fmt.Sprintf(`{"type":"Feature","id":"z%d","geometry":{"type":"MultiPolygon","coordinates":[[[[%g,40.41],[%g,40.41],[%g,40.415],[%g,40.415],[%g,40.41]]]]},"properties":{"rules":[{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true,"maximum_speed_kph":10}]}}`,
			i, x, x+0.005, x+0.005, x, x)
	}
	return json.RawMessage(`{"last_updated":"2026-11-25T12:00:00Z","ttl":300,"version":"3.0","data":{"global_rules":[],"geofencing_zones":{"type":"FeatureCollection","features":[` + fs + `]}}}`)
}

func zones(version int64) *link.ZonesDoc {
	return &link.ZonesDoc{V: link.Version, City: city, Version: version, Updated: time.Now().UTC(), Geofence: geofence(2)}
}

// bigVehicles is above the default 1 MiB max_payload (about 7,000 vehicles).
// bigVehicles is over the default 8 MiB max_payload (~150 bytes per vehicle).
func bigVehicles() *link.VehiclesDoc {
	d := &link.VehiclesDoc{V: 1, City: city, Version: 9}
	for i := range 60_000 {
		d.Vehicles = append(d.Vehicles, link.VehicleConfig{ID: fmt.Sprintf("86112345%07d", i), Type: "scooter",
			CredentialHash: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NormalLimitKmh: 25})
	}
	return d
}

func TestPublishConfig(t *testing.T) {
	b := openBus(t)
	d := newDownlink(t, b, Config{})
	ctx := t.Context()

	rev, err := d.PublishConfig(ctx, city, zones(1))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := b.JetStream().KeyValue(ctx, link.ConfigBucket(city))
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 5 || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Storage != jetstream.FileStorage {
		t.Errorf("bucket history %d storage %v", st.History(), st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Storage)
	}
	e, err := kv.Get(ctx, link.ConfigZones)
	if err != nil {
		t.Fatal(err)
	}
	var got link.ZonesDoc
	if err := json.Unmarshal(e.Value(), &got); err != nil || got.Version != 1 || e.Revision() != rev {
		t.Errorf("stored %+v rev %d/%d: %v", got, e.Revision(), rev, err)
	}

	veh := &link.VehiclesDoc{V: 1, City: city, Version: 1, Vehicles: []link.VehicleConfig{{ID: "A1", CredentialHash: "h"}}}
	if _, err := d.PublishConfig(ctx, city, veh); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PublishConfig(ctx, city, &link.TariffsDoc{V: 1, City: city, Version: 3}); err != nil {
		t.Fatal(err)
	}
	cur, err := d.CurrentConfig(ctx, city, link.ConfigTariffs)
	if err != nil || cur.Version != 3 {
		t.Errorf("current tariffs %+v %v", cur, err)
	}

	badGeo := zones(2)
	badGeo.Geofence = json.RawMessage(`{"type":"FeatureCollection","features":[{"type":"Feature"}]}`)
	other := zones(2)
	other.City = "elsewhere"
	for _, tc := range []struct {
		name string
		city link.CityID
		doc  Document
		want error
	}{
		{"same version", city, zones(1), ErrNotNewer},
		{"older version", city, &link.TariffsDoc{V: 1, City: city, Version: 2}, ErrNotNewer},
		{"no version", city, zones(0), ErrInvalid},
		{"bad GBFS", city, badGeo, ErrInvalid},
		{"other city", city, other, ErrInvalid},
		{"bad city id", "Bad City", zones(2), ErrInvalid},
		{"nil", city, nil, ErrInvalid},
		{"typed nil", city, (*link.ZonesDoc)(nil), ErrInvalid},
		{"too large", city, bigVehicles(), ErrTooLarge},
		{"unknown type", city, &link.CommandRequest{}, ErrInvalid},
		{"vehicle without hash", city, &link.VehiclesDoc{V: 1, City: city, Version: 2,
			Vehicles: []link.VehicleConfig{{ID: "A1"}}}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := d.PublishConfig(ctx, tc.city, tc.doc); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	if cur, err := d.CurrentConfig(ctx, city, link.ConfigZones); err != nil || cur.Version != 1 {
		t.Errorf("zones after refusals: %+v %v", cur, err)
	}
	if _, err := d.PublishConfig(ctx, city, zones(2)); err != nil {
		t.Fatal(err)
	}
}

// TestPublishConflict: a write between our read and our write (another admin)
// makes ours fail with ErrConflict instead of overwriting it.
func TestPublishConflict(t *testing.T) {
	b := openBus(t)
	ctx := t.Context()
	d := newDownlink(t, b, Config{})
	other := newDownlink(t, b, Config{})
	// create: the key appears between the read and the write.
	d.beforeWrite = func() {
		d.beforeWrite = nil
		if _, err := other.PublishConfig(ctx, city, zones(3)); err != nil {
			t.Errorf("other admin: %v", err)
		}
	}
	if _, err := d.PublishConfig(ctx, city, zones(4)); !errors.Is(err, ErrConflict) {
		t.Fatalf("create race: %v, want ErrConflict", err)
	}
	// update: the document changes between the read and the write.
	d.beforeWrite = func() {
		d.beforeWrite = nil
		if _, err := other.PublishConfig(ctx, city, zones(6)); err != nil {
			t.Errorf("other admin: %v", err)
		}
	}
	if _, err := d.PublishConfig(ctx, city, zones(7)); !errors.Is(err, ErrConflict) {
		t.Fatalf("update race: %v, want ErrConflict", err)
	}
	if cur, err := d.CurrentConfig(ctx, city, link.ConfigZones); err != nil || cur.Version != 6 {
		t.Errorf("current %+v %v, want the other admin's version 6", cur, err)
	}
	// Many writers at once: each either wins or is told; the stored version is
	// the highest successful one, never overwritten by a lower one.
	var wg sync.WaitGroup
	var mu sync.Mutex
	best := int64(6)
	for v := int64(10); v < 20; v++ {
		wg.Go(func() {
			_, err := newDownlink(t, b, Config{}).PublishConfig(ctx, city, zones(v))
			switch {
			case err == nil:
				mu.Lock()
				best = max(best, v)
				mu.Unlock()
			case errors.Is(err, ErrConflict), errors.Is(err, ErrNotNewer):
			default:
				t.Errorf("v%d: %v", v, err)
			}
		})
	}
	wg.Wait()
	if cur, err := d.CurrentConfig(ctx, city, link.ConfigZones); err != nil || cur.Version != best {
		t.Errorf("current %+v %v, want %d", cur, err, best)
	}
}

func TestSendCommand(t *testing.T) {
	b := openBus(t)
	d := newDownlink(t, b, Config{Margin: 200 * time.Millisecond})
	ctx := t.Context()
	req := link.CommandRequest{V: link.Version, ID: "c1", Vehicle: "861123456789012", Code: 1, Source: "admin:1", TimeoutMs: 500}

	// No gateway of the city: typed error at once.
	start := time.Now()
	if _, err := d.SendCommand(ctx, city, req); !errors.Is(err, ErrNoGateway) || !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("no gateway: %v", err)
	}
	if el := time.Since(start); el > 400*time.Millisecond {
		t.Errorf("no responders took %v", el)
	}
	if _, err := d.SendCommand(ctx, city, link.CommandRequest{V: 1, ID: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid: %v", err)
	}

	// A gateway answering like cloudlink does.
	var mode sync.Map
	sub, err := b.Conn().Subscribe(link.CommandSubject(city), func(m *nats.Msg) {
		var r link.CommandRequest
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Error(err)
			return
		}
		switch v, _ := mode.Load("m"); v {
		case "silent":
			return
		case "garbage":
			_ = m.Respond([]byte(`not json`))
			return
		}
		st := 0
		res, _ := json.Marshal(link.CommandResult{V: 1, ID: r.ID, Vehicle: r.Vehicle, Code: r.Code, Source: r.Source,
			Outcome: link.OutcomeAcked, ReplyCode: 2, Status: &st, Reply: json.RawMessage(`{"a":2,"s":0}`), Attempts: 1})
		if err := m.Respond(res); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	res, err := d.SendCommand(ctx, city, req)
	if err != nil || res.Outcome != link.OutcomeAcked || res.ID != "c1" || res.ReplyCode != 2 {
		t.Fatalf("acked: %+v %v", res, err)
	}
	mode.Store("m", "garbage")
	if _, err := d.SendCommand(ctx, city, req); !errors.Is(err, ErrBadReply) {
		t.Errorf("garbage: %v", err)
	}
	mode.Store("m", "silent")
	start = time.Now()
	req.TimeoutMs = 100
	if _, err := d.SendCommand(ctx, city, req); !errors.Is(err, ErrNoReply) {
		t.Errorf("silent: %v", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 2*time.Second {
		t.Errorf("silent gateway waited %v, want timeout_ms + margin = 300ms", el)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.SendCommand(cctx, city, req); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestNewConfig(t *testing.T) {
	if _, err := New(nil, nil, Config{History: 100}); !errors.Is(err, ErrConfig) {
		t.Errorf("got %v", err)
	}
}
