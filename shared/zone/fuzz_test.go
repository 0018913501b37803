package zone

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// FuzzLoad feeds arbitrary bytes to Load: it must never panic, every error
// must be a validation error, and a Set it accepts must evaluate any point
// consistently with the brute-force path.
func FuzzLoad(f *testing.F) {
	f.Add(readTestdata(f, "city-geofencing_zones.json"))
	// The first three Paris zones (the whole file is too big a seed).
	var paris map[string]any
	if err := json.Unmarshal(readTestdata(f, "paris-geofencing_zones.json"), &paris); err != nil {
		f.Fatal(err)
	}
	zones := paris["data"].(map[string]any)["geofencing_zones"].(map[string]any)
	zones["features"] = zones["features"].([]any)[:3]
	small, err := json.Marshal(paris)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	for _, s := range []string{
		doc(okFeature, okGlobal),
		doc(feature(geomOf(okRing, `[[0.2,0.2],[0.2,0.4],[0.4,0.4],[0.4,0.2],[0.2,0.2]]`),
			`{"fleetedge":{"kind":"slow","schedule":[{"days":["fri"],"from":"22:00","to":"06:00"}]},"start":"2026-01-01T00:00:00Z"}`), `[]`),
		`{"type":"FeatureCollection","features":[` + okFeature + `]}`,
		doc(feature(geomOf(`[[0,0],[1,0],[0,0]]`), `{}`), `[{"ride_start_allowed":true}]`),
		`{"last_updated":1,"ttl":-1,"version":2,"data":[]}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	at := []time.Time{
		time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load(data, Options{})
		if err != nil {
			if !errors.Is(err, ErrInvalid) || len(ValidationErrors(err)) == 0 {
				t.Fatalf("error without validation errors: %v", err)
			}
			if s != nil {
				t.Fatal("non-nil Set with an error")
			}
			return
		}
		// Probe fixed points, then each zone's first vertex, the centre of
		// its box, and a point just outside it.
		for _, p := range []orb.Point{{0, 0}, {0.5, 0.5}, {-3.7, 40.42}} {
			if v, b := s.Evaluate(p, "scooter", at[0]), s.evaluateBrute(p, "scooter", at[0]); !verdictEqual(v, b) {
				t.Fatalf("point %v: indexed %+v, brute force %+v", p, v, b)
			}
		}
		for i := 0; i < s.Len() && i < 8; i++ {
			z, err := s.Zone(i)
			if err != nil {
				t.Fatal(err)
			}
			c := z.Bound.Center()
			for _, p := range []orb.Point{z.Geometry[0][0][0], c, {z.Bound.Max[0] + 1e-6, c[1]}} {
				for _, now := range at {
					v := s.Evaluate(p, "scooter", now)
					if b := s.evaluateBrute(p, "scooter", now); !verdictEqual(v, b) {
						t.Fatalf("point %v: indexed %+v, brute force %+v", p, v, b)
					}
				}
			}
		}
	})
}

// FuzzIndex builds zones from arbitrary vertex data (self-intersecting,
// spiky, overlapping, with duplicate vertices) and requires the indexed
// evaluation (grid, full cells, clipped boundary cells) to agree with
// testing every zone's whole geometry, at points that are not exactly on
// an edge (where geo.Contains allows either answer).
func FuzzIndex(f *testing.F) {
	f.Add([]byte{2, 5, 0, 0, 40, 0, 40, 40, 0, 40, 20, 60, 4, 10, 10, 30, 10, 30, 30, 10, 30})
	f.Add([]byte{1, 8, 0, 0, 100, 0, 0, 100, 100, 100, 50, 50, 0, 0, 100, 0, 0, 100})
	f.Add([]byte{3, 3, 200, 200, 10, 200, 100, 10, 3, 0, 0, 255, 0, 0, 255, 6, 5, 5, 250, 5, 250, 250, 5, 250, 128, 128, 130, 128})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		coord := func(b byte) float64 { return float64(int8(b)) * 0.001 }
		var zones []Zone
		n := 1 + int(data[0])%4
		i := 1
		for z := 0; z < n && i < len(data); z++ {
			k := 3 + int(data[i])%30
			i++
			var ring orb.Ring
			for ; k > 0 && i+1 < len(data); k-- {
				ring = append(ring, orb.Point{coord(data[i]), coord(data[i+1])})
				i += 2
			}
			if len(ring) < 3 {
				break
			}
			ring = append(ring, ring[0])
			if ringArea2(ring) == 0 {
				continue
			}
			mp := orb.MultiPolygon{{ring}}
			zones = append(zones, Zone{
				Index: len(zones), ID: strconv.Itoa(len(zones)), Geometry: mp, Bound: mp.Bound(),
				Rules: []Rule{{RideThroughAllowed: z%2 == 0, MaxSpeedKPH: z, HasMaxSpeed: true}},
			})
		}
		if len(zones) == 0 {
			return
		}
		s := newSet(zones, nil, time.UTC, Meta{}, nil)
		onEdge := func(p orb.Point) bool {
			for _, z := range zones {
				r := z.Geometry[0][0]
				for k := 0; k+1 < len(r); k++ {
					a, b := r[k], r[k+1]
					cross := (b[0]-a[0])*(p[1]-a[1]) - (b[1]-a[1])*(p[0]-a[0])
					if math.Abs(cross) < 1e-12 &&
						p[0] >= math.Min(a[0], b[0])-1e-9 && p[0] <= math.Max(a[0], b[0])+1e-9 &&
						p[1] >= math.Min(a[1], b[1])-1e-9 && p[1] <= math.Max(a[1], b[1])+1e-9 {
						return true
					}
				}
			}
			return false
		}
		var probes []orb.Point
		for _, z := range zones {
			for _, v := range z.Geometry[0][0] {
				probes = append(probes, orb.Point{v[0] + 1.3e-7, v[1] - 0.7e-7}, orb.Point{v[0] - 2.1e-6, v[1] + 1.7e-6})
			}
		}
		g := &s.grid
		for cy := 0; cy < g.ny; cy += 1 + g.ny/16 {
			for cx := 0; cx < g.nx; cx += 1 + g.nx/16 {
				probes = append(probes, g.cellCentre(cx, cy))
			}
		}
		for k := i; k+1 < len(data); k += 2 {
			probes = append(probes, orb.Point{coord(data[k]) + 3.1e-5, coord(data[k+1]) - 1.9e-5})
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var v Verdict
		for _, p := range probes {
			if onEdge(p) {
				continue
			}
			s.EvaluateInto(&v, p, "x", now)
			if b := s.evaluateBrute(p, "x", now); !verdictEqual(v, b) {
				t.Fatalf("point %v: indexed %v, brute force %v (zones %v)", p, v.Containing, b.Containing, zones)
			}
		}
	})
}
