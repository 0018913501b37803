package fleet

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func report(t testing.TB, payload string) protocol.Report {
	t.Helper()
	m, err := protocol.Decode("bike", []byte(payload))
	if err != nil {
		t.Fatalf("decode %s: %v", payload, err)
	}
	r, ok := m.(protocol.Report)
	if !ok {
		t.Fatalf("%s is not a report", payload)
	}
	return r
}

func TestApplySequence(t *testing.T) {
	f := New(Options{})
	steps := []struct {
		payload string
		want    Change
		check   func(t *testing.T, v Vehicle)
	}{
		{`{"a":19,"i":"12AB","g":"3020.5887,12006.4229,0,1","t":1764072000}`, ChangeFirstSeen | ChangeFix | ChangeOnline,
			func(t *testing.T, v Vehicle) {
				if math.Abs(v.Position.Lat-30.343145) > 1e-6 || math.Abs(v.Position.Lon-120.107048) > 1e-6 {
					t.Errorf("position %v", v.Position)
				}
				if !v.Position.LBS || v.Position.Alarm || !v.Position.FixTime.Equal(time.Unix(1764072000, 0)) {
					t.Errorf("fix flags %+v", v.Position)
				}
				if !v.Known.Has(FieldPosition) || v.Known.Has(FieldBattery) {
					t.Errorf("known %b", v.Known)
				}
			}},
		{`{"a":27,"i":"12AB","b":80,"c":0,"s":0,"r":37.5,"v":25,"x":3}`, ChangeBattery | ChangePoweredOn,
			func(t *testing.T, v Vehicle) {
				if v.BatteryPct != 80 || v.VoltageV != 37.5 || !v.Powered || v.Fallen || v.AtStation {
					t.Errorf("heartbeat state %+v", v)
				}
			}},
		{`{"a":27,"i":"12AB","b":80,"c":0,"s":1,"r":37.4,"x":3}`, ChangeFell, nil},
		{`{"a":27,"i":"12AB","b":79,"c":0,"s":0,"r":37.4,"x":1}`, ChangeBattery | ChangeUpright | ChangeArrivedStation, nil},
		{`{"a":16,"i":"12AB","s":0,"k":20,"p":12.5,"e":8,"b":79,"y":100,"q":3.5,"w":10,"z":0.5,"c":0}`, ChangeError,
			func(t *testing.T, v Vehicle) {
				if v.SpeedKmh != 12.5 || v.SpeedLimitKmh != 20 || v.ErrorCode != 8 || v.ErrorText() != "battery under-voltage" {
					t.Errorf("params %+v %q", v, v.ErrorText())
				}
			}},
		{`{"a":74,"i":"12AB","s":0}`, ChangePaused, nil},
		{`{"a":74,"i":"12AB","s":0}`, 0, nil},
		{`{"a":76,"i":"12AB","s":1}`, 0, func(t *testing.T, v Vehicle) {
			if !v.Paused {
				t.Error("a failed resume must not resume")
			}
		}},
		{`{"a":108,"i":"12AB","s":0}`, ChangeLocked, nil},
		{`{"a":106,"i":"12AB","s":0}`, ChangeUnlocked, nil},
		{`{"a":4,"i":"12AB","t":5,"s":0,"n":1}`, ChangePoweredOff, func(t *testing.T, v Vehicle) {
			if v.Powered || v.Paused {
				t.Errorf("after power off: powered %v paused %v", v.Powered, v.Paused)
			}
		}},
		// Posture while powered off is not meaningful (PROTOCOL.md).
		{`{"a":27,"i":"12AB","b":79,"c":1,"s":1,"r":37.4,"x":1}`, 0, func(t *testing.T, v Vehicle) {
			if v.Fallen {
				t.Error("posture applied while powered off")
			}
		}},
		{`{"a":55,"i":"12AB","s":1,"r":36}`, ChangeFell, nil},
		{`{"a":57,"i":"12AB","s":1}`, ChangeVibration, nil},
		{`{"a":22,"i":"12AB","h":"HW1","f":"FW2","c":"8934","m":861123456789012,"s":1,"t":7}`, ChangeVersion,
			func(t *testing.T, v Vehicle) {
				if v.Hardware != "HW1" || v.Firmware != "FW2" || v.SIM != "8934" || v.IMEI != "861123456789012" {
					t.Errorf("version %+v", v)
				}
			}},
		{`{"a":98,"i":"12AB","t":1,"x":23}`, 0, func(t *testing.T, v Vehicle) {
			if v.Signal != 23 || !v.Known.Has(FieldSignal) {
				t.Errorf("signal %d", v.Signal)
			}
		}},
		{`{"a":84,"i":"12AB","s":1}`, 0, func(t *testing.T, v Vehicle) {
			if !v.ChainOpen {
				t.Error("chain state")
			}
		}},
		// Empty field (quirk 4): nothing applied.
		{`{"a":2,"i":"12AB","s":}`, 0, func(t *testing.T, v Vehicle) {
			if v.Powered {
				t.Error("an ack without status powered the vehicle on")
			}
		}},
		{`{"a":2,"i":"12AB","t":9,"s":0,"n":2}`, ChangePoweredOn, nil},
	}
	for i, st := range steps {
		now := t0.Add(time.Duration(i) * time.Second)
		u := f.Apply(report(t, st.payload), now)
		if u.Changes != st.want {
			t.Fatalf("step %d %s: changes %q, want %q", i, st.payload, u.Changes, st.want)
		}
		if u.Vehicle.State != StateOnline || !u.Vehicle.LastSeen.Equal(now) || u.Vehicle.Messages != uint64(i+1) {
			t.Fatalf("step %d: state %v last seen %v messages %d", i, u.Vehicle.State, u.Vehicle.LastSeen, u.Vehicle.Messages)
		}
		if st.check != nil {
			t.Run(fmt.Sprint("step", i), func(t *testing.T) { st.check(t, u.Vehicle) })
		}
		got, ok := f.Get("12AB")
		if !ok || got != u.Vehicle {
			t.Fatalf("step %d: Get differs from the update", i)
		}
	}
}

