package loadgen

import (
	"math"
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/shared/zone"
	"github.com/fleetedge/fleetedge/tools/sim"
)

// HysteresisProbe is a sim.ZoneProbe for a gateway whose rules hold a zone
// change until the fix is metres away from the changed border (the gateway's
// --hysteresis-metres, default 10). Its key is the effective speed limit (as
// sim.SpeedLimitProbe) plus the ids of the zones whose border is closer than
// metres. A fix the gateway holds near a border and the later fix that makes
// it act therefore have different keys, so the simulator records the acting
// fix as the crossing and measures the 13's latency from it, not from the
// held fix 5 s earlier. (Keys also change near borders the vehicle does not
// cross; those crossings have no 13 and are never claimed.) metres <= 0 gives
// sim.SpeedLimitProbe's keys.
func HysteresisProbe(set *zone.Set, vehicleType string, metres float64, clock sim.Clock) sim.ZoneProbe {
	if clock == nil {
		clock = sim.SystemClock{}
	}
	bounds := make([]orb.Bound, set.Len())
	for i := range bounds {
		if z, err := set.Zone(i); err == nil {
			bounds[i] = z.Bound
		}
	}
	return func(lat, lon float64) string {
		p := orb.Point{lon, lat}
		v := set.Evaluate(p, vehicleType, clock.Now())
		key := "none"
		if v.SpeedLimited {
			key = strconv.Itoa(v.MaxSpeedKPH)
		}
		if metres <= 0 {
			return key
		}
		dLat := metres / 111_000
		dLon := dLat / math.Max(0.01, math.Cos(lat*math.Pi/180))
		var b strings.Builder
		b.WriteString(key)
		for i, bd := range bounds {
			if lon < bd.Min[0]-dLon || lon > bd.Max[0]+dLon || lat < bd.Min[1]-dLat || lat > bd.Max[1]+dLat {
				continue
			}
			if d, err := set.DistanceToBoundary(p, i); err == nil && d < metres {
				b.WriteString("|")
				b.WriteString(strconv.Itoa(i))
			}
		}
		return b.String()
	}
}
