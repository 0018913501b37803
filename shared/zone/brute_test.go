package zone

import (
	"time"

	"github.com/paulmach/orb"
)

// evaluateBrute is Evaluate without the spatial index: every zone is
// tested. Tests compare it with the indexed path.
func (s *Set) evaluateBrute(p orb.Point, vehicleType string, now time.Time) Verdict {
	v := Verdict{RulesFrom: SourceNone, SpeedFrom: SourceNone, ParkingFrom: SourceNone}
	var lt localTime
	haveRules, haveSpeed, haveParking := false, false, false
	for zi := range s.zones {
		if !s.active(zi, now, &lt) || !s.zoneContains(zi, p) {
			continue
		}
		v.Containing = append(v.Containing, zi)
		z := &s.zones[zi]
		v.Alarm = v.Alarm || z.AlarmOnEntry
		r := firstRule(z.Rules, vehicleType)
		if r == nil {
			continue
		}
		if !haveRules {
			v.RideStartAllowed, v.RideEndAllowed, v.RideThroughAllowed, v.RulesFrom = r.RideStartAllowed, r.RideEndAllowed, r.RideThroughAllowed, Source(zi)
			haveRules = true
		}
		if !haveSpeed && r.HasMaxSpeed {
			v.SpeedLimited, v.MaxSpeedKPH, v.SpeedFrom, haveSpeed = true, r.MaxSpeedKPH, Source(zi), true
		}
		if !haveParking && r.HasStationParking {
			v.StationParking, v.ParkingFrom, haveParking = r.StationParking, Source(zi), true
		}
	}
	if haveRules {
		return v
	}
	if r := firstRule(s.global, vehicleType); r != nil {
		v.RideStartAllowed, v.RideEndAllowed, v.RideThroughAllowed, v.RulesFrom = r.RideStartAllowed, r.RideEndAllowed, r.RideThroughAllowed, SourceGlobal
		if r.HasMaxSpeed {
			v.SpeedLimited, v.MaxSpeedKPH, v.SpeedFrom = true, r.MaxSpeedKPH, SourceGlobal
		}
		if r.HasStationParking {
			v.StationParking, v.ParkingFrom = r.StationParking, SourceGlobal
		}
	} else {
		v.RideStartAllowed, v.RideEndAllowed, v.RideThroughAllowed = true, true, true
	}
	return v
}
