package rules

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/shared/zone"
)

// parisSet loads the official GBFS v3.0 example (272 zones over Paris, rules
// per vehicle type), kept in shared/zone's testdata.
func parisSet(t *testing.T) *zone.Set {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "zone", "testdata", "paris-geofencing_zones.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := zone.Load(data, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestParisPerVehicleType: zone #66 of the example ("NGZ ESCOOTER BOIS DE
// BOULOGNE") forbids riding for escooter_paris only, with
// maximum_speed_kph 2: a scooter inside gets the alarm and a ramp that ends
// at 2 km/h; an e-bicycle at the same spot gets neither.
func TestParisPerVehicleType(t *testing.T) {
	set := parisSet(t)
	const zi = 66
	z, err := set.Zone(zi)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var p orb.Point
	found := false
	for k := 1; k < 40 && !found; k++ {
		for l := 1; l < 40 && !found; l++ {
			q := orb.Point{z.Bound.Min[0] + (z.Bound.Max[0]-z.Bound.Min[0])*float64(k)/40,
				z.Bound.Min[1] + (z.Bound.Max[1]-z.Bound.Min[1])*float64(l)/40}
			if v := set.Evaluate(q, "escooter_paris", now); v.RulesFrom == zone.Source(zi) {
				if d, err := set.DistanceToBoundary(q, zi); err == nil && d > 50 {
					p, found = q, true
				}
			}
		}
	}
	if !found {
		t.Fatal("no interior point of zone 66 found")
	}
	h := newHarness(t, Config{}, set)
	evs := h.fixOf(Fix{Vehicle: "V1", Type: "escooter_paris", Point: p, Powered: true, NormalLimitKmh: 20})
	if got := alarms(t, evs); !slices.Equal(got, []string{"no_ride_zone/" + z.ID}) {
		t.Fatalf("scooter alarms %v", got)
	}
	h.expect("scooter enters", buzzer(ReasonNoRide), limit(6, ReasonNoRide))
	h.clk.Advance(10 * time.Second)
	h.expect("ramp ends at the zone's 2 km/h", limit(2, ReasonNoRide), buzzer(ReasonNoRide))

	evs = h.fixOf(Fix{Vehicle: "B1", Type: "ebicycle_paris", Point: p, Powered: true, NormalLimitKmh: 20})
	if len(evs) != 0 {
		t.Fatalf("e-bicycle alarms %v", alarms(t, evs))
	}
	for _, s := range h.rec.take() {
		if s.reason == ReasonNoRide {
			t.Fatalf("e-bicycle got %v", s)
		}
	}
}
