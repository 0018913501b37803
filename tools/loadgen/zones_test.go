package loadgen

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/shared/zone"
	"github.com/fleetedge/fleetedge/tools/citymap"
)

func demoCity(t *testing.T) ([]byte, *citymap.Graph) {
	t.Helper()
	base, err := os.ReadFile("../../deploy/demo/barcelona/geofencing_zones.json")
	if err != nil {
		t.Fatal(err)
	}
	streets, err := os.ReadFile("../../deploy/demo/barcelona/streets.json")
	if err != nil {
		t.Fatal(err)
	}
	g, err := citymap.Parse(streets)
	if err != nil {
		t.Fatal(err)
	}
	return base, g
}

func TestCityZones(t *testing.T) {
	base, g := demoCity(t)
	baseSet, err := zone.Load(base, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := CityZones(base, g, ZoneOptions{Total: 500, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	set, err := zone.Load(out, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 500 {
		t.Fatalf("%d zones, want 500", set.Len())
	}
	// The demo's zones keep their order; the generated ones come right
	// before the operating area, which stays last.
	last, _ := set.Zone(set.Len() - 1)
	if last.Kind != zone.KindOperatingArea {
		t.Errorf("last zone is %q (%s), want the operating area", last.ID, last.Kind)
	}
	slow := 0
	for i := range set.Len() {
		z, _ := set.Zone(i)
		if strings.HasPrefix(z.ID, "bench-slow-") {
			slow++
			if i < baseSet.Len()-1 {
				t.Fatalf("generated zone %s at %d, before the demo's zones", z.ID, i)
			}
			// Centre on a street: the zone contains the centre of its bounding box
			// and the rules say slow, ride allowed.
			if len(z.Rules) != 1 || !z.Rules[0].RideThroughAllowed || !z.Rules[0].HasMaxSpeed {
				t.Fatalf("zone %s rules %+v", z.ID, z.Rules)
			}
			if !set.Contains(i, z.Bound.Center()) {
				t.Fatalf("zone %s does not contain its centre", z.ID)
			}
		}
	}
	if slow != 500-baseSet.Len() {
		t.Fatalf("%d generated zones, want %d", slow, 500-baseSet.Len())
	}
	// Same seed, same file.
	again, err := CityZones(base, g, ZoneOptions{Total: 500, Seed: 1})
	if err != nil || string(again) != string(out) {
		t.Fatalf("not deterministic (err %v)", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil || doc["version"] != "3.0" {
		t.Fatalf("header lost: %v %v", err, doc["version"])
	}
}

func TestCityZonesErrors(t *testing.T) {
	base, g := demoCity(t)
	cases := map[string]struct {
		base []byte
		opts ZoneOptions
	}{
		"fewer than the base": {base, ZoneOptions{Total: 3}},
		"streets too short":   {base, ZoneOptions{Total: 5000}},
		"not json":            {[]byte("nope"), ZoneOptions{}},
		"no geofencing_zones": {[]byte(`{"data":{}}`), ZoneOptions{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := CityZones(tc.base, g, tc.opts); !errors.Is(err, ErrZones) {
				t.Fatalf("err %v, want ErrZones", err)
			}
		})
	}
}
