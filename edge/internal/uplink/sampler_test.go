package uplink

import (
	"fmt"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

func decodeReport(t *testing.T, payload []byte) protocol.Report {
	t.Helper()
	m, err := protocol.Decode("bike", payload)
	if err != nil {
		t.Fatalf("decode %s: %v", payload, err)
	}
	return m.(protocol.Report)
}

// TestSamplerCadence feeds one vehicle a GPS fix, a heartbeat and a signal
// reply every second for 61 s (times are the records' own: an injected
// clock) and checks which seconds forward which group.
func TestSamplerCadence(t *testing.T) {
	s := newSampler(DefaultCadence())
	var pos, batt, sig, status []int
	for sec := 0; sec <= 60; sec++ {
		at := t0.Add(time.Duration(sec) * time.Second)
		for _, p := range [][]byte{
			gpsPayload("V1", sec, false),
			heartbeatPayload("V1", 80, 0),
			fmt.Appendf(nil, `{"a":98,"i":"V1","x":%d}`, 20),
		} {
			rec, ok := s.apply(decodeReport(t, p), at)
			if !ok {
				continue
			}
			if rec.Vehicle != "V1" || !rec.Time.Equal(at) {
				t.Fatalf("record identity %q %v", rec.Vehicle, rec.Time)
			}
			if rec.Position != nil {
				pos = append(pos, sec)
			}
			if rec.BatteryPct != nil {
				batt = append(batt, sec)
				if *rec.BatteryPct != 80 || rec.VoltageV == nil || *rec.VoltageV != 48.5 {
					t.Errorf("battery group %v %v", *rec.BatteryPct, rec.VoltageV)
				}
			}
			if rec.Signal != nil {
				sig = append(sig, sec)
			}
			if rec.Status != nil {
				status = append(status, sec)
				if !rec.Status.Powered {
					t.Errorf("status %+v: powered expected", *rec.Status)
				}
			}
		}
	}
	check := func(name string, got []int, every int) {
		t.Helper()
		var want []int
		for s := 0; s <= 60; s += every {
			want = append(want, s)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s forwarded at %v, want %v", name, got, want)
		}
	}
	check("position", pos, 5)
	check("battery", batt, 20)
	check("signal", sig, 15)
	check("status", status, 30)
}

func TestSamplerUrgentSkipsCadence(t *testing.T) {
	s := newSampler(DefaultCadence())
	apply := func(sec int, p []byte) (pos, status bool) {
		rec, ok := s.apply(decodeReport(t, p), t0.Add(time.Duration(sec)*time.Second))
		return ok && rec.Position != nil, ok && rec.Status != nil
	}
	if pos, _ := apply(0, gpsPayload("V2", 0, false)); !pos {
		t.Fatal("first fix not forwarded")
	}
	if pos, _ := apply(1, gpsPayload("V2", 1, false)); pos {
		t.Error("fix 1 s later forwarded (cadence 5 s)")
	}
	if pos, _ := apply(2, gpsPayload("V2", 2, true)); !pos {
		t.Error("alarm fix not forwarded at once")
	}
	if _, st := apply(3, heartbeatPayload("V2", 50, 0)); !st {
		t.Error("first status not forwarded")
	}
	if _, st := apply(4, heartbeatPayload("V2", 50, 0)); st {
		t.Error("unchanged status forwarded 1 s later (cadence 30 s)")
	}
	if _, st := apply(5, heartbeatPayload("V2", 50, 1)); !st {
		t.Error("power off not forwarded at once")
	}
	// A clock that jumps back restarts the cadence instead of muting the vehicle.
	if pos, _ := apply(-100, gpsPayload("V2", 3, false)); !pos {
		t.Error("fix after the clock went back not forwarded")
	}
}

func TestSamplerZeroCadenceForwardsEverything(t *testing.T) {
	s := newSampler(Cadence{})
	for i := range 5 {
		rec, ok := s.apply(decodeReport(t, gpsPayload("V3", i, false)), t0)
		if !ok || rec.Position == nil {
			t.Fatalf("report %d not forwarded with zero cadence", i)
		}
	}
	// A report that carries no telemetry group (an ack) produces nothing.
	if _, ok := s.apply(decodeReport(t, []byte(`{"a":14,"i":"V3","s":0}`)), t0); ok {
		t.Error("speed-limit ack produced a record")
	}
}
