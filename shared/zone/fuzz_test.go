package zone

import (
	"encoding/json"
	"errors"
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
		// Probe each zone's first vertex, centre of its box, and a point
		// just outside it.
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
