package rides_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi/riderapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/rides"
	"github.com/fleetedge/fleetedge/protocol/link"
)

type nearbyJSON struct {
	Vehicles []struct {
		Number     string
		Position   struct{ Lat, Lon float64 }
		BatteryPct int     `json:"battery_pct"`
		RangeKm    float64 `json:"estimated_range_km"`
		DistanceM  int     `json:"distance_m"`
	}
}

// TestNearby: only rentable vehicles (available, online, battery ≥ minimum), within the
// geodesic radius, nearest first, with battery and range.
func TestNearby(t *testing.T) {
	e := newEnv(t)
	e.vehicle("NB001", 41.3900, 2.1600, 80)  // at the point
	e.vehicle("NB002", 41.3927, 2.1600, 50)  // ~300 m north
	e.vehicle("NB003", 41.3900, 2.1700, 90)  // ~835 m east: outside 500 m
	e.vehicle("NB004", 41.3901, 2.1601, 10)  // battery below the minimum
	e.vehicle("NB005", 41.3902, 2.1600, 100) // in maintenance
	e.vehicle("NB006", 41.3903, 2.1600, 100) // offline
	if _, err := e.admin.DB.Pool.Exec(t.Context(), `UPDATE vehicles SET status = 'maintenance' WHERE number = 'NB005'`); err != nil {
		t.Fatal(err)
	}
	e.seq++
	e.live.ApplyEvent(testCity, "gw-1", &link.Event{Seq: e.seq, Vehicle: "NB006", Time: e.clock.Now(), Kind: link.EventStateChanged,
		State: &link.StateEvent{From: "online", To: "offline"}})
	if err := e.svc.RefreshIndex(t.Context()); err != nil {
		t.Fatal(err)
	}
	rd := e.fundedRider(0)
	r := e.do("GET", "/v1/vehicles/nearby?lat=41.39&lon=2.16&radius_m=500", rd.Token, nil)
	var got nearbyJSON
	r.JSON(t, &got)
	if r.Status != 200 || len(got.Vehicles) != 2 || got.Vehicles[0].Number != "NB001" || got.Vehicles[1].Number != "NB002" {
		t.Fatalf("nearby: %d %s", r.Status, r.Body)
	}
	v := got.Vehicles[1]
	if v.DistanceM < 295 || v.DistanceM > 305 || v.BatteryPct != 50 || v.RangeKm != 17.5 {
		t.Errorf("NB002: %+v (want ~300 m, 50%%, 17.5 km)", v)
	}
	r = e.do("GET", "/v1/vehicles/nearby?lat=41.39&lon=2.16&radius_m=1000&limit=2", rd.Token, nil)
	r.JSON(t, &got)
	if len(got.Vehicles) != 2 {
		t.Errorf("limit 2: %s", r.Body)
	}
	r = e.do("GET", "/v1/vehicles/nearby?lat=41.39&lon=2.16&radius_m=1000", rd.Token, nil)
	r.JSON(t, &got)
	if len(got.Vehicles) != 3 || got.Vehicles[2].Number != "NB003" {
		t.Errorf("1 km: %s", r.Body)
	}
	for _, q := range []string{"lat=41.39&lon=2.16&radius_m=5001", "lat=91&lon=2", "lon=2", "lat=41&lon=2&limit=0", "lat=x&lon=2"} {
		if r := e.do("GET", "/v1/vehicles/nearby?"+q, rd.Token, nil); r.Status != 422 {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := e.do("GET", "/v1/vehicles/nearby?lat=41.39&lon=2.16", "", nil); r.Status != 401 {
		t.Errorf("no token: %d", r.Status)
	}
}

func TestParseVehicleRef(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"12AB", "12AB"}, {" BCN00001 ", "BCN00001"}, {"https://ride.example.com/v/12AB", "12AB"},
		{"http://x.y/app/v/AB_1-2?utm=qr#x", "AB_1-2"}, {"https://x.y/v/12AB/", "12AB"},
		{"", ""}, {"https://x.y/w/12AB", ""}, {"ftp://x.y/v/12AB", ""}, {"12 AB", ""}, {"https://x.y/v/12%20AB", ""},
		{"https:///v/12AB", ""}, {"javascript:alert(1)", ""},
	} {
		got, err := rides.ParseVehicleRef(c.in)
		if got != c.want || (c.want == "") != (err != nil) {
			t.Errorf("%q: %q %v, want %q", c.in, got, err, c.want)
		}
	}
}

