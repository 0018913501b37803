package rules

import (
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/edge/internal/broker"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Ingest must keep fitting the broker's ingest hook.
var _ broker.Rules = (*Ingest)(nil)

type directory map[string]link.VehicleConfig

func (d directory) Vehicle(id string) (link.VehicleConfig, bool) {
	c, ok := d[id]
	return c, ok
}

// TestIngestAdapter feeds real decoded reports through fleet.Apply and the
// adapter, as the broker's ingest hook does.
func TestIngestAdapter(t *testing.T) {
	set := noRideCity(t, testZone{id: "slow", x0: -300, y0: -100, x1: -100, y1: 100, rules: []rule{forTypes(slowRule(8), "bike"), slowRule(12)}})
	h := newHarness(t, Config{}, set)
	fl := fleet.New(fleet.Options{})
	in := NewIngest(h.e, directory{"V1": {ID: "V1", Type: "bike", NormalLimitKmh: 20}})
	report := func(code protocol.Code, fields map[string]any) []link.Event {
		t.Helper()
		r, err := protocol.NewReport(code, "V1", fields)
		if err != nil {
			t.Fatal(err)
		}
		now := h.clk.Now()
		return in.OnUpdate(fl.Apply(r, now), r, now)
	}
	gps := func(p orb.Point) map[string]any {
		t.Helper()
		g, err := protocol.FormatGPS(protocol.GPS{Lat: p[1], Lon: p[0]})
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"g": g, "t": h.clk.Now().Unix()}
	}
	heartbeat := func(power, posture int) []link.Event {
		return report(protocol.CodeHeartbeat, map[string]any{"b": 80, "c": power, "s": posture, "r": 37.5, "v": 5, "x": 3})
	}

	// Parked: fixes in zones do nothing; vibration is a theft alarm.
	heartbeat(1, 0)
	report(protocol.CodeGPSReport, gps(at(-200, 0)))
	h.expect("parked in the slow zone")
	evs := report(protocol.CodeVibrationCheck, map[string]any{"s": 0})
	if got := alarms(t, evs); !slices.Equal(got, []string{"vibration/"}) || evs[0].Alarm.Position == nil {
		t.Fatalf("vibration alarms %v", evs)
	}
	h.expect("theft", buzzer(ReasonTheft), motorLock())

	// Riding: the bike's own slow-zone rule, then the no-ride ramp.
	heartbeat(0, 0)
	report(protocol.CodeGPSReport, gps(at(-200, 0)))
	h.expect("ride starts in the slow zone", limit(8, ReasonSlowZone))
	if got := alarms(t, report(protocol.CodeGPSReport, gps(at(50, 0)))); !slices.Equal(got, []string{"no_ride_zone/plaza"}) {
		t.Fatalf("alarms %v", got)
	}
	h.expect("no-ride zone", buzzer(ReasonNoRide), limit(6, ReasonNoRide))
	report(protocol.CodeVibrationCheck, map[string]any{"s": 0})
	h.expect("vibration while riding")

	// A fall while riding: one alarm; power off cancels the ramp.
	if got := alarms(t, heartbeat(0, 1)); !slices.Equal(got, []string{"fallen/"}) {
		t.Fatalf("fall alarms %v", got)
	}
	if evs := heartbeat(0, 1); len(evs) != 0 {
		t.Fatalf("second fall report: %v", evs)
	}
	// The vehicle reports another limit than the 6 it was sent: re-sent at
	// the next fix (the ramp's current step).
	report(protocol.CodeVehicleParams, map[string]any{"s": 0, "k": 2020, "p": 12, "e": 0, "b": 80, "y": 100, "q": 10, "w": 60, "z": 1, "c": 0})
	report(protocol.CodeGPSReport, gps(at(60, 0)))
	h.expect("resync after 16", limit(6, ReasonNoRide))
	report(protocol.CodeVehicleParams, map[string]any{"s": 0, "k": 2006, "p": 12, "e": 0, "b": 80, "y": 100, "q": 10, "w": 60, "z": 1, "c": 0})
	report(protocol.CodeGPSReport, gps(at(60, 0)))
	h.expect("16 agrees")

	heartbeat(1, 1)
	h.clk.Advance(time.Minute)
	h.expect("powered off")
}