func TestConnectivity(t *testing.T) {
	f := New(Options{LostAfter: 10 * time.Minute})
	f.Register(t0, "A", "B")
	if f.Count(StateOffline) != 2 || f.Len() != 2 {
		t.Fatalf("registered: offline %d len %d", f.Count(StateOffline), f.Len())
	}
	if u := f.Connect("A", t0); u.Changes != ChangeOnline || u.PrevState != StateOffline {
		t.Fatalf("connect: %q from %v", u.Changes, u.PrevState)
	}
	if u := f.Connect("C", t0); u.Changes != ChangeFirstSeen|ChangeOnline {
		t.Fatalf("connect unknown: %q", u.Changes)
	}
	if f.Count(StateOnline) != 2 || f.Count(StateOffline) != 1 {
		t.Fatalf("counts online %d offline %d", f.Count(StateOnline), f.Count(StateOffline))
	}
	// B was never seen: never lost. A and C go silent.
	if got := f.Sweep(t0.Add(9 * time.Minute)); len(got) != 0 {
		t.Fatalf("lost too early: %v", got)
	}
	f.Apply(report(t, `{"a":27,"i":"C","b":50,"c":1}`), t0.Add(5*time.Minute))
	lost := f.Sweep(t0.Add(10 * time.Minute))
	if len(lost) != 1 || lost[0].Vehicle.ID != "A" || lost[0].Changes != ChangeLost || lost[0].PrevState != StateOnline {
		t.Fatalf("sweep: %+v", lost)
	}
	if again := f.Sweep(t0.Add(11 * time.Minute)); len(again) != 0 {
		t.Fatalf("lost twice: %+v", again)
	}
	if u := f.Disconnect("A", t0.Add(12*time.Minute)); u.Changes != 0 || u.Vehicle.State != StateLost {
		t.Fatalf("disconnect of a lost vehicle: %q %v", u.Changes, u.Vehicle.State)
	}
	if u := f.Disconnect("C", t0.Add(12*time.Minute)); u.Changes != ChangeOffline {
		t.Fatalf("disconnect: %q", u.Changes)
	}
	// A message from a lost vehicle finds it again.
	u := f.Apply(report(t, `{"a":27,"i":"A","b":50,"c":1}`), t0.Add(13*time.Minute))
	if !u.Changes.Has(ChangeOnline) || u.PrevState != StateLost {
		t.Fatalf("found: %q from %v", u.Changes, u.PrevState)
	}
	want := map[State]int{StateOnline: 1, StateOffline: 2, StateLost: 0}
	for s, n := range want {
		if f.Count(s) != n {
			t.Errorf("count %v = %d, want %d", s, f.Count(s), n)
		}
	}
	online := f.List(func(v *Vehicle) bool { return v.State == StateOnline })
	if len(online) != 1 || online[0].ID != "A" {
		t.Fatalf("list online: %+v", online)
	}
	all := f.List(nil)
	if ids := []protocol.VehicleID{all[0].ID, all[1].ID, all[2].ID}; !slices.Equal(ids, []protocol.VehicleID{"A", "B", "C"}) {
		t.Fatalf("list order %v", ids)
	}
}

