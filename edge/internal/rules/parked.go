package rules

import (
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// OnVibration handles a vibration report (88, or the removed 57). While the
// vehicle is powered off (parked) it is a theft suspicion: an alarm event,
// and unless configured otherwise the buzzer (28) and a motor lock (107), at
// most once per Config.Theft.Cooldown per vehicle. While powered on (riding)
// vibration is expected and ignored. pos is the last known position (may be
// nil). The events are appended to dst.
func (e *Engine) OnVibration(dst []link.Event, id protocol.VehicleID, powered bool, pos *link.Position, now time.Time) []link.Event {
	if powered || e.closed.Load() {
		return dst
	}
	e.m.vibrations.Inc()
	v := e.lock(id)
	defer v.mu.Unlock()
	if cd := e.cfg.Theft.Cooldown; cd > 0 && !v.lastTheft.IsZero() && now.Sub(v.lastTheft) < cd {
		return dst
	}
	v.lastTheft = now
	dst = append(dst, alarmEvent(id, now, AlarmVibration, "", pos))
	e.m.alarm(AlarmVibration)
	if !e.cfg.Theft.NoBuzzer {
		e.send(v, &protocol.Buzzer{}, ReasonTheft)
	}
	if !e.cfg.Theft.NoMotorLock {
		e.send(v, &protocol.MotorLock{}, ReasonTheft)
	}
	return dst
}

// OnPosture handles a posture report (27 s, 55 s): the first report of a
// fall raises one alarm event (appended to dst); further "fallen" reports
// raise nothing until an upright report re-arms it. pos may be nil.
func (e *Engine) OnPosture(dst []link.Event, id protocol.VehicleID, fallen bool, pos *link.Position, now time.Time) []link.Event {
	if e.closed.Load() {
		return dst
	}
	if !fallen {
		if v := e.lookup(id); v != nil {
			v.fallen = false
			v.mu.Unlock()
		}
		return dst
	}
	v := e.lock(id)
	defer v.mu.Unlock()
	if v.fallen {
		return dst
	}
	v.fallen = true
	e.m.alarm(AlarmFallen)
	return append(dst, alarmEvent(id, now, AlarmFallen, "", pos))
}

// VehicleState is a snapshot of one vehicle's rule state (for the local UI
// and tests).
type VehicleState struct {
	// Riding: a verdict is committed (powered on, a fix evaluated since).
	Riding bool
	// NoRide: the committed verdict forbids riding; NoRideZone is the zone
	// that forbids it ("" when the global rules do: outside the operating area).
	NoRide     bool
	NoRideZone string
	// FinalLimitKmh is the limit the committed verdict leads to (after any ramp).
	FinalLimitKmh int
	// LimitKmh is the last limit sent (or assumed); LimitKnown is false
	// before the first.
	LimitKmh   int
	LimitKnown bool
	// Ramping: a no-ride ramp is running; RampStep is the number of steps applied.
	Ramping  bool
	RampStep int
	// Zones are the ids of the committed verdict's containing zones.
	Zones []string
	// Pending: a different verdict is being held back by the hysteresis.
	Pending bool
	Fallen  bool
}

// State returns a snapshot of a vehicle's rule state; false if the engine
// has none.
func (e *Engine) State(id protocol.VehicleID) (VehicleState, bool) {
	v := e.lookup(id)
	if v == nil {
		return VehicleState{}, false
	}
	defer v.mu.Unlock()
	s := VehicleState{
		Riding: v.riding, NoRide: v.riding && v.cur.noRide, FinalLimitKmh: v.cur.final,
		LimitKmh: v.applied, LimitKnown: v.known,
		Ramping: v.ramp.active, RampStep: v.ramp.next,
		Pending: v.hasPend, Fallen: v.fallen,
	}
	if v.riding {
		if s.NoRide {
			s.NoRideZone = zoneID(v.set, v.cur.rulesFrom)
		}
		for _, zi := range v.curZones {
			if id := zoneID(v.set, zoneSource(zi)); id != "" {
				s.Zones = append(s.Zones, id)
			}
		}
	}
	return s, true
}
