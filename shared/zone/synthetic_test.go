package zone

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/paulmach/orb"
)

// syntheticCity is a generated GBFS document: n-1 small star-shaped zones
// (some with holes, some scheduled), a cluster of nested zones around
// clusterAt, then a 256-vertex circular operating area, in that order.
type syntheticCity struct {
	doc       []byte
	center    orb.Point
	clusterAt orb.Point
	cluster   int // zones in the nested cluster
}

const metresPerDegLat = 111_320.0

// offset moves c by dx, dy metres (flat approximation, fine for test data).
func offset(c orb.Point, dx, dy float64) orb.Point {
	return orb.Point{
		c[0] + dx/(metresPerDegLat*math.Cos(c[1]*math.Pi/180)),
		c[1] + dy/metresPerDegLat,
	}
}

// starRing is a closed ring of k vertices around c with radii in
// [rmin, rmax] metres at increasing angles (star-shaped, so simple).
// ccw selects the orientation.
func starRing(rng *rand.Rand, c orb.Point, k int, rmin, rmax float64, ccw bool) [][]float64 {
	angles := make([]float64, k)
	for i := range angles {
		angles[i] = (float64(i) + 0.8*rng.Float64()) / float64(k) * 2 * math.Pi
	}
	sort.Float64s(angles)
	ring := make([][]float64, 0, k+1)
	for _, a := range angles {
		r := rmin + (rmax-rmin)*rng.Float64()
		p := offset(c, r*math.Cos(a), r*math.Sin(a))
		ring = append(ring, []float64{p[0], p[1]})
	}
	if !ccw {
		for i, j := 0, len(ring)-1; i < j; i, j = i+1, j-1 {
			ring[i], ring[j] = ring[j], ring[i]
		}
	}
	return append(ring, ring[0])
}

func newSyntheticCity(t testing.TB, n int, seed uint64) syntheticCity {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 42))
	c := orb.Point{-3.7038, 40.4168}
	city := syntheticCity{center: c, clusterAt: offset(c, 1500, -800), cluster: 6}
	rule := func(start, end, through bool, speed int, types ...string) map[string]any {
		r := map[string]any{"ride_start_allowed": start, "ride_end_allowed": end, "ride_through_allowed": through}
		if speed >= 0 {
			r["maximum_speed_kph"] = speed
		}
		if len(types) > 0 {
			r["vehicle_type_ids"] = types
		}
		return r
	}
	feature := func(name string, polys [][][][]float64, rules []map[string]any, ext map[string]any) map[string]any {
		props := map[string]any{"name": []map[string]string{{"text": name, "language": "en"}}, "rules": rules}
		if ext != nil {
			props["fleetedge"] = ext
		}
		return map[string]any{"type": "Feature", "geometry": map[string]any{"type": "MultiPolygon", "coordinates": polys}, "properties": props}
	}
	var features []map[string]any
	// The nested cluster comes first: the innermost zone has precedence.
	for i := 0; i < city.cluster; i++ {
		r := 80 + 90*float64(i)
		ring := starRing(rng, city.clusterAt, 24+8*i, 0.8*r, r, true)
		features = append(features, feature("cluster", [][][][]float64{{ring}},
			[]map[string]any{rule(i%2 == 0, i%3 == 0, true, 5+3*i, "scooter"), rule(true, true, true, 20)},
			map[string]any{"kind": "slow", "alarm_on_entry": i == 0}))
	}
	for len(features) < n-1 {
		k := 16 + rng.IntN(85)
		r := 100 + 500*rng.Float64()
		a := 2 * math.Pi * rng.Float64()
		d := 7000 * math.Sqrt(rng.Float64())
		zc := offset(c, d*math.Cos(a), d*math.Sin(a))
		poly := [][][]float64{starRing(rng, zc, k, 0.6*r, r, rng.IntN(2) == 0)}
		if rng.IntN(8) == 0 {
			poly = append(poly, starRing(rng, zc, 8, 0.1*r, 0.3*r, false))
		}
		var ext map[string]any
		var rules []map[string]any
		switch rng.IntN(4) {
		case 0:
			rules = []map[string]any{rule(false, false, false, 0)}
			ext = map[string]any{"kind": "no_ride", "alarm_on_entry": true}
		case 1:
			rules = []map[string]any{rule(true, false, true, -1)}
			ext = map[string]any{"kind": "no_parking", "schedule": []map[string]any{{"days": []string{"fri", "sat"}, "from": "22:00", "to": "06:00"}}}
		case 2:
			rules = []map[string]any{rule(true, true, true, -1)}
			ext = map[string]any{"kind": "parking"}
		default:
			rules = []map[string]any{rule(true, true, true, 10, "scooter"), rule(true, true, true, 15)}
			ext = map[string]any{"kind": "slow"}
		}
		features = append(features, feature("zone", [][][][]float64{poly}, rules, ext))
	}
	area := starRing(rng, c, 256, 7900, 8000, true)
	features = append(features, feature("operating area", [][][][]float64{{area}},
		[]map[string]any{rule(true, false, true, 25)}, map[string]any{"kind": "operating_area"}))
	doc := map[string]any{
		"last_updated": "2026-11-25T12:00:00Z", "ttl": 60, "version": "3.0",
		"data": map[string]any{
			"geofencing_zones": map[string]any{"type": "FeatureCollection", "features": features},
			"global_rules":     []map[string]any{rule(false, false, true, 6)},
			"fleetedge":        map[string]any{"timezone": "Europe/Madrid"},
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	city.doc = b
	return city
}
