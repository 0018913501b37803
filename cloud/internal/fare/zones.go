package fare

import (
	"time"

	"github.com/fleetedge/fleetedge/shared/zone"
	"github.com/paulmach/orb"
)

// ZonesAt returns the ids of the zones of set that are active at t and
// contain (lat, lon), in precedence order: the StartZones / EndZones of a
// Ride. A nil set gives nil.
func ZonesAt(set *zone.Set, lat, lon float64, t time.Time) []string {
	if set == nil {
		return nil
	}
	v := set.Evaluate(orb.Point{lon, lat}, "", t)
	ids := make([]string, 0, len(v.Containing))
	for _, i := range v.Containing {
		if z, err := set.Zone(i); err == nil {
			ids = append(ids, z.ID)
		}
	}
	return ids
}

// ZoneMinutes returns, for each id of ids that set knows, the minutes the
// route spent inside that zone while riding: the Ride.ZoneMinutes input.
//
// Each segment between consecutive route points counts fully when both
// ends are inside the zone (and the zone is active at that end's time),
// half when one end is (the crossing is taken to be mid-segment), not at
// all otherwise; the part of a segment that falls in a pause (pauses as
// in Ride.Pauses, a zero To meaning "until the last point") is left out.
// Unknown ids are absent from the result; known ones are present even
// with 0.
func ZoneMinutes(r Route, set *zone.Set, ids []string, pauses []Interval) map[string]float64 {
	out := make(map[string]float64, len(ids))
	if set == nil {
		return out
	}
	var end time.Time
	if n := len(r.Points); n > 0 {
		end = r.Points[n-1].Time
	}
	merged := make([]Interval, 0, len(pauses))
	for _, p := range pauses {
		if p.To.IsZero() {
			p.To = end
		}
		if p.To.After(p.From) {
			merged = append(merged, p)
		}
	}
	merged = mergeIntervals(merged)
	for _, id := range ids {
		zi, ok := set.Lookup(id)
		if !ok {
			continue
		}
		var secs float64
		inside := func(p Fix) bool {
			return set.Active(zi, p.Time) && set.Contains(zi, orb.Point{p.Lon, p.Lat})
		}
		for k := 1; k < len(r.Points); k++ {
			a, b := r.Points[k-1], r.Points[k]
			inA, inB := inside(a), inside(b)
			if !inA && !inB {
				continue
			}
			ride := ridingSeconds(a.Time, b.Time, merged)
			if inA && inB {
				secs += ride
			} else {
				secs += ride / 2
			}
		}
		out[id] = secs / 60
	}
	return out
}

// ridingSeconds is the part of [from, to) outside the (merged) pauses, in
// seconds.
func ridingSeconds(from, to time.Time, pauses []Interval) float64 {
	d := to.Sub(from)
	if d <= 0 {
		return 0
	}
	for _, p := range pauses {
		lo, hi := maxTime(p.From, from), minTime(p.To, to)
		if hi.After(lo) {
			d -= hi.Sub(lo)
		}
	}
	return d.Seconds()
}
