package analytics_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/analytics"
	"github.com/fleetedge/fleetedge/cloud/internal/analytics/analyticstest"
	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/shared/chtest"
)

func newCH(t *testing.T) *chstore.Store {
	t.Helper()
	dsn, _ := chtest.New(t)
	st, err := chstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

type world struct {
	env    *adminapitest.Env
	st     *chstore.Store
	sync   *analytics.RideSync
	city   int64
	rider  string
	veh    map[string]int64
	base   time.Time // start of an hour, two days ago
	tokens string    // a token with analytics.read
	reg    *prometheus.Registry
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := adminapitest.New(t)
	st := newCH(t)
	w := &world{env: env, st: st, veh: map[string]int64{}}
	w.base = env.Clock.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	pool := env.DB.Pool
	w.city = analyticstest.City(t, pool, "bcn", "EUR")
	other := analyticstest.City(t, pool, "mad", "EUR")
	for _, v := range []struct{ n, status string }{{"V1", "available"}, {"V2", "available"}, {"V3", "maintenance"}, {"V4", "lost"}, {"V5", "retired"}} {
		w.veh[v.n] = analyticstest.Vehicle(t, pool, w.city, v.n, v.status)
	}
	w.veh["M1"] = analyticstest.Vehicle(t, pool, other, "M1", "available")
	w.rider = analyticstest.Rider(t, pool, "Ana", "Ruiz", "ana@example.com", "active", w.base)
	w.reg = prometheus.NewRegistry()
	s, err := analytics.NewRideSync(analytics.SyncConfig{PG: pool, ClickHouse: func() *chstore.Store { return st }, Batch: 2, Registerer: w.reg})
	if err != nil {
		t.Fatal(err)
	}
	w.sync = s
	if err := analytics.Register(env.API, analytics.Deps{PG: pool, ClickHouse: func() *chstore.Store { return st }, Now: env.Clock.Now}); err != nil {
		t.Fatal(err)
	}
	w.tokens, _ = env.TokenWith("analytics.read")
	return w
}

func (w *world) ride(vehicle string, start time.Duration, minutes int, fare int64, dist int64) string {
	s := w.base.Add(start)
	city := w.city
	if vehicle == "M1" {
		city = 0
		if err := w.env.DB.Pool.QueryRow(w.env.T.Context(), `SELECT city_id FROM vehicles WHERE number = 'M1'`).Scan(&city); err != nil {
			w.env.T.Fatal(err)
		}
	}
	return analyticstest.InsertRide(w.env.T, w.env.DB.Pool, analyticstest.Ride{Rider: w.rider, Vehicle: w.veh[vehicle], City: city,
		Start: s, End: s.Add(time.Duration(minutes) * time.Minute), Fare: fare, DistanceM: dist,
		StartLat: 41.3851, StartLon: 2.1734, EndLat: 41.4036, EndLon: 2.1744})
}

func (w *world) syncOnce(t *testing.T, overlap time.Duration) int {
	t.Helper()
	n, err := w.sync.SyncOnce(t.Context(), overlap)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRideSync(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	pool := w.env.DB.Pool
	a := w.ride("V1", 5*time.Minute, 10, 250, 1200)
	w.ride("V2", 20*time.Minute, 70, 900, 5100)
	w.ride("V1", 26*time.Hour, 5, 150, 800)
	w.ride("M1", time.Hour, 5, 999, 10)
	// An open ride is not copied.
	analyticstest.InsertRide(t, pool, analyticstest.Ride{Rider: w.rider, Vehicle: w.veh["V3"], City: w.city, Start: w.base, StartLat: 41, StartLon: 2})

	// Another process holding the sync's advisory lock: this pass copies nothing.
	other, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var locked bool
	if err := other.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(x'7269646573796e63'::bigint)`).Scan(&locked); err != nil || !locked {
		t.Fatalf("lock: %v %v", locked, err)
	}
	if n := w.syncOnce(t, 2*time.Minute); n != 0 {
		t.Fatalf("pass while another process syncs copied %d, want 0", n)
	}
	if err := other.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := w.syncOnce(t, 2*time.Minute); n != 4 {
		t.Fatalf("first pass copied %d, want 4", n)
	}
	if n := w.syncOnce(t, 2*time.Minute); n != 0 {
		t.Fatalf("second pass copied %d, want 0 (idempotent)", n)
	}
	if err := testutil.GatherAndCompare(w.reg, strings.NewReader(`
# HELP fleetedge_ride_sync_rides_total Ended rides copied from PostgreSQL to ClickHouse (new rides and newer versions).
# TYPE fleetedge_ride_sync_rides_total counter
fleetedge_ride_sync_rides_total 4
`), "fleetedge_ride_sync_rides_total"); err != nil {
		t.Fatal(err)
	}
	win := chstore.Window{From: w.base, To: w.base.Add(48 * time.Hour)}
	tot, err := w.st.RideTotals(ctx, "bcn", win)
	if err != nil {
		t.Fatal(err)
	}
	if want := (chstore.RideTotals{Rides: 3, FareTotalMinor: 1300, DistanceM: 7100}); tot != want {
		t.Fatalf("totals %+v, want %+v", tot, want)
	}

	// A corrected fare (newer updated_at) replaces the copy; queries count the ride once.
	if _, err := pool.Exec(ctx, `UPDATE rides SET fare_total_minor = 300, updated_at = now() WHERE id = $1`, a); err != nil {
		t.Fatal(err)
	}
	if n := w.syncOnce(t, 2*time.Minute); n != 1 {
		t.Fatalf("correction pass copied %d, want 1", n)
	}
	if tot, _ = w.st.RideTotals(ctx, "bcn", win); tot.Rides != 3 || tot.FareTotalMinor != 1350 {
		t.Fatalf("after correction %+v", tot)
	}

	// A ride whose change time is just below the watermark (a late commit) is found by the
	// overlap; one far below only by the reconcile pass.
	wm, err := w.st.RideWatermark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wmTime := time.UnixMicro(int64(wm))
	late := w.ride("V2", 3*time.Hour, 5, 100, 100)
	old := w.ride("V2", 4*time.Hour, 5, 100, 100)
	if _, err := pool.Exec(ctx, `UPDATE rides SET updated_at = $2 WHERE id = $1`, late, wmTime.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE rides SET updated_at = $2 WHERE id = $1`, old, wmTime.Add(-3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := w.syncOnce(t, 2*time.Minute); n != 1 {
		t.Fatalf("overlap pass copied %d, want 1 (the late commit)", n)
	}
	if n := w.syncOnce(t, 24*time.Hour); n != 1 {
		t.Fatalf("reconcile pass copied %d, want 1", n)
	}
	if tot, _ = w.st.RideTotals(ctx, "bcn", win); tot.Rides != 5 || tot.FareTotalMinor != 1550 {
		t.Fatalf("after late rides %+v", tot)
	}

	// Run stops with its context.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.sync.Run(runCtx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestAnalyticsAPI(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	// Rides: hour 0: V1 00:05–00:15 (250), V2 00:20–01:30 (900); hour 26: V1 (150).
	w.ride("V1", 5*time.Minute, 10, 250, 1200)
	w.ride("V2", 20*time.Minute, 70, 900, 5100)
	w.ride("V1", 26*time.Hour, 5, 150, 800)
	w.ride("M1", time.Hour, 5, 999, 10)
	w.syncOnce(t, time.Minute)

	now := w.env.Clock.Now().UTC()
	tel := func(v string, seq uint64, at time.Time, battery uint8, fallen bool, errCode uint16) chstore.TelemetryRow {
		return chstore.TelemetryRow{City: "bcn", Gateway: "g1", Seq: seq, Vehicle: v, Time: at, Lat: 41.39, Lon: 2.17,
			BatteryPct: battery, Fallen: fallen, ErrorCode: errCode}
	}
	rows := []chstore.TelemetryRow{
		// Hour 0 of base: V1, V2, V3 report.
		tel("V1", 1, w.base.Add(time.Minute), 90, false, 0), tel("V2", 2, w.base.Add(time.Minute), 90, false, 0),
		tel("V3", 3, w.base.Add(2*time.Minute), 90, false, 0),
		// Now-ish: V1 low battery and fallen, V2 fine but silent for 2 h, V3 error, V4 fine.
		tel("V1", 10, now.Add(-5*time.Minute), 12, true, 0), tel("V2", 11, now.Add(-2*time.Hour), 55, false, 0),
		tel("V3", 12, now.Add(-time.Minute), 95, false, 17), tel("V4", 13, now.Add(-time.Minute), 100, false, 0),
	}
	if err := w.st.InsertTelemetry(ctx, append(rows, rows[3])); err != nil { // one redelivered record
		t.Fatal(err)
	}
	// V4: two alarms (one redelivered) 10 min ago and one 3 h ago; V3: one 2 h ago.
	alarm := func(v string, seq uint64, at time.Time) chstore.EventRow {
		return chstore.EventRow{City: "bcn", Gateway: "g1", Seq: seq, Vehicle: v, Time: at, Kind: "alarm", Details: `{"reason":"vibration"}`}
	}
	if err := w.st.InsertEvents(ctx, []chstore.EventRow{alarm("V4", 20, now.Add(-10*time.Minute)), alarm("V4", 20, now.Add(-10*time.Minute)),
		alarm("V4", 21, now.Add(-11*time.Minute)), alarm("V4", 22, now.Add(-3*time.Hour)), alarm("V3", 23, now.Add(-2*time.Hour))}); err != nil {
		t.Fatal(err)
	}

	get := func(path string, v any) {
		t.Helper()
		r := w.env.Do("GET", adminapi.Prefix+path, w.tokens, nil)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		r.JSON(t, v)
	}
	q := func(from, to time.Time) string {
		return "from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339)
	}

	t.Run("rides per hour", func(t *testing.T) {
		var got analytics.RideStatsBody
		get("/analytics/rides?city=bcn&bucket=hour&"+q(w.base, w.base.Add(48*time.Hour)), &got)
		want := analytics.RideStatsBody{City: "bcn", Bucket: "hour", Buckets: []analytics.RideStatsBucket{
			{Start: w.base, Currency: "EUR", Rides: 2, RevenueMinor: 1150, DistanceM: 6300, RideSeconds: 80 * 60, AvgFareMinor: 575, AvgRideSeconds: 40 * 60},
			{Start: w.base.Add(26 * time.Hour), Currency: "EUR", Rides: 1, RevenueMinor: 150, DistanceM: 800, RideSeconds: 300, AvgFareMinor: 150, AvgRideSeconds: 300},
		}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
		var day analytics.RideStatsBody
		get("/analytics/rides?city=bcn&bucket=day&"+q(w.base.Add(-24*time.Hour), w.base.Add(72*time.Hour)), &day)
		var n, rev int64
		for _, b := range day.Buckets {
			n, rev = n+b.Rides, rev+b.RevenueMinor
		}
		if n != 3 || rev != 1300 {
			t.Fatalf("daily totals %d rides %d revenue: %+v", n, rev, day)
		}
	})
	t.Run("utilisation", func(t *testing.T) {
		var got analytics.UtilisationBody
		get("/analytics/utilisation?city=bcn&"+q(w.base, w.base.Add(2*time.Hour)), &got)
		want := []analytics.UtilisationHourBody{
			{Hour: w.base, Fleet: 3, Riding: 2, RideSeconds: 600 + 2400, Share: 2.0 / 3, TimeShare: 3000.0 / (3 * 3600)},
			{Hour: w.base.Add(time.Hour), Fleet: 1, Riding: 1, RideSeconds: 1800, Share: 1, TimeShare: 0.5},
		}
		if !reflect.DeepEqual(got.Hours, want) {
			t.Fatalf("got %+v\nwant %+v", got.Hours, want)
		}
	})
	t.Run("battery", func(t *testing.T) {
		var got analytics.BatteryBody
		get("/analytics/battery?city=bcn&hours=3", &got)
		if got.Vehicles != 4 || len(got.Buckets) != 10 {
			t.Fatalf("battery %+v", got)
		}
		want := map[int]int64{10: 1, 50: 1, 90: 2}
		for _, b := range got.Buckets {
			if b.Vehicles != want[b.FromPct] {
				t.Errorf("bucket %d: %d vehicles, want %d", b.FromPct, b.Vehicles, want[b.FromPct])
			}
		}
		get("/analytics/battery?city=bcn&hours=1", &got)
		if got.Vehicles != 3 {
			t.Fatalf("last hour: %d vehicles, want 3 (V2 silent for 2 h)", got.Vehicles)
		}
	})
	t.Run("attention", func(t *testing.T) {
		var got analytics.AttentionBody
		get("/analytics/attention?city=bcn&low_battery_pct=20&lost_after_minutes=60", &got)
		reasons := map[string]string{}
		for _, v := range got.Vehicles {
			reasons[v.Vehicle] = strings.Join(v.Reasons, ",")
		}
		want := map[string]string{"V1": "low_battery,fallen", "V2": "lost", "V3": "error", "V4": "marked_lost,alarm"}
		if !reflect.DeepEqual(reasons, want) {
			t.Fatalf("attention %v, want %v", reasons, want)
		}
		if v := got.Vehicles[3]; v.Alarms != 2 || v.LastAlarm == nil || !v.LastAlarm.Equal(now.Add(-10*time.Minute)) {
			t.Fatalf("V4 alarms %+v", v)
		}
		get("/analytics/attention?city=bcn&alarm_minutes=180", &got)
		if v := got.Vehicles[2]; v.Vehicle != "V3" || strings.Join(v.Reasons, ",") != "error,alarm" || v.Alarms != 1 {
			t.Fatalf("V3 with 3 h of alarms %+v", v)
		}
		if v := got.Vehicles[0]; v.Vehicle != "V1" || v.BatteryPct != 12 || v.LastSeen == nil || !v.LastSeen.Equal(now.Add(-5*time.Minute)) {
			t.Fatalf("V1 %+v", v)
		}
		get("/analytics/attention?city=bcn&limit=2", &got)
		if len(got.Vehicles) != 2 || !got.Truncated {
			t.Fatalf("limited %+v", got)
		}
	})
	t.Run("heatmap", func(t *testing.T) {
		var got analytics.HeatmapBody
		get("/analytics/heatmap?city=bcn&cell_m=500&"+q(w.base, w.base.Add(48*time.Hour)), &got)
		if len(got.Cells) != 2 || got.Cells[0].Starts != 3 || got.Cells[0].Ends != 0 || got.Cells[1].Ends != 3 || got.Truncated {
			t.Fatalf("heatmap %+v", got)
		}
		c := got.Cells[0]
		if !(c.MinLat <= 41.3851 && 41.3851 < c.MaxLat && c.MinLon <= 2.1734 && 2.1734 < c.MaxLon) {
			t.Fatalf("start cell %+v does not hold the start", c)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			path   string
			status int
		}{
			{"/analytics/rides?city=bcn&" + q(w.base.Add(time.Hour), w.base), 422},
			{"/analytics/rides?city=bcn&bucket=hour&" + q(w.base, w.base.Add(40*24*time.Hour)), 422},
			{"/analytics/rides?city=bcn&bucket=week&" + q(w.base, w.base.Add(time.Hour)), 422},
			{"/analytics/rides?city=nowhere&" + q(w.base, w.base.Add(time.Hour)), 404},
			{"/analytics/rides?city=BAD!&" + q(w.base, w.base.Add(time.Hour)), 422},
			{"/analytics/heatmap?city=bcn&cell_m=1&" + q(w.base, w.base.Add(time.Hour)), 422},
			{"/analytics/attention?city=bcn&limit=0", 422},
			{"/analytics/utilisation?city=bcn", 422},
		} {
			if r := w.env.Do("GET", adminapi.Prefix+tc.path, w.tokens, nil); r.Status != tc.status {
				t.Errorf("%s: %d %s, want %d", tc.path, r.Status, r.Body, tc.status)
			}
		}
	})
	t.Run("permissions", func(t *testing.T) {
		var routes []adminapi.Route
		for _, r := range w.env.API.Routes() {
			if strings.HasPrefix(r.OperationID, "analytics-") {
				routes = append(routes, r)
			}
		}
		if len(routes) != 5 {
			t.Fatalf("%d analytics routes", len(routes))
		}
		adminapitest.CheckAccess(t, w.env, routes, nil)
	})
}

func TestAnalyticsWithoutClickHouse(t *testing.T) {
	env := adminapitest.New(t)
	analyticstest.City(t, env.DB.Pool, "bcn", "EUR")
	if err := analytics.Register(env.API, analytics.Deps{PG: env.DB.Pool, ClickHouse: func() *chstore.Store { return nil }}); err != nil {
		t.Fatal(err)
	}
	tok, _ := env.TokenWith("analytics.read")
	r := env.Do("GET", adminapi.Prefix+"/analytics/battery?city=bcn", tok, nil)
	if r.Status != 503 || r.Code() != adminapi.CodeUnavailable {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	s, err := analytics.NewRideSync(analytics.SyncConfig{PG: env.DB.Pool, ClickHouse: func() *chstore.Store { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncOnce(t.Context(), time.Minute); err == nil || !strings.Contains(fmt.Sprint(err), "not connected") {
		t.Fatalf("sync without ClickHouse: %v", err)
	}
}
