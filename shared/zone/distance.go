package zone

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/shared/geo"
)

// DistanceToBoundary returns the geodesic (WGS84) distance in metres from p
// to the nearest point of zone i's boundary, outer rings and holes alike,
// whether p is inside or outside the zone. The gateway uses it for
// hysteresis: act on leaving or entering a zone only once the fix is a
// few metres past the boundary. Errors: ErrUnknownZone, or an invalid
// point (geo.ErrInvalidCoordinate).
func (s *Set) DistanceToBoundary(p orb.Point, zone int) (float64, error) {
	if zone < 0 || zone >= len(s.zones) {
		return 0, fmt.Errorf("zone: distance to boundary: %d: %w", zone, ErrUnknownZone)
	}
	if err := geo.CheckPoint(p); err != nil {
		return 0, fmt.Errorf("zone: distance to boundary: %w", err)
	}
	return geo.DistanceToBoundaryMulti(p, s.zones[zone].Geometry), nil
}

// RideEndPlace is the answer of NearestRideEnd.
type RideEndPlace struct {
	// Zone is the position of the zone where the ride may end, or -1 when
	// the ride may end at p itself by the global rules (or no rule).
	Zone int
	// Metres is the geodesic distance from p to the zone; 0 when the ride
	// may end at p.
	Metres float64
}

// NearestRideEnd finds, for a vehicle of vehicleType at p, the nearest
// place where its ride may end, within maxMetres (<= 0: no limit), for
// messages such as "end ride refused: nearest allowed area is X, 120 m
// away". ok is false when there is none within reach.
//
// If Evaluate allows ending at p, the answer is p itself (distance 0).
// Otherwise the candidates are the zones active at now whose own first
// rule for vehicleType has ride_end_allowed; the distance is to the
// nearest point of the zone's geometry. Two approximations: a candidate's
// area may be partly overridden by an earlier zone that forbids ending
// (only at p itself is that taken into account: a candidate containing p
// is skipped), and places where only the global rules allow ending are not
// searched. The gateway should evaluate the rider's final position anyway.
//
// Not for the per-fix hot path: it allocates and may compute several
// geodesic distances.
func (s *Set) NearestRideEnd(p orb.Point, vehicleType string, now time.Time, maxMetres float64) (RideEndPlace, bool, error) {
	if err := geo.CheckPoint(p); err != nil {
		return RideEndPlace{}, false, fmt.Errorf("zone: nearest ride end: %w", err)
	}
	v := s.Evaluate(p, vehicleType, now)
	if v.RideEndAllowed {
		zi, isZone := v.RulesFrom.Zone()
		if !isZone {
			zi = -1
		}
		return RideEndPlace{Zone: zi, Metres: 0}, true, nil
	}
	if maxMetres <= 0 {
		maxMetres = math.Inf(1)
	}
	type candidate struct {
		zone  int
		lower float64 // lower bound of the distance, from the bounding box
	}
	var cands []candidate
	var lt localTime
	for i := range s.zones {
		z := &s.zones[i]
		r := firstRule(z.Rules, vehicleType)
		if r == nil || !r.RideEndAllowed || !s.active(i, now, &lt) {
			continue
		}
		if lb := boundLowerMetres(p, z.Bound); lb <= maxMetres {
			cands = append(cands, candidate{i, lb})
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		switch {
		case a.lower < b.lower:
			return -1
		case a.lower > b.lower:
			return 1
		}
		return a.zone - b.zone
	})
	best := RideEndPlace{Zone: -1, Metres: math.Inf(1)}
	for _, c := range cands {
		if c.lower > best.Metres {
			break
		}
		if s.zoneContains(c.zone, p) {
			// Ending is refused at p although this zone allows it: an
			// earlier zone overrides it here.
			continue
		}
		d := geo.DistanceToBoundaryMulti(p, s.zones[c.zone].Geometry)
		if d < best.Metres || (d == best.Metres && c.zone < best.Zone) {
			best = RideEndPlace{Zone: c.zone, Metres: d}
		}
	}
	if best.Zone < 0 || best.Metres > maxMetres {
		return RideEndPlace{}, false, nil
	}
	return best, true, nil
}

// boundLowerMetres is a lower bound of the geodesic distance from p to any
// point of b, used only to order and prune candidates: the degree gaps
// times the smallest radii of curvature of WGS84 at the latitudes
// involved, with a 10% safety margin.
func boundLowerMetres(p orb.Point, b orb.Bound) float64 {
	dLon := math.Max(0, math.Max(b.Min[0]-p[0], p[0]-b.Max[0]))
	dLat := math.Max(0, math.Max(b.Min[1]-p[1], p[1]-b.Max[1]))
	if dLon == 0 && dLat == 0 {
		return 0
	}
	const (
		minMeridianRadius = 6_335_439.0 // WGS84 meridional radius at the equator (its minimum)
		equatorRadius     = 6_378_137.0
		rad               = math.Pi / 180
	)
	maxLat := math.Max(math.Abs(p[1]), math.Max(math.Abs(b.Min[1]), math.Abs(b.Max[1])))
	ns := minMeridianRadius * dLat * rad
	ew := equatorRadius * math.Cos(math.Min(maxLat, 90)*rad) * dLon * rad
	return 0.9 * math.Max(ns, ew)
}