func TestParseState(t *testing.T) {
	for _, s := range []State{StateOffline, StateOnline, StateLost} {
		got, err := ParseState(s.String())
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseState("ONLINE"); err == nil {
		t.Error("ParseState accepted ONLINE")
	}
	if ErrorText(3) != "unknown error 3" || ErrorText(10) != "communication failure" {
		t.Error("error texts")
	}
	if got := (ChangeFix | ChangeLost).String(); got != "fix,lost" {
		t.Errorf("change string %q", got)
	}
}

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time       { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration)  { c.ns.Add(int64(d)) }
func newFakeClock(t time.Time) *fakeClock { c := &fakeClock{}; c.ns.Store(t.UnixNano()); return c }

func TestRunSweeperStops(t *testing.T) {
	clk := newFakeClock(t0)
	f := New(Options{Clock: clk})
	f.Connect("A", t0)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var lost []protocol.VehicleID
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.RunSweeper(ctx, time.Millisecond, func(u Update) {
			mu.Lock()
			lost = append(lost, u.Vehicle.ID)
			mu.Unlock()
		})
	}()
	clk.add(DefaultLostAfter)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(lost)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not mark the silent vehicle lost")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("sweeper did not stop on cancel")
	}
}

// TestConcurrentApply hammers the Fleet from many goroutines (run with -race).
func TestConcurrentApply(t *testing.T) {
	f := New(Options{})
	const workers, vehicles, rounds = 8, 50, 200
	reps := make([]protocol.Report, vehicles)
	for i := range reps {
		reps[i] = report(t, fmt.Sprintf(`{"a":27,"i":"V%d","b":%d,"c":0,"s":0,"r":36.5,"x":3}`, i, i))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				i := (w*rounds + r) % vehicles
				f.Apply(reps[i], t0)
				if r%10 == 0 {
					f.Disconnect(reps[i].Vehicle(), t0)
					f.List(nil)
				}
			}
		}()
	}
	wg.Wait()
	if f.Len() != vehicles || f.Count(StateOnline)+f.Count(StateOffline) != vehicles {
		t.Fatalf("len %d online %d offline %d", f.Len(), f.Count(StateOnline), f.Count(StateOffline))
	}
	var total uint64
	for _, v := range f.List(nil) {
		total += v.Messages
	}
	if total != workers*rounds {
		t.Fatalf("messages %d, want %d", total, workers*rounds)
	}
}

func BenchmarkApply(b *testing.B) {
	f := New(Options{})
	reps := make([]protocol.Report, 1000)
	for i := range reps {
		reps[i] = report(b, fmt.Sprintf(`{"a":19,"i":"V%d","g":"3020.5887,12006.4229,0,0","t":1764072000}`, i))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			f.Apply(reps[i%len(reps)], t0)
			i++
		}
	})
}
