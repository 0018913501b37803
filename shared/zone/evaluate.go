package zone

import (
	"time"

	"github.com/paulmach/orb"
)

// Source says where an effective rule attribute came from: a zone
// position (>= 0), the global rules, or nowhere.
type Source int32

const (
	// SourceNone: no zone rule and no global rule applies to the vehicle
	// type, or (for optional attributes) none specified it. GBFS then
	// imposes no restriction.
	SourceNone Source = -2
	// SourceGlobal: data.global_rules supplied the attribute.
	SourceGlobal Source = -1
)

// Zone returns the zone position, or false for SourceGlobal/SourceNone.
func (s Source) Zone() (int, bool) { return int(s), s >= 0 }

// Verdict is the outcome of evaluating one point for one vehicle type at
// one instant.
type Verdict struct {
	RideStartAllowed   bool
	RideEndAllowed     bool
	RideThroughAllowed bool
	// SpeedLimited says MaxSpeedKPH applies.
	SpeedLimited   bool
	MaxSpeedKPH    int
	StationParking bool

	// RulesFrom supplied the three ride_*_allowed attributes (always from
	// one rule: they are required in every rule). SpeedFrom and
	// ParkingFrom supplied maximum_speed_kph and station_parking.
	RulesFrom   Source
	SpeedFrom   Source
	ParkingFrom Source

	// Containing lists the positions of the active zones whose geometry
	// contains the point, in precedence (document) order, whatever their
	// rules say for this vehicle type.
	Containing []int
	// Alarm is set when one of the containing zones has the fleetedge
	// alarm_on_entry extension. Use Set.EnteredAlarmZones to tell which
	// were newly entered.
	Alarm bool
}

// Evaluate returns the effective rules at p for vehicleType at now. It
// allocates only for Verdict.Containing when p is inside a zone; use
// EvaluateInto on the hot path to reuse that slice.
func (s *Set) Evaluate(p orb.Point, vehicleType string, now time.Time) Verdict {
	var v Verdict
	s.EvaluateInto(&v, p, vehicleType, now)
	return v
}

// EvaluateInto is Evaluate writing into v, reusing v.Containing's backing
// array: no allocation once it has grown to the largest overlap seen.
func (s *Set) EvaluateInto(v *Verdict, p orb.Point, vehicleType string, now time.Time) {
	containing := v.Containing[:0]
	*v = Verdict{RulesFrom: SourceNone, SpeedFrom: SourceNone, ParkingFrom: SourceNone}
	var lt localTime
	haveRules, haveSpeed, haveParking := false, false, false
	for _, e := range s.grid.cell(p) {
		zi := int(e.zone)
		if !s.geoms[zi].always && !s.active(zi, now, &lt) {
			continue
		}
		switch {
		case e.clip >= 0:
			if !multiPolygonContains(s.grid.clips[e.clip], p) {
				continue
			}
		case e.clip == clipWhole:
			if !s.zoneContains(zi, p) {
				continue
			}
		}
		containing = append(containing, zi)
		z := &s.zones[zi]
		if z.AlarmOnEntry {
			v.Alarm = true
		}
		r := firstRule(z.Rules, vehicleType)
		if r == nil {
			continue
		}
		src := Source(zi)
		if !haveRules {
			v.RideStartAllowed, v.RideEndAllowed, v.RideThroughAllowed = r.RideStartAllowed, r.RideEndAllowed, r.RideThroughAllowed
			v.RulesFrom = src
			haveRules = true
		}
		if !haveSpeed && r.HasMaxSpeed {
			v.SpeedLimited, v.MaxSpeedKPH, v.SpeedFrom = true, r.MaxSpeedKPH, src
			haveSpeed = true
		}
		if !haveParking && r.HasStationParking {
			v.StationParking, v.ParkingFrom = r.StationParking, src
			haveParking = true
		}
	}
	v.Containing = containing
	if haveRules {
		return
	}
	r := firstRule(s.global, vehicleType)
	if r == nil {
		v.RideStartAllowed, v.RideEndAllowed, v.RideThroughAllowed = true, true, true
		return
	}
	v.RideStartAllowed, v.RideEndAllowed, v.RideThroughAllowed = r.RideStartAllowed, r.RideEndAllowed, r.RideThroughAllowed
	v.RulesFrom = SourceGlobal
	if r.HasMaxSpeed {
		v.SpeedLimited, v.MaxSpeedKPH, v.SpeedFrom = true, r.MaxSpeedKPH, SourceGlobal
	}
	if r.HasStationParking {
		v.StationParking, v.ParkingFrom = r.StationParking, SourceGlobal
	}
}

// EnteredAlarmZones appends to dst the zones of cur that are not in prev
// and have alarm_on_entry set. prev and cur are Verdict.Containing values
// (sorted ascending) from the same Set.
func (s *Set) EnteredAlarmZones(dst, prev, cur []int) []int {
	j := 0
	for _, z := range cur {
		for j < len(prev) && prev[j] < z {
			j++
		}
		if j < len(prev) && prev[j] == z {
			continue
		}
		if z >= 0 && z < len(s.zones) && s.zones[z].AlarmOnEntry {
			dst = append(dst, z)
		}
	}
	return dst
}
