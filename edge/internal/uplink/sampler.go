package uplink

import (
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// group is a field group of link.Telemetry with its own cadence.
type group uint8

const (
	groupPosition group = iota
	groupSpeed
	groupBattery
	groupSignal
	groupStatus
	numGroups
)

// statusChanges are the fleet changes that make the status group urgent.
const statusChanges = fleet.ChangePoweredOn | fleet.ChangePoweredOff | fleet.ChangeFell | fleet.ChangeUpright |
	fleet.ChangeArrivedStation | fleet.ChangeLeftStation | fleet.ChangePaused | fleet.ChangeResumed | fleet.ChangeError

// sampler decides which field groups of a report are forwarded. It is owned by
// the publish loop (not safe for concurrent use).
type sampler struct {
	cadence [numGroups]time.Duration
	shadow  *fleet.Fleet
	sent    map[protocol.VehicleID]*[numGroups]time.Time // last forwarded, per group
}

func newSampler(c Cadence) *sampler {
	return &sampler{
		cadence: [numGroups]time.Duration{c.Position, c.Speed, c.Battery, c.Signal, c.Status},
		shadow:  fleet.New(fleet.Options{}),
		sent:    make(map[protocol.VehicleID]*[numGroups]time.Time),
	}
}

// apply folds rep, received at t, into the shadow state and returns the
// telemetry record of its due groups (Seq left for the caller), or false when
// nothing is due.
func (s *sampler) apply(rep protocol.Report, t time.Time) (link.Telemetry, bool) {
	u := s.shadow.Apply(rep, t)
	v := &u.Vehicle
	mask := rep.Fields()
	has := func(k byte) bool { return mask == 0 || mask.Has(k) }

	var carried, urgent [numGroups]bool
	switch rep.(type) {
	case *protocol.GPSReport:
		if u.Changes.Has(fleet.ChangeFix) {
			carried[groupPosition] = true
			urgent[groupPosition] = v.Position.Alarm
		}
	case *protocol.VehicleParams:
		carried[groupSpeed] = has('p')
		carried[groupBattery] = has('b')
		carried[groupStatus] = has('e') || has('c')
	case *protocol.Heartbeat:
		carried[groupBattery] = has('b') || has('r')
		carried[groupStatus] = has('c') || has('s') || has('x')
	case *protocol.StatusParams:
		carried[groupBattery] = has('r')
		carried[groupStatus] = has('s')
	case *protocol.SignalReply:
		carried[groupSignal] = has('x')
	}
	if u.Changes.Has(statusChanges) {
		carried[groupStatus], urgent[groupStatus] = true, true
	}

	sent := s.sent[v.ID]
	var rec link.Telemetry
	any := false
	for g := range numGroups {
		if !carried[g] || !s.known(v, g) {
			continue
		}
		if last := sent; last != nil && !urgent[g] && !s.due(last[g], t, g) {
			continue
		}
		if sent == nil {
			sent = new([numGroups]time.Time)
			s.sent[v.ID] = sent
		}
		sent[g] = t
		s.fill(&rec, v, g)
		any = true
	}
	if !any {
		return link.Telemetry{}, false
	}
	rec.Vehicle = string(v.ID)
	rec.Time = t.UTC()
	return rec, true
}

// due reports whether group g, last forwarded at last, may be forwarded at t.
// A clock that went backwards (t before last) restarts the cadence.
func (s *sampler) due(last, t time.Time, g group) bool {
	return last.IsZero() || s.cadence[g] == 0 || t.Before(last) || t.Sub(last) >= s.cadence[g]
}

func (s *sampler) known(v *fleet.Vehicle, g group) bool {
	switch g {
	case groupPosition:
		return v.Known.Has(fleet.FieldPosition)
	case groupSpeed:
		return v.Known.Has(fleet.FieldSpeed)
	case groupBattery:
		return v.Known.Has(fleet.FieldBattery) || v.Known.Has(fleet.FieldVoltage)
	case groupSignal:
		return v.Known.Has(fleet.FieldSignal)
	}
	return true // status: the flags default to false until reported
}

func (s *sampler) fill(rec *link.Telemetry, v *fleet.Vehicle, g group) {
	switch g {
	case groupPosition:
		rec.Position = &link.Position{Lat: v.Position.Lat, Lon: v.Position.Lon, LBS: v.Position.LBS,
			Alarm: v.Position.Alarm, FixTime: v.Position.FixTime}
	case groupSpeed:
		sp := v.SpeedKmh
		rec.SpeedKmh = &sp
	case groupBattery:
		if v.Known.Has(fleet.FieldBattery) {
			b := v.BatteryPct
			rec.BatteryPct = &b
		}
		if v.Known.Has(fleet.FieldVoltage) {
			volt := v.VoltageV
			rec.VoltageV = &volt
		}
	case groupSignal:
		sig := v.Signal
		rec.Signal = &sig
	case groupStatus:
		rec.Status = &link.Status{Powered: v.Powered, Paused: v.Paused, Fallen: v.Fallen,
			AtStation: v.AtStation, ErrorCode: v.ErrorCode}
	}
}
