package citycfg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/cloud/internal/natsbus"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// openBus starts an embedded NATS with JetStream; maxMsg 0 keeps the default (1 MiB).
func openBus(t *testing.T, maxMsg int32) *natsbus.Bus { return openBusTB(t, maxMsg) }

func openBusTB(t testing.TB, maxMsg int32) *natsbus.Bus {
	t.Helper()
	st := natsbus.DefaultStreamConfig()
	if maxMsg != 0 {
		st.MaxMsgSize = maxMsg
	}
	b, err := natsbus.Open(t.Context(), natsbus.Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       natsbus.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()},
		Stream:         st,
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

func newDownlink(t *testing.T, b *natsbus.Bus) *downlink.Downlink { return newDownlinkTB(t, b) }

func newDownlinkTB(t testing.TB, b *natsbus.Bus) *downlink.Downlink {
	t.Helper()
	d, err := downlink.New(b.Conn(), b.JetStream(), downlink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// published reads the document of kind in city's bucket.
func published(t *testing.T, d *downlink.Downlink, city link.CityID, kind string, into any) downlink.Published {
	t.Helper()
	p, err := d.CurrentConfig(t.Context(), city, kind)
	if err != nil {
		t.Fatalf("%s/%s: %v", city, kind, err)
	}
	if into != nil {
		if err := json.Unmarshal(p.Data, into); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func seedCity(e *env, vehicles int) {
	e.must(201, "POST", "/admin/v1/cities", map[string]any{"code": "bcn", "name": "Barcelona", "timezone": "Europe/Madrid", "currency": "EUR"})
	var vs []map[string]any
	for i := 1; i <= vehicles; i++ {
		vs = append(vs, map[string]any{"number": fmt.Sprintf("BCN%05d", i), "credential_hash": hashOf(i)})
	}
	e.must(200, "POST", "/admin/v1/cities/bcn/vehicles/import", map[string]any{"vehicles": vs})
}

// TestChangesArePushedAfterCommit: with the downlink up, each change is in the city's
// bucket when the response returns, at the version the response names, built from the
// database (a retired vehicle is disabled; tariffs carry their fixed surcharges).
func TestChangesArePushedAfterCommit(t *testing.T) {
	t.Parallel()
	b := openBus(t, 0)
	d := newDownlink(t, b)
	e := newEnv(t, d)
	seedCity(e, 3)

	var vdoc link.VehiclesDoc
	p := published(t, d, "bcn", link.ConfigVehicles, &vdoc)
	var city CityBody
	e.must(200, "GET", "/admin/v1/cities/bcn", nil).JSON(t, &city)
	if len(city.Config) != 1 || city.Config[0].Pending || city.Config[0].PublishedVersion != p.Version || vdoc.Version != p.Version {
		t.Fatalf("config %+v, bucket version %d", city.Config, p.Version)
	}
	if len(vdoc.Vehicles) != 3 || vdoc.Vehicles[1] != (link.VehicleConfig{ID: "BCN00002", Type: "escooter", CredentialHash: hashOf(2), NormalLimitKmh: 25}) {
		t.Errorf("vehicles doc: %+v", vdoc)
	}

	var upd struct{ Config []DocStateBody }
	e.must(200, "PATCH", "/admin/v1/vehicles/BCN00002", map[string]any{"status": "retired"}).JSON(t, &upd)
	published(t, d, "bcn", link.ConfigVehicles, &vdoc)
	if len(upd.Config) != 1 || upd.Config[0].Pending || upd.Config[0].Version != vdoc.Version || !vdoc.Vehicles[1].Disabled {
		t.Errorf("after retiring: %+v, doc %+v", upd.Config, vdoc.Vehicles[1])
	}

	var put struct{ Config []DocStateBody }
	e.must(200, "PUT", "/admin/v1/cities/bcn/zones", square("slow", 2.17, 41.38, 0.01, 10)).JSON(t, &put)
	var zdoc link.ZonesDoc
	published(t, d, "bcn", link.ConfigZones, &zdoc)
	if put.Config[0].Pending || zdoc.Version != put.Config[0].Version || !strings.Contains(string(zdoc.Geofence), `"slow"`) {
		t.Errorf("zones: %+v doc v%d", put.Config, zdoc.Version)
	}

	var tr struct{ Config []DocStateBody }
	e.must(201, "POST", "/admin/v1/cities/bcn/tariffs", map[string]any{"effective_from": "2026-01-01T00:00:00Z",
		"unlock_fee_minor": 100, "per_minute_minor": 25,
		"zone_surcharges": []map[string]any{{"zone": "slow", "per_minute_minor": 5, "fixed_minor": 50}}}).JSON(t, &tr)
	var tdoc link.TariffsDoc
	published(t, d, "bcn", link.ConfigTariffs, &tdoc)
	if tr.Config[0].Pending || len(tdoc.Tariffs) != 1 || tdoc.Tariffs[0].Currency != "EUR" || tdoc.Tariffs[0].UnlockFee != 100 ||
		len(tdoc.Tariffs[0].ZoneSurcharges) != 1 || tdoc.Tariffs[0].ZoneSurcharges[0].Amount != 50 {
		t.Errorf("tariffs: %+v", tdoc)
	}

	// A document is a function of the database at its version: building it again gives
	// the bytes in the bucket.
	doc, version, err := BuildDocument(t.Context(), e.DB.Pool, mustCity(t, e, "bcn"), link.ConfigVehicles)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(doc)
	if version != vdoc.Version || string(again) != string(published(t, d, "bcn", link.ConfigVehicles, nil).Data) {
		t.Errorf("rebuilt document differs from the published one")
	}
}

// TestPendingUntilTheDownlinkComes: without a downlink (role api, NATS not started) a
// change is stored and pending; the pusher publishes it once the downlink appears.
func TestPendingUntilTheDownlinkComes(t *testing.T) {
	t.Parallel()
	var down atomic.Pointer[downlink.Downlink]
	e := newEnvFunc(t, func() Publisher {
		if d := down.Load(); d != nil {
			return d
		}
		return nil
	})
	seedCity(e, 2)
	e.must(200, "PUT", "/admin/v1/cities/bcn/zones", square("slow", 2.17, 41.38, 0.01, 10))
	var city CityBody
	e.must(200, "GET", "/admin/v1/cities/bcn", nil).JSON(t, &city)
	if len(city.Config) != 2 || !city.Config[0].Pending || !city.Config[1].Pending {
		t.Fatalf("config without downlink: %+v", city.Config)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan struct{})
	go func() { defer close(ran); e.svc.Pusher().Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran }) // before the database goes (cleanups run last-in first-out)
	b := openBus(t, 0)
	d := newDownlink(t, b)
	down.Store(d)
	deadline := time.Now().Add(10 * time.Second)
	for {
		city = CityBody{}
		e.must(200, "GET", "/admin/v1/cities/bcn", nil).JSON(t, &city)
		if !city.Config[0].Pending && !city.Config[1].Pending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still pending: %+v", city.Config)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, s := range city.Config {
		if p := published(t, d, "bcn", s.Kind, nil); p.Version != s.Version {
			t.Errorf("%s: bucket v%d, database v%d", s.Kind, p.Version, s.Version)
		}
	}
}

// TestFullSyncRepublishesWhatTheBucketLacks: at start the pusher compares every document
// with the buckets: a fresh NATS store (bucket lost) gets everything again; a bucket that
// has the version is not written again.
func TestFullSyncRepublishesWhatTheBucketLacks(t *testing.T) {
	t.Parallel()
	b1 := openBus(t, 0)
	d1 := newDownlink(t, b1)
	e := newEnv(t, d1)
	seedCity(e, 2)
	e.must(200, "PUT", "/admin/v1/cities/bcn/zones", square("slow", 2.17, 41.38, 0.01, 10))
	before := published(t, d1, "bcn", link.ConfigZones, nil)

	if err := e.svc.Pusher().Sync(t.Context(), d1, true); err != nil {
		t.Fatal(err)
	}
	if after := published(t, d1, "bcn", link.ConfigZones, nil); after.Revision != before.Revision {
		t.Errorf("full sync rewrote an up-to-date bucket: revision %d → %d", before.Revision, after.Revision)
	}

	b2 := openBus(t, 0)
	d2 := newDownlink(t, b2)
	if _, err := d2.CurrentConfig(t.Context(), "bcn", link.ConfigZones); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("fresh NATS: %v", err)
	}
	if err := e.svc.Pusher().Sync(t.Context(), d2, false); err != nil {
		t.Fatal(err)
	}
	if _, err := d2.CurrentConfig(t.Context(), "bcn", link.ConfigZones); err == nil {
		t.Fatal("a pending-only sync published a document the database says is published")
	}
	if err := e.svc.Pusher().Sync(t.Context(), d2, true); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{link.ConfigZones, link.ConfigVehicles} {
		if p := published(t, d2, "bcn", kind, nil); p.Version != published(t, d1, "bcn", kind, nil).Version {
			t.Errorf("%s: v%d", kind, p.Version)
		}
	}
}

// TestBucketAheadOfTheDatabase: a bucket holding a higher version than the database (a
// database restored from an older backup) gets the database's content at a version above
// the bucket's.
func TestBucketAheadOfTheDatabase(t *testing.T) {
	t.Parallel()
	b := openBus(t, 0)
	d := newDownlink(t, b)
	e := newEnv(t, d)
	seedCity(e, 2)
	var vdoc link.VehiclesDoc
	published(t, d, "bcn", link.ConfigVehicles, &vdoc)
	ahead := vdoc
	ahead.Version += 1000
	ahead.Vehicles = ahead.Vehicles[:1]
	if _, err := d.PublishConfig(t.Context(), "bcn", &ahead); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Pusher().Sync(t.Context(), d, true); err != nil {
		t.Fatal(err)
	}
	vdoc = link.VehiclesDoc{}
	published(t, d, "bcn", link.ConfigVehicles, &vdoc)
	if vdoc.Version <= ahead.Version || len(vdoc.Vehicles) != 2 {
		ss, _ := DocStates(t.Context(), e.DB.Pool, mustCity(t, e, "bcn").ID)
		t.Errorf("bucket after sync: v%d with %d vehicles (ahead was v%d); states %+v", vdoc.Version, len(vdoc.Vehicles), ahead.Version, ss)
	}
}

// TestLargeVehiclesDocument measures the vehicles document per vehicle and shows the NATS
// limit: above max_payload (here 1 MiB) the push fails and says why, pending; an embedded
// server with a larger max message size (8 MiB, the default; cloud --stream-max-msg-size)
// takes it.
func TestLargeVehiclesDocument(t *testing.T) {
	t.Parallel()
	const n = 8000
	small := openBus(t, 1<<20)
	dSmall := newDownlink(t, small)
	var down atomic.Pointer[downlink.Downlink]
	down.Store(dSmall)
	e := newEnvFunc(t, func() Publisher { return down.Load() })
	seedCity(e, n)
	var city CityBody
	e.must(200, "GET", "/admin/v1/cities/bcn", nil).JSON(t, &city)
	if !city.Config[0].Pending || !strings.Contains(city.Config[0].PublishError, "too large") {
		t.Fatalf("%d vehicles under 1 MiB max_payload: %+v", n, city.Config)
	}
	doc, _, err := BuildDocument(t.Context(), e.DB.Pool, mustCity(t, e, "bcn"), link.ConfigVehicles)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(doc)
	t.Logf("vehicles document: %d vehicles, %d bytes, %.1f bytes/vehicle; 1 MiB holds ~%d vehicles",
		n, len(data), float64(len(data))/n, (1<<20)*n/len(data))

	big := openBus(t, 8<<20)
	dBig := newDownlink(t, big)
	down.Store(dBig)
	if err := e.svc.Pusher().Sync(t.Context(), dBig, false); err != nil {
		t.Fatal(err)
	}
	var vdoc link.VehiclesDoc
	published(t, dBig, "bcn", link.ConfigVehicles, &vdoc)
	city = CityBody{}
	e.must(200, "GET", "/admin/v1/cities/bcn", nil).JSON(t, &city)
	if len(vdoc.Vehicles) != n || city.Config[0].Pending || city.Config[0].PublishError != "" {
		t.Errorf("8 MiB max_payload: %d vehicles, %+v", len(vdoc.Vehicles), city.Config)
	}
}
