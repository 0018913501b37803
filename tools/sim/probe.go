package sim

import (
	"strconv"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/shared/zone"
)

// SpeedLimitProbe classifies a position by the effective speed limit of set
// for vehicleType at the clock's time: "none" outside any limit, else the
// km/h ("10", "0"). A change of that key is what makes a gateway send 13, so
// it is the probe a fix→13 latency benchmark wants (with the gateway's zones).
func SpeedLimitProbe(set *zone.Set, vehicleType string, clock Clock) ZoneProbe {
	if clock == nil {
		clock = SystemClock{}
	}
	return func(lat, lon float64) string {
		v := set.Evaluate(orb.Point{lon, lat}, vehicleType, clock.Now())
		if !v.SpeedLimited {
			return "none"
		}
		return strconv.Itoa(v.MaxSpeedKPH)
	}
}
