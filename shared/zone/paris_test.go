package zone

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

const (
	ebike   = "ebicycle_paris"
	escoot  = "escooter_paris"
	unknown = "cargo_bike"
)

var parisNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestParisLoads(t *testing.T) {
	s := loadTestdata(t, "paris-geofencing_zones.json", Options{})
	if s.Len() != 272 {
		t.Fatalf("Len = %d, want 272", s.Len())
	}
	m := s.Meta()
	if m.Version != "3.0" || m.TTL != time.Minute || m.Bare {
		t.Errorf("Meta = %+v", m)
	}
	if want := time.Date(2019, 7, 4, 13, 33, 3, 969e6, time.UTC); !m.LastUpdated.Equal(want) {
		t.Errorf("LastUpdated = %v, want %v", m.LastUpdated, want)
	}
	// 272 zones with one rule each, one with two, plus one global rule.
	if w := s.Warnings(); len(w) != 1 || !strings.Contains(w[0], "274 rules use the GBFS v2 field vehicle_type_id") {
		t.Errorf("Warnings = %q", w)
	}
	z, err := s.Zone(1)
	if err != nil {
		t.Fatal(err)
	}
	if z.Name("en") != "Jardin de l'Imperatrice Eugenie" || z.ID != "#1" {
		t.Errorf("zone 1 = %q id %q", z.Name("en"), z.ID)
	}
	if i, ok := s.Lookup("#271"); !ok || i != 271 {
		t.Errorf("Lookup(#271) = %d, %v", i, ok)
	}
	if _, err := s.Zone(272); err == nil {
		t.Error("Zone(272) succeeded")
	}
	if len(s.GlobalRules()) != 1 {
		t.Errorf("global rules = %d", len(s.GlobalRules()))
	}
	st := s.IndexStats()
	t.Logf("index: %d×%d cells of %.5f°×%.5f°, %d full + %d partial entries",
		st.Columns, st.Rows, st.CellWidth, st.CellHeight, st.FullEntries, st.PartialEntries)
}

