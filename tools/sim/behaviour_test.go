package sim

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// command delivers a command payload to an offline scooter as if it had come
// over MQTT, and returns the encoded replies.
func command(t *testing.T, f *Fleet, id string, cmd protocol.Command) []out {
	t.Helper()
	pkt, err := protocol.EncodeCommand(protocol.VehicleID(id), cmd)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.get(id)
	if err != nil {
		t.Fatal(err)
	}
	outs, _, _ := s.onCommand(pkt.Payload)
	return outs
}

func TestZeroLimitStopsThenRiderWalksBack(t *testing.T) {
	clk := NewManualClock(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	f := startFleet(t, nil, Config{Vehicles: creds(1), Clock: clk, Manual: true, WalkAfter: 20 * time.Second})
	id := f.IDs()[0]
	f.ForceRide(id)
	for range 20 {
		clk.Advance(time.Second)
		f.Step()
	}
	stop, _ := protocol.NewSetSpeedLimit(0)
	if outs := command(t, f, id, stop); len(outs) != 1 {
		t.Fatalf("replies %d", len(outs))
	}
	for range 10 {
		clk.Advance(time.Second)
		f.Step()
	}
	st, _ := f.State(id)
	if st.SpeedKmh != 0 || st.Walking {
		t.Fatalf("after 10 s at limit 0: %+v", st)
	}
	at := st.TotalKm
	for range 15 {
		clk.Advance(time.Second)
		f.Step()
	}
	st, _ = f.State(id)
	if !st.Walking || st.SpeedKmh > 4 || st.TotalKm <= at {
		t.Fatalf("not walked back: %+v", st)
	}
	go10, _ := protocol.NewSetSpeedLimit(10)
	command(t, f, id, go10)
	for range 10 {
		clk.Advance(time.Second)
		f.Step()
	}
	st, _ = f.State(id)
	if st.Walking || st.SpeedKmh > 10 || st.SpeedKmh == 0 {
		t.Fatalf("not riding at ≤10 km/h again: %+v", st)
	}
}

func TestAutoRideAndAutoPark(t *testing.T) {
	clk := NewManualClock(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	f := startFleet(t, nil, Config{Vehicles: creds(4), Clock: clk, Manual: true, AutoRidePerHour: 3600 * 10, AutoPark: true})
	clk.Advance(time.Second)
	f.Step()
	if n := f.Stats().Powered; n != 4 {
		t.Fatalf("%d of 4 started a ride", n)
	}
	parked := false
	for i := range 3600 {
		clk.Advance(time.Second)
		f.Step()
		st, _ := f.State(f.IDs()[0])
		if !st.Powered {
			if st.RideKm < 0.4 || i < 60 {
				t.Fatalf("parked after %d s and %.2f km: trips should be 0.5-4 km", i, st.RideKm)
			}
			parked = true
			break
		}
	}
	if !parked {
		t.Fatal("self-started ride never parked at its destination")
	}
}

func TestVibrationAndFall(t *testing.T) {
	b := startBroker(t)
	vs := creds(2)
	f := startFleet(t, b, Config{Vehicles: vs, OldFirmware: 1, HeartbeatInterval: 50 * time.Millisecond})
	id := vs[0].ID
	from := b.len()
	if err := f.Vibrate(id); err != nil {
		t.Fatal(err)
	}
	m, _ := b.wait(t, from, "88", replyFrom(id, protocol.CodeVibrationCheck))
	if m.topic != "bike" {
		t.Fatalf("88 on %s", m.topic)
	}
	if m, _ = b.wait(t, from, "57", replyFrom(id, protocol.CodeVibrationDetected)); m.topic != "o" {
		t.Fatalf("57 on %s", m.topic)
	}
	f.SetFallen(id, true)
	from = b.len()
	b.wait(t, from, "heartbeat with s=1", func(m msg) bool {
		r, err := protocol.Decode(m.topic, m.payload)
		hb, ok := r.(*protocol.Heartbeat)
		return err == nil && ok && m.client == id && hb.Posture == 1
	})
}

// BenchmarkStep measures one worker step of a riding scooter (movement,
// GPS fix with noise and encoding every 5 s, heartbeat every 30 s), offline.
func BenchmarkStep(b *testing.B) {
	clk := NewManualClock(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	f, err := New(Config{Vehicles: creds(1000), Graph: barcelonaB(b), Clock: clk, Manual: true, GPSNoise: 3, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, id := range f.IDs() {
		f.ForceRide(id)
	}
	for _, s := range f.scooters {
		s.connected = true // encode reports as if online; nothing is published without a client
	}
	var buf []out
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%len(f.scooters) == 0 {
			clk.Advance(100 * time.Millisecond)
		}
		buf = f.stepOne(f.scooters[i%len(f.scooters)], clk.Now(), buf[:0])
	}
}

func TestBatterySwap(t *testing.T) {
	clk := NewManualClock(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	f := startFleet(t, nil, Config{Vehicles: creds(1), Clock: clk, Manual: true})
	id := f.IDs()[0]
	f.scooters[0].mu.Lock()
	f.scooters[0].battery = 3
	f.scooters[0].mu.Unlock()
	command(t, f, id, &protocol.BatteryLock{}) // lock without unlock: no swap
	if st, _ := f.State(id); st.Battery != 3 {
		t.Fatalf("battery %v after a lone 62", st.Battery)
	}
	command(t, f, id, &protocol.BatteryUnlock{})
	command(t, f, id, &protocol.BatteryLock{})
	if st, _ := f.State(id); st.Battery != 100 {
		t.Fatalf("battery %v after 60+62", st.Battery)
	}
}

func TestSpeedLimitProbeOnDemoZones(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "demo", "barcelona", "geofencing_zones.json"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := zone.Load(data, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	probe := SpeedLimitProbe(set, "escooter", nil)
	for _, tt := range []struct {
		lat, lon float64
		want     string
	}{
		{41.3823, 2.1728, "10"},   // La Rambla, old town
		{41.3870, 2.1880, "0"},    // Ciutadella (no ride)
		{41.3930, 2.1610, "none"}, // Eixample
		{41.3880, 2.1270, "0"},    // outside the operating area (global rules)
	} {
		if got := probe(tt.lat, tt.lon); got != tt.want {
			t.Errorf("probe(%v, %v) = %q, want %q", tt.lat, tt.lon, got, tt.want)
		}
	}
}

func TestOfflineFleetErrors(t *testing.T) {
	f := startFleet(t, nil, Config{Vehicles: creds(1), Manual: true})
	if _, err := f.SendFix(f.IDs()[0]); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("SendFix offline: %v", err)
	}
	if err := f.Start(t.Context()); !errors.Is(err, ErrConfig) {
		t.Fatalf("Start without broker: %v", err)
	}
	if _, err := New(Config{Vehicles: creds(1)}); !errors.Is(err, ErrConfig) {
		t.Fatalf("New without graph: %v", err)
	}
	if _, err := New(Config{Vehicles: append(creds(1), creds(1)...), Graph: barcelona(t)}); !errors.Is(err, ErrConfig) {
		t.Fatalf("duplicate vehicles: %v", err)
	}
	if _, err := New(Config{Vehicles: creds(1), Graph: barcelona(t), QuirkRate: 2}); !errors.Is(err, ErrConfig) {
		t.Fatalf("quirk rate 2: %v", err)
	}
}
