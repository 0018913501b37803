package citycfg

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzValidateZones: any uploaded document either validates — then every speed limit of
// every rule is within 0-MaxZoneSpeedKmh — or fails with a *ZonesError matching
// ErrInvalid that names at least one problem; it never panics.
func FuzzValidateZones(f *testing.F) {
	f.Add([]byte(square("z", 2.17, 41.38, 0.01, 10)))
	f.Add([]byte(gbfsDoc(zoneFeature("a", 2.17, 41.38, 60))))
	f.Add([]byte(`{"type":"FeatureCollection","features":[]}`))
	f.Add([]byte(`{"data":{"geofencing_zones":{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}}]}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	if demo, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "demo", "barcelona", "geofencing_zones.json")); err == nil {
		f.Add(demo)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, err := ValidateZones(doc, time.UTC)
		if err != nil {
			var ze *ZonesError
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &ze) || len(ze.Problems) == 0 {
				t.Fatalf("error %v is not a ZonesError with problems", err)
			}
			for _, p := range ze.Problems {
				if p.Message == "" {
					t.Fatalf("problem without a message: %+v", p)
				}
			}
			return
		}
		if set == nil {
			t.Fatal("no error and no set")
		}
		for _, r := range set.GlobalRules() {
			if r.HasMaxSpeed && (r.MaxSpeedKPH < 0 || r.MaxSpeedKPH > MaxZoneSpeedKmh) {
				t.Fatalf("global rule speed %d accepted", r.MaxSpeedKPH)
			}
		}
		for i := range set.Len() {
			z, err := set.Zone(i)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range z.Rules {
				if r.HasMaxSpeed && (r.MaxSpeedKPH < 0 || r.MaxSpeedKPH > MaxZoneSpeedKmh) {
					t.Fatalf("zone %s speed %d accepted", z.ID, r.MaxSpeedKPH)
				}
			}
		}
	})
}