// BenchmarkNearby: queries/s of the nearby index over a 10,000-vehicle city (500 m radius,
// random points over the city), parallel.
func BenchmarkNearby(b *testing.B) {
	db := pgstoretest.New(b)
	ctx := b.Context()
	live := livestate.New()
	var cityID int64
	if err := db.Pool.QueryRow(ctx, `INSERT INTO cities (code, name, currency) VALUES ('bench', 'Bench', 'EUR') RETURNING id`).Scan(&cityID); err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	if _, err := db.Pool.Exec(ctx, `INSERT INTO vehicles (number, city_id) SELECT 'B' || g, $1 FROM generate_series(1, $2) g`, cityID, n); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	for i := 1; i <= n; i++ {
		bat := 20 + rng.IntN(80)
		live.Apply("bench", "gw", &link.Telemetry{Seq: uint64(i), Vehicle: fmt.Sprintf("B%d", i), Time: now,
			Position: &link.Position{Lat: 41.35 + rng.Float64()*0.08, Lon: 2.10 + rng.Float64()*0.12}, BatteryPct: &bat})
	}
	svc, err := rides.New(rides.Config{Pool: db.Pool, Live: live})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.RefreshIndex(ctx); err != nil {
		b.Fatal(err)
	}
	if svc.Index().Len() != n {
		b.Fatalf("index holds %d", svc.Index().Len())
	}
	if got := svc.Index().Query(41.39, 2.16, 500, 50); len(got) == 0 {
		b.Fatalf("nothing near the centre")
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer func() { b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s") }()
	var found atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 3))
		n := 0
		for pb.Next() {
			n += len(svc.Index().Query(41.35+r.Float64()*0.08, 2.10+r.Float64()*0.12, 500, 50))
		}
		found.Add(int64(n))
	})
	b.ReportMetric(float64(found.Load())/float64(b.N), "vehicles/query")
}

// BenchmarkNearbyHTTP: GET /v1/vehicles/nearby through the rider API (bearer token check,
// query validation, JSON) over loopback, 10,000 vehicles, 500 m radius, parallel clients.
func BenchmarkNearbyHTTP(b *testing.B) {
	re := riderapitest.New(b)
	ctx := b.Context()
	var cityID int64
	if err := re.DB.Pool.QueryRow(ctx, `INSERT INTO cities (code, name, currency) VALUES ('bench', 'Bench', 'EUR') RETURNING id`).Scan(&cityID); err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	if _, err := re.DB.Pool.Exec(ctx, `INSERT INTO vehicles (number, city_id) SELECT 'B' || g, $1 FROM generate_series(1, $2) g`, cityID, n); err != nil {
		b.Fatal(err)
	}
	live := livestate.New()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	for i := 1; i <= n; i++ {
		bat := 20 + rng.IntN(80)
		live.Apply("bench", "gw", &link.Telemetry{Seq: uint64(i), Vehicle: fmt.Sprintf("B%d", i), Time: now,
			Position: &link.Position{Lat: 41.35 + rng.Float64()*0.08, Lon: 2.10 + rng.Float64()*0.12}, BatteryPct: &bat})
	}
	svc, err := rides.New(rides.Config{Pool: re.DB.Pool, Live: live})
	if err != nil {
		b.Fatal(err)
	}
	svc.RegisterRider(re.API.Huma())
	if err := svc.RefreshIndex(ctx); err != nil {
		b.Fatal(err)
	}
	tok := re.SignUp("").Token
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 4))
		for pb.Next() {
			url := fmt.Sprintf("%s/v1/vehicles/nearby?lat=%.5f&lon=%.5f&radius_m=500", re.URL, 41.35+r.Float64()*0.08, 2.10+r.Float64()*0.12)
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}
