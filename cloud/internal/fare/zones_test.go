package fare

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/shared/zone"
)

// square is a GeoJSON feature: a lon/lat box with a permissive rule.
func square(id string, lon0, lat0, lon1, lat1 float64, extra string) string {
	return fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"MultiPolygon","coordinates":[[[[%v,%v],[%v,%v],[%v,%v],[%v,%v],[%v,%v]]]]},
"properties":{"rules":[{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true}]%s}}`,
		id, lon0, lat0, lon1, lat0, lon1, lat1, lon0, lat1, lon0, lat0, extra)
}

func testZones(t *testing.T) *zone.Set {
	t.Helper()
	doc := `{"type":"FeatureCollection","features":[` +
		square("center", 2.17, 41.38, 2.18, 41.39, "") + "," +
		square("big", 2.16, 41.37, 2.19, 41.40, "") + "," +
		square("later", 2.16, 41.37, 2.19, 41.40, `,"start":"2027-01-01T00:00:00Z"`) + "]}"
	s, err := zone.Load([]byte(doc), zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestZoneMinutes(t *testing.T) {
	set := testZones(t)
	// East along lat 41.385, one point a minute: out, out, in, in, out, out
	// of "center"; all inside "big".
	var route Route
	for i, lon := range []float64{2.165, 2.169, 2.173, 2.177, 2.181, 2.185} {
		route.Points = append(route.Points, Fix{Time: mins(float64(i)), Lat: 41.385, Lon: lon})
	}
	ids := []string{"center", "big", "later", "nope"}
	tests := []struct {
		name   string
		pauses []Interval
		want   map[string]float64
	}{
		// center: ½ + 1 + ½ minute; big: all 5 minutes; later: not active yet.
		{"no pause", nil, map[string]float64{"center": 2, "big": 5, "later": 0}},
		// Paused 1:30–2:30: the out→in segment keeps 30 s (15 s counted),
		// in→in keeps 30 s, in→out 60 s (30 s counted): 75 s.
		{"pause", []Interval{{mins(1.5), mins(2.5)}}, map[string]float64{"center": 1.25, "big": 4, "later": 0}},
		{"overlapping pauses count once", []Interval{{mins(1.5), mins(2.5)}, {mins(2), mins(2.5)}}, map[string]float64{"center": 1.25, "big": 4, "later": 0}},
		{"open pause to the end", []Interval{{From: mins(4)}}, map[string]float64{"center": 2, "big": 4, "later": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ZoneMinutes(route, set, ids, tc.pauses)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for id, w := range tc.want {
				if g, ok := got[id]; !ok || math.Abs(g-w) > 1e-9 {
					t.Fatalf("%s: got %v, want %v (all %v)", id, g, w, got)
				}
			}
		})
	}
	if got := ZoneMinutes(route, nil, ids, nil); len(got) != 0 {
		t.Fatalf("nil set: %v", got)
	}
}

func TestZonesAt(t *testing.T) {
	set := testZones(t)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lat, lon float64
		at       time.Time
		want     []string
	}{
		{"inside both", 41.385, 2.175, now, []string{"center", "big"}},
		{"inside big only", 41.375, 2.165, now, []string{"big"}},
		{"outside", 41.0, 2.0, now, []string{}},
		{"later zone active in 2027", 41.385, 2.175, now.AddDate(1, 0, 0), []string{"center", "big", "later"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ZonesAt(set, tc.lat, tc.lon, tc.at); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if ZonesAt(nil, 0, 0, now) != nil {
		t.Fatal("nil set")
	}
}

// TestRideFromFixes runs the whole cloud-side path on a zone set: rebuild,
// zones, fare.
func TestRideFromFixes(t *testing.T) {
	set := testZones(t)
	fixes := track(201, 3, 18, 90) // 10 min east from the base point at 18 km/h: 3 km
	fixes[100] = offset(fixes[100], 0, 1500)
	route := Rebuild(fixes, RouteOptions{})
	if route.Dropped != 1 || math.Abs(route.LengthM-3000) > 1 {
		t.Fatalf("route %.1f m, dropped %d", route.LengthM, route.Dropped)
	}
	first, last := route.Points[0], route.Points[len(route.Points)-1]
	ride := Ride{
		Start: first.Time, End: last.Time, Route: route,
		ZoneMinutes: ZoneMinutes(route, set, []string{"center"}, nil),
		StartZones:  ZonesAt(set, first.Lat, first.Lon, first.Time),
		EndZones:    ZonesAt(set, last.Lat, last.Lon, last.Time),
	}
	b, err := Compute(Tariff{Currency: "EUR", UnlockFee: 100, PerMinute: 20, PerKm: 10,
		Surcharges: []Surcharge{{ZoneID: "center", PerMinute: 5, Fixed: 40}}}, ride)
	if err != nil {
		t.Fatal(err)
	}
	// Start 2.1734 is inside center (2.17–2.18); 3 km east (lon ≈ 2.2094) is
	// outside. 10 min = 200; 30 × 100 m = 30; center: fixed 40 + started
	// minutes inside (6.6 mm of lon east of the start ≈ 553 m at 5 m/s ≈ 111 s → 2 min) × 5.
	want := int64(100 + 200 + 30 + 40 + 2*5)
	if b.Total != want || !slices.Contains(ride.StartZones, "center") || slices.Contains(ride.EndZones, "center") {
		t.Fatalf("total %d, want %d; breakdown %+v; zones %v → %v, minutes %v", b.Total, want, b, ride.StartZones, ride.EndZones, ride.ZoneMinutes)
	}
}