// TestParisRules checks points computed inside chosen zones against
// expectations worked out by hand from the document (zone order, each
// zone's rules for each vehicle type).
func TestParisRules(t *testing.T) {
	s := loadTestdata(t, "paris-geofencing_zones.json", Options{})
	zonePt := func(zone int) orb.Point {
		z, err := s.Zone(zone)
		if err != nil {
			t.Fatal(err)
		}
		return interiorPoint(t, z.Geometry[0])
	}
	// Zone 271's hole: the interior point of the hole ring alone.
	z271, _ := s.Zone(271)
	holePt := interiorPoint(t, orb.Polygon{z271.Geometry[0][1]})

	type want struct {
		start, end, through bool
		rulesFrom           Source
		speed               int // -1: no limit
		speedFrom           Source
		containing          []int
	}
	allowed := func(from Source, speed int, speedFrom Source, containing ...int) want {
		return want{true, true, true, from, speed, speedFrom, containing}
	}
	tests := []struct {
		name string
		p    orb.Point
		vt   string
		want want
	}{
		// Zone 0 "BA Nov 23" (e-bikes only, no limit) covers central Paris;
		// zone 1 (a garden, both types, 10 km/h) lies inside it.
		{"garden/ebike: rules from zone 0, speed from zone 1", zonePt(1), ebike,
			allowed(0, 10, 1, 0, 1)},
		{"garden/escooter: zone 0 does not apply", zonePt(1), escoot,
			allowed(1, 10, 1, 0, 1)},
		// Zone 3 "Polygon 140": no riding at all, 2 km/h, both types.
		{"no-ride/ebike: zone 0 wins the booleans, zone 3 the speed", zonePt(3), ebike,
			allowed(0, 2, 3, 0, 3)},
		{"no-ride/escooter", zonePt(3), escoot,
			want{false, false, false, 3, 2, 3, []int{0, 3}}},
		// Zone 6 "Slow speed Bois" (e-bikes 20 km/h) over zone 66 (escooter
		// no-go, 2 km/h) over zone 271 (outer ring: through only).
		{"bois/ebike: first zone with a matching rule", zonePt(6), ebike,
			allowed(6, 20, 6, 6, 66, 271)},
		{"bois/escooter: zone 6 skipped, zone 66 applies", zonePt(6), escoot,
			want{false, false, false, 66, 2, 66, []int{6, 66, 271}}},
		// Zone 244 comes after 66 in the file: escooter gets 66, e-bike skips
		// 66 (escooter-only) and gets 244.
		{"bois 244/ebike", zonePt(244), ebike, allowed(244, 15, 244, 66, 244, 271)},
		{"bois 244/escooter", zonePt(244), escoot,
			want{false, false, false, 66, 2, 66, []int{66, 244, 271}}},
		// Zone 87 "No parking rock en seine 1": no start/end, no speed;
		// zone 231 "OBA 2kmh" underneath supplies the speed.
		{"no-parking/ebike: speed from the later zone 231", zonePt(87), ebike,
			want{false, false, true, 87, 2, 231, []int{87, 231, 271}}},
		// Zone 231 has two rules; the first (both types, 2 km/h) wins over
		// the second (e-bikes, 6 km/h).
		{"two rules/ebike: first matching rule", zonePt(231), ebike, allowed(231, 2, 231, 231)},
		{"two rules/escooter", zonePt(231), escoot, allowed(231, 2, 231, 231)},
		// Zone 271 itself, where zone 66 (escooter only) also lies.
		{"outer ring/ebike", zonePt(271), ebike,
			want{false, false, true, 271, -1, SourceNone, []int{66, 271}}},
		// The hole of zone 271 is not part of it: only zone 0 contains it.
		{"hole/ebike", holePt, ebike, allowed(0, -1, SourceNone, 0)},
		{"hole/escooter: no zone applies, global rules", holePt, escoot,
			want{false, false, false, SourceGlobal, -1, SourceNone, []int{0}}},
		// Outside every zone (north-east corner of the extent).
		{"outside/ebike: global rules", orb.Point{2.6, 48.95}, ebike,
			want{false, false, false, SourceGlobal, -1, SourceNone, nil}},
		{"outside/unknown type: no rule at all", orb.Point{2.6, 48.95}, unknown,
			allowed(SourceNone, -1, SourceNone)},
		{"far away/escooter", orb.Point{-3.7, 40.4}, escoot,
			want{false, false, false, SourceGlobal, -1, SourceNone, nil}},
		// Unknown vehicle types match only rules without vehicle_type_ids;
		// Paris has none, so every zone is transparent to them.
		{"garden/unknown type", zonePt(1), unknown, allowed(SourceNone, -1, SourceNone, 0, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := s.Evaluate(tc.p, tc.vt, parisNow)
			w := tc.want
			if v.RideStartAllowed != w.start || v.RideEndAllowed != w.end || v.RideThroughAllowed != w.through {
				t.Errorf("start/end/through = %v/%v/%v, want %v/%v/%v",
					v.RideStartAllowed, v.RideEndAllowed, v.RideThroughAllowed, w.start, w.end, w.through)
			}
			if v.RulesFrom != w.rulesFrom {
				t.Errorf("RulesFrom = %d, want %d", v.RulesFrom, w.rulesFrom)
			}
			if w.speed < 0 {
				if v.SpeedLimited {
					t.Errorf("speed limited to %d from %d, want no limit", v.MaxSpeedKPH, v.SpeedFrom)
				}
			} else if !v.SpeedLimited || v.MaxSpeedKPH != w.speed {
				t.Errorf("speed = %v %d, want %d", v.SpeedLimited, v.MaxSpeedKPH, w.speed)
			}
			if v.SpeedFrom != w.speedFrom {
				t.Errorf("SpeedFrom = %d, want %d", v.SpeedFrom, w.speedFrom)
			}
			if !sameInts(v.Containing, w.containing) {
				t.Errorf("Containing = %v, want %v", v.Containing, w.containing)
			}
			if b := s.evaluateBrute(tc.p, tc.vt, parisNow); !verdictEqual(b, v) {
				t.Errorf("brute force = %+v, indexed = %+v", b, v)
			}
		})
	}
}

func verdictEqual(a, b Verdict) bool {
	if len(a.Containing) == 0 {
		a.Containing = nil
	}
	if len(b.Containing) == 0 {
		b.Containing = nil
	}
	return reflect.DeepEqual(a, b)
}
