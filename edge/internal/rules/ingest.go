package rules

import (
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Directory is the gateway's configured vehicles: each one's GBFS vehicle
// type and normal speed limit (link.VehicleConfig). Called on every fix, so
// it must be cheap and safe for concurrent use.
type Directory interface {
	Vehicle(id string) (link.VehicleConfig, bool)
}

// Ingest adapts an Engine to the broker's ingest hook: its OnUpdate has the
// shape of broker.Rules and maps what fleet.Apply reported to Engine calls:
//
//	ChangePoweredOff       → OnPower(id, false)
//	ChangeFix              → OnFix (type and normal limit from the Directory;
//	                          powered = the fleet's power state, unknown = off)
//	ChangeVibration        → OnVibration (powered as above)
//	ChangeFell / Upright   → OnPosture
//	16 with k              → OnReportedLimit
//
// The events returned are the alarm events to store with the report.
type Ingest struct {
	engine *Engine
	dir    Directory
}

// NewIngest wraps e; dir may be nil (every vehicle untyped, default limit).
func NewIngest(e *Engine, dir Directory) *Ingest { return &Ingest{engine: e, dir: dir} }

// OnUpdate runs the rules for one applied report. It does not block.
func (in *Ingest) OnUpdate(u fleet.Update, msg protocol.Report, now time.Time) []link.Event {
	v := &u.Vehicle
	if vp, ok := msg.(*protocol.VehicleParams); ok && vp.Has('k') {
		in.engine.OnReportedLimit(v.ID, vp.SpeedLimitKMH())
	}
	ch := u.Changes
	if ch == 0 {
		return nil
	}
	powered := v.Known.Has(fleet.FieldPower) && v.Powered
	var evs []link.Event
	if ch.Has(fleet.ChangePoweredOff) {
		in.engine.OnPower(v.ID, false)
	}
	if ch.Has(fleet.ChangeFix) {
		f := Fix{Vehicle: v.ID, Point: orb.Point{v.Position.Lon, v.Position.Lat}, LBS: v.Position.LBS,
			Powered: powered, Time: now}
		if in.dir != nil {
			if cfg, ok := in.dir.Vehicle(string(v.ID)); ok {
				f.Type, f.NormalLimitKmh = cfg.Type, cfg.NormalLimitKmh
			}
		}
		evs = in.engine.OnFix(evs, f)
	}
	if ch.Has(fleet.ChangeVibration) {
		evs = in.engine.OnVibration(evs, v.ID, powered, lastPosition(v), now)
	}
	if ch.Has(fleet.ChangeFell) {
		evs = in.engine.OnPosture(evs, v.ID, true, lastPosition(v), now)
	} else if ch.Has(fleet.ChangeUpright) {
		evs = in.engine.OnPosture(evs, v.ID, false, nil, now)
	}
	return evs
}

// lastPosition is the vehicle's last known position for an alarm event.
func lastPosition(v *fleet.Vehicle) *link.Position {
	if !v.Known.Has(fleet.FieldPosition) {
		return nil
	}
	return &link.Position{Lat: v.Position.Lat, Lon: v.Position.Lon, LBS: v.Position.LBS,
		Alarm: v.Position.Alarm, FixTime: v.Position.FixTime}
}
