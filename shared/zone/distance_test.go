package zone

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/shared/geo"
)

func TestDistanceToBoundary(t *testing.T) {
	s := loadTestdata(t, "city-geofencing_zones.json", Options{})
	const plaza, area = 1, 5
	tests := []struct {
		name string
		p    orb.Point
		zone int
		foot orb.Point // nearest boundary point, worked out from the rectangle
	}{
		// Plaza Mayor is [-3.7050, -3.7000] × [40.4150, 40.4200]: from its
		// centre the east/west sides (~212 m) are nearer than north/south
		// (~278 m).
		{"inside, centre", ptPlaza, plaza, orb.Point{-3.7000, 40.4175}},
		{"outside, east", orb.Point{-3.6990, 40.4175}, plaza, orb.Point{-3.7000, 40.4175}},
		{"outside, north-east corner", orb.Point{-3.6990, 40.4210}, plaza, orb.Point{-3.7000, 40.4200}},
		// The lake is a hole [-3.69, -3.68] × [40.40, 40.41] of the
		// operating area: its shore is the boundary.
		{"in the hole", ptLake, area, orb.Point{-3.68, 40.405}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := s.DistanceToBoundary(tc.p, tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			want := geo.Distance(tc.p, tc.foot)
			if math.Abs(d-want) > 0.01 {
				t.Errorf("DistanceToBoundary = %.3f m, want %.3f m", d, want)
			}
		})
	}
	if d, _ := s.DistanceToBoundary(ptPlaza, plaza); d < 200 || d > 225 {
		t.Errorf("plaza centre %.1f m from its boundary, expected about 212 m", d)
	}
	if _, err := s.DistanceToBoundary(ptPlaza, 6); !errors.Is(err, ErrUnknownZone) {
		t.Errorf("unknown zone: %v", err)
	}
	if _, err := s.DistanceToBoundary(orb.Point{0, 91}, 1); !errors.Is(err, geo.ErrInvalidCoordinate) {
		t.Errorf("bad point: %v", err)
	}
}

func TestNearestRideEnd(t *testing.T) {
	s := loadTestdata(t, "city-geofencing_zones.json", Options{})
	wed := time.Date(2026, 11, 25, 12, 0, 0, 0, madrid(t))
	const parking = 2
	// The parking zone is [-3.6950, -3.6940] × [40.4250, 40.4260]; from the
	// old-town point (north-west of it) its nearest point is the
	// north-west corner.
	toParking := geo.Distance(ptOldTown, orb.Point{-3.6950, 40.4260})
	tests := []struct {
		name   string
		p      orb.Point
		vt     string
		max    float64
		want   RideEndPlace
		wantOK bool
	}{
		{"old town/scooter", ptOldTown, "scooter", 0, RideEndPlace{parking, toParking}, true},
		{"old town/bike", ptOldTown, "bike", 5000, RideEndPlace{parking, toParking}, true},
		{"old town, too far", ptOldTown, "scooter", 100, RideEndPlace{}, false},
		{"in the parking zone", ptParking, "scooter", 0, RideEndPlace{parking, 0}, true},
		{"lake (global rules refuse)", ptLake, "scooter", 0,
			RideEndPlace{parking, geo.DistanceToBoundaryMulti(ptLake, orb.MultiPolygon{{{{-3.6950, 40.4250}, {-3.6940, 40.4250}, {-3.6940, 40.4260}, {-3.6950, 40.4260}, {-3.6950, 40.4250}}}})}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := s.NearestRideEnd(tc.p, tc.vt, wed, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.wantOK || got.Zone != tc.want.Zone || math.Abs(got.Metres-tc.want.Metres) > 0.01 {
				t.Errorf("NearestRideEnd = %+v, %v; want %+v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
	if _, _, err := s.NearestRideEnd(orb.Point{200, 0}, "scooter", wed, 0); !errors.Is(err, geo.ErrInvalidCoordinate) {
		t.Errorf("bad point: %v", err)
	}

	// A set where the global rules allow ending: the answer is p itself.
	open, err := Load([]byte(doc(okFeature, `[{"ride_start_allowed":true,"ride_end_allowed":true,"ride_through_allowed":true}]`)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := open.NearestRideEnd(orb.Point{5, 5}, "x", wed, 0); !ok || got.Zone != -1 || got.Metres != 0 {
		t.Errorf("global allows ending: %+v %v", got, ok)
	}
}

// TestNearestRideEndPruning compares the bounding-box pruned search with
// computing the distance to every candidate zone, over Paris, where
// escooters may end rides in 200-odd small zones.
func TestNearestRideEndPruning(t *testing.T) {
	s := loadTestdata(t, "paris-geofencing_zones.json", Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	g := &s.grid
	checked := 0
	for checked < 10 {
		p := orb.Point{g.minX + (g.maxX-g.minX)*rng.Float64(), g.minY + (g.maxY-g.minY)*rng.Float64()}
		if s.Evaluate(p, escoot, parisNow).RideEndAllowed {
			continue
		}
		checked++
		got, ok, err := s.NearestRideEnd(p, escoot, parisNow, 0)
		if err != nil || !ok {
			t.Fatalf("%v: %+v %v %v", p, got, ok, err)
		}
		want := RideEndPlace{Zone: -1, Metres: math.Inf(1)}
		for i := range s.zones {
			r := firstRule(s.zones[i].Rules, escoot)
			if r == nil || !r.RideEndAllowed || s.zoneContains(i, p) {
				continue
			}
			if d := geo.DistanceToBoundaryMulti(p, s.zones[i].Geometry); d < want.Metres {
				want = RideEndPlace{i, d}
			}
		}
		if got != want {
			t.Errorf("%v: pruned search %+v, exhaustive %+v", p, got, want)
		}
	}
}

func TestBoundLowerMetres(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 500; i++ {
		lat := -80 + 160*rng.Float64()
		p := orb.Point{-170 + 340*rng.Float64(), lat}
		q := orb.Point{p[0] + (rng.Float64()-0.5)*2, math.Max(-89, math.Min(89, lat+(rng.Float64()-0.5)*2))}
		b := orb.Bound{Min: q, Max: q}
		if lb, d := boundLowerMetres(p, b), geo.Distance(p, q); lb > d {
			t.Fatalf("lower bound %.1f m > distance %.1f m from %v to %v", lb, d, p, q)
		}
	}
}
