package ridetrack

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

const r1 = "4f6c2a8e-1d3b-4c5a-9e7f-0a1b2c3d4e5f"

// TestCloudRide: start, pause, resume and end commanded by the cloud each
// give their ride event once acked, with the ride id, the live position
// and the ack's time; the end's own power-off report does not end the ride
// as "vehicle" first.
func TestCloudRide(t *testing.T) {
	w := newWorld(t)
	w.report(fixS1)
	w.command("S1", protocol.CodePowerOn, SourcePrefix+r1, ack1S1)
	startAt := w.now
	if r, ok := w.tr.RideOf("S1"); !ok || r.ID != r1 || !r.Started.Equal(startAt) || r.Paused {
		t.Fatalf("ride after start: %+v %v", r, ok)
	}
	if st := w.stored(); len(st) != 1 || st["S1"].ID != r1 {
		t.Fatalf("stored %+v", st)
	}
	w.report(onS1)
	w.command("S1", protocol.CodePause, SourcePrefix+r1, ack73S1)
	pauseAt := w.now
	if r, _ := w.tr.RideOf("S1"); !r.Paused || !w.stored()["S1"].Paused {
		t.Fatal("pause not recorded")
	}
	w.command("S1", protocol.CodeResume, SourcePrefix+r1, ack75S1)
	resumeAt := w.now
	w.command("S1", protocol.CodePowerOff, SourcePrefix+r1, ack3S1)
	endAt := w.now
	want := []rideEvent{
		{link.EventRideStarted, r1, "", startAt},
		{link.EventRidePaused, r1, "", pauseAt},
		{link.EventRideResumed, r1, "", resumeAt},
		{link.EventRideEnded, r1, EndedByCloud, endAt},
	}
	evs := w.rideEvents()
	if got := summary(evs); !slices.Equal(got, want) {
		t.Fatalf("events\n got %+v\nwant %+v", got, want)
	}
	for _, e := range evs {
		if p := e.Ride.Position; p == nil || p.Lat < 41.3850 || p.Lat > 41.3852 || p.Lon < 2.1733 || p.Lon > 2.1735 || p.FixTime.IsZero() {
			t.Fatalf("%s position %+v", e.Kind, p)
		}
	}
	if _, ok := w.tr.RideOf("S1"); ok || len(w.stored()) != 0 || len(w.tr.Open()) != 0 {
		t.Fatal("ride still open after its end")
	}
	// The batch the uplink will build from these must be valid.
	for i := range evs {
		evs[i].Seq = uint64(i + 1)
	}
	b := link.EventBatch{Header: link.Header{V: link.Version, Gateway: "gw", City: "c"}, Events: evs}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestVehicleEndsRide: the scooter powering off by itself (heartbeat c=1),
// or a power off commanded by someone else, ends the ride as "vehicle" at
// the report's time.
func TestVehicleEndsRide(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  func(w *world)
	}{
		{"heartbeat c=1", func(w *world) { w.report(offS1) }},
		{"a technician's power off", func(w *world) { w.command("S1", protocol.CodePowerOff, "fieldtech:ana", ack3S1) }},
		{"a 16 with c=1", func(w *world) {
			w.report(`{"a":16,"i":"S1","s":0,"k":25,"p":0,"e":0,"b":80,"y":1,"q":1,"w":1,"z":1,"c":1}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.report(fixS1)
			w.command("S1", protocol.CodePowerOn, SourcePrefix+r1, ack1S1)
			w.report(onS1)
			w.report(onS1) // no change: nothing happens
			tc.off(w)
			offAt := w.now
			got := summary(w.rideEvents())
			if len(got) != 2 || got[1] != (rideEvent{link.EventRideEnded, r1, EndedByVehicle, offAt}) {
				t.Fatalf("events %+v", got)
			}
			if len(w.tr.Open()) != 0 || len(w.stored()) != 0 {
				t.Fatal("ride still open")
			}
			w.report(offS1) // already off: nothing more
			if n := len(w.rideEvents()); n != 2 {
				t.Fatalf("%d events after a second power-off report", n)
			}
		})
	}
}

// TestCloudEndPendingWhilePoweredOff: the power off reported while the
// ride's cloud end is out does not end the ride; if that end then fails,
// the ride ends as "vehicle" at the power-off report.
func TestCloudEndPendingWhilePoweredOff(t *testing.T) {
	w := newWorld(t)
	w.command("S1", protocol.CodePowerOn, SourcePrefix+r1, ack1S1)
	w.report(onS1)
	p := w.send("S1", protocol.CodePowerOff, SourcePrefix+r1)
	w.report(offS1)
	offAt := w.now
	if got := summary(w.rideEvents()); len(got) != 1 {
		t.Fatalf("ride ended while its cloud end was pending: %+v", got)
	}
	w.report(ack3FailS1)
	if res, err := p.Wait(t.Context()); err != nil || !errors.Is(res.Err, command.ErrFailed) {
		t.Fatalf("end outcome %+v %v", res, err)
	}
	got := summary(w.rideEvents())
	if len(got) != 2 || got[1] != (rideEvent{link.EventRideEnded, r1, EndedByVehicle, offAt}) {
		t.Fatalf("events %+v", got)
	}
}

// TestCloudEndFailsWhileRiding: a failed end of a scooter still powered on
// leaves the ride open.
func TestCloudEndFailsWhileRiding(t *testing.T) {
	w := newWorld(t)
	w.command("S1", protocol.CodePowerOn, SourcePrefix+r1, ack1S1)
	w.report(onS1)
	w.command("S1", protocol.CodePowerOff, SourcePrefix+r1, ack3FailS1)
	if _, ok := w.tr.RideOf("S1"); !ok || len(w.rideEvents()) != 1 {
		t.Fatalf("ride closed by a failed end: %+v", w.rideEvents())
	}
}

// TestLostEndsRide: a riding vehicle that goes lost ends its ride as
// "gateway" at its last message; offline alone ends nothing.
func TestLostEndsRide(t *testing.T) {
	w := newWorld(t)
	w.report(fixS1)
	w.command("S1", protocol.CodePowerOn, SourcePrefix+r1, ack1S1)
	w.report(onS1)
	lastSeen := w.now
	w.tr.OnFleetUpdate(w.fleet.Disconnect("S1", w.now.Add(time.Minute)), w.now.Add(time.Minute))
	if _, ok := w.tr.RideOf("S1"); !ok {
		t.Fatal("offline ended the ride")
	}
	sweepAt := lastSeen.Add(21 * time.Minute)
	ups := w.fleet.Sweep(sweepAt)
	if len(ups) != 1 || !ups[0].Changes.Has(fleet.ChangeLost) {
		t.Fatalf("sweep %+v", ups)
	}
	w.tr.OnFleetUpdate(ups[0], sweepAt)
	got := summary(w.rideEvents())
	if len(got) != 2 || got[1].kind != link.EventRideEnded || got[1].endedBy != EndedByGateway || !got[1].at.Equal(w.fleetLastSeen("S1")) {
		t.Fatalf("events %+v (last seen %v)", got, w.fleetLastSeen("S1"))
	}
	if len(w.tr.Open()) != 0 {
		t.Fatal("ride still open")
	}
}

func (w *world) fleetLastSeen(v string) time.Time {
	veh, _ := w.fleet.Get(protocol.VehicleID(v))
	return veh.LastSeen
}

// TestRestartKeepsRide: after a restart (new tracker, empty live state) the
// ride is still open, the zone rules see the vehicle as powered until its
// first heartbeat, and the scooter powering off ends it as "vehicle".
func TestRestartKeepsRide(t *testing.T) {
	w := newWorld(t)
	w.command("S1", protocol.CodePowerOn, SourcePrefix+r1, ack1S1)
	w.command("S2", protocol.CodePowerOn, SourcePrefix+"other-ride", `{"a":2,"i":"S2","t":1,"s":0,"n":1}`)
	w.command("S2", protocol.CodePause, SourcePrefix+"other-ride", `{"a":74,"i":"S2","s":0}`)
	w.close()
	w.open()
	open := w.tr.Open()
	if len(open) != 2 || open[0].ID != r1 || open[0].Vehicle != "S1" || open[1].ID != "other-ride" || !open[1].Paused {
		t.Fatalf("open rides after restart: %+v", open)
	}
	w.report(fixS1)
	if u := w.inner.last(); !u.Vehicle.Known.Has(fleet.FieldPower) || !u.Vehicle.Powered {
		t.Fatalf("rules saw the riding vehicle as %+v", u.Vehicle)
	}
	w.report(`{"a":19,"i":"S3","g":"4123.1060,210.4040,0,0","t":1764086400}`)
	if u := w.inner.last(); u.Vehicle.Known.Has(fleet.FieldPower) {
		t.Fatal("a vehicle without a ride was given a power state")
	}
	w.report(offS1)
	got := summary(w.rideEvents())
	if len(got) != 4 || got[3] != (rideEvent{link.EventRideEnded, r1, EndedByVehicle, w.now}) {
		t.Fatalf("events %+v", got)
	}
	if _, ok := w.tr.RideOf("S2"); !ok {
		t.Fatal("S2's ride lost")
	}
}

// TestNotRideCommands: other sources, malformed ride ids and failed starts
// produce no ride and no ride event.
func TestNotRideCommands(t *testing.T) {
	w := newWorld(t)
	w.command("S1", protocol.CodePowerOn, "admin:7", ack1S1)
	w.command("S1", protocol.CodePowerOn, "ride:bad id!", ack1S1)
	w.command("S1", protocol.CodePowerOn, "ride:", ack1S1)
	w.command("S1", protocol.CodePowerOn, SourcePrefix+r1, ack1FailS1)
	w.command("S1", protocol.CodeQuerySignal, SourcePrefix+r1, `{"a":98,"i":"S1","x":20}`) // not a ride code
	if evs := w.rideEvents(); len(evs) != 0 || len(w.tr.Open()) != 0 {
		t.Fatalf("events %+v, open %+v", evs, w.tr.Open())
	}
}

// TestStartReplacesOtherRide: a new ride's start on a vehicle holding
// another ride replaces it; the same start twice is recorded once.
func TestStartReplacesOtherRide(t *testing.T) {
	w := newWorld(t)
	w.command("S1", protocol.CodePowerOn, SourcePrefix+"old", ack1S1)
	w.tr.OnCommandEvent(w.lastCommandEvent()) // the same outcome again
	w.command("S1", protocol.CodePowerOn, SourcePrefix+r1, ack1S1)
	if r, _ := w.tr.RideOf("S1"); r.ID != r1 || w.stored()["S1"].ID != r1 {
		t.Fatalf("ride %+v", r)
	}
	if got := summary(w.rideEvents()); len(got) != 2 || got[0].ride != "old" || got[1].ride != r1 {
		t.Fatalf("events %+v", got)
	}
}

func (w *world) lastCommandEvent() link.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cmdEvent[len(w.cmdEvent)-1]
}

func TestRideID(t *testing.T) {
	for _, tc := range []struct {
		source, id string
		ok         bool
	}{
		{"ride:" + r1, r1, true},
		{"ride:abc_D-9", "abc_D-9", true},
		{"ride:", "", false},
		{"ride:a b", "", false},
		{"ride:" + string(make([]byte, 65)), "", false},
		{"rule:slow", "", false},
		{"Ride:x", "", false},
	} {
		if id, ok := RideID(tc.source); id != tc.id || ok != tc.ok {
			t.Errorf("RideID(%q) = %q, %v", tc.source, id, ok)
		}
	}
}

func TestNewNeedsDependencies(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("err %v", err)
	}
}
