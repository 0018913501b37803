package rides_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/rides"
	"github.com/fleetedge/fleetedge/shared/chtest"
)

// TestFareFromClickHouseFixes: the route is rebuilt from the ride's fixes stored in ClickHouse
// (a redelivered copy counted once), its geodesic length is charged per started 100 m and
// the minutes inside a surcharged slow zone per started minute — to the cent.
func TestFareFromClickHouseFixes(t *testing.T) {
	e := newEnv(t)
	dsn, _ := chtest.New(t)
	ch, err := chstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	if err := ch.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	svc, err := rides.New(rides.Config{Pool: e.admin.DB.Pool, Live: e.live, Now: e.clock.Now,
		Commander: func() rides.Commander { return e.gw }, Fixes: func() rides.FixSource { return ch }})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	// This service (with ClickHouse) is driven directly; the API routes belong to the env's.
	pool := e.admin.DB.Pool
	// Zones version 2: a slow band across the ride's path, surcharged 10/min (+30 fixed when
	// the ride starts or ends in it, which it does not); 1.00 per km.
	slow := `{"type": "Feature", "id": "slow-band", "properties": {"name": [{"text": "Slow band", "language": "en"}],
     "fleetedge": {"kind": "slow"},
     "rules": [{"ride_start_allowed": true, "ride_end_allowed": true, "ride_through_allowed": true, "maximum_speed_kph": 10}]},
    "geometry": {"type": "MultiPolygon", "coordinates": [[[[2.155, 41.39245], [2.165, 41.39245], [2.165, 41.39655], [2.155, 41.39655], [2.155, 41.39245]]]]}},`
	doc := strings.Replace(zonesDoc, `"features": [`, `"features": [`+slow, 1)
	if _, err := pool.Exec(t.Context(), `INSERT INTO zones (city_id, version, document, published_at) VALUES ($1, 2, $2, now())`, e.cityID, doc); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), `UPDATE tariffs SET per_km_minor = 100,
		zone_surcharges = '[{"zone": "slow-band", "per_minute_minor": 10, "fixed_minor": 30}]'`); err != nil {
		t.Fatal(err)
	}
	e.vehicle("CH001", startLat, startLon, 90)
	rd := e.fundedRider(1000)
	r, err := svc.Start(t.Context(), rd.ID, "CH001")
	if err != nil {
		t.Fatal(err)
	}
	t0 := r.StartedAt
	// Due north along the meridian, one fix every 10 s for 10 minutes (0.01° ≈ 1,111 m).
	var rows []chstore.TelemetryRow
	for i := 1; i < 60; i++ {
		rows = append(rows, chstore.TelemetryRow{City: testCity, Gateway: "gw-1", Seq: uint64(1000 + i), Vehicle: "CH001",
			Time: t0.Add(time.Duration(i) * 10 * time.Second), Lat: startLat + float64(i)*0.01/60, Lon: startLon, BatteryPct: 90, Powered: true})
	}
	// A fix far away before the ride (not part of it) and a redelivered copy of one fix.
	rows = append(rows, chstore.TelemetryRow{City: testCity, Gateway: "gw-1", Seq: 999, Vehicle: "CH001",
		Time: t0.Add(-time.Minute), Lat: 41.45, Lon: 2.2, BatteryPct: 90}, rows[20])
	if err := ch.InsertTelemetry(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(10 * time.Minute)
	e.report("CH001", startLat+0.01, startLon, 88)
	end, err := svc.End(t.Context(), rd.ID, r.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	// unlock 100 + 10 min × 20 + ⌈1,111 m / 100 m⌉ = 12 × 100/10 + slow band: fixes 15-39
	// inside (24 whole 10 s segments + 2 halves = 250 s → 5 started minutes) × 10.
	const want = 100 + 200 + 120 + 50
	if end.FareTotalMinor != want || end.DistanceM < 1105 || end.DistanceM > 1115 {
		t.Errorf("fare %d over %d m, want %d over ~1,111 m", end.FareTotalMinor, end.DistanceM, want)
	}
	rc, err := svc.Receipt(t.Context(), rd.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Breakdown.RoutePoints != 61 {
		t.Errorf("route of %d points, want 61 (start, 59 fixes, end): %+v", rc.Breakdown.RoutePoints, rc.Breakdown)
	}
	var lines []string
	for _, l := range rc.Breakdown.Lines {
		lines = append(lines, l.Code)
	}
	if strings.Join(lines, ",") != "unlock,time,distance,surcharge:slow-band" {
		t.Errorf("lines %+v", rc.Breakdown.Lines)
	}
	if b := e.balance(rd.ID); b != 1000-want {
		t.Errorf("balance %d, want %d", b, 1000-want)
	}
}
