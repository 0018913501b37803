package rules

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

// TestConcurrentVehicles drives many vehicles in parallel through slow and
// no-ride zones while the zone set is swapped, ramp timers fire on another
// goroutine and vehicles are forgotten and inspected. Run with -race. At the
// end every vehicle rides far from any zone, and the last limit each one was
// sent must be what the engine believes it has: the commands of one vehicle
// reached the Commander in decision order.
func TestConcurrentVehicles(t *testing.T) {
	zs := []testZone{
		{id: "slow", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{slowRule(10)}},
		{id: "plaza", x0: 300, y0: -100, x1: 500, y1: 100, rules: []rule{noRideRule()}},
	}
	setA := city(t, nil, zs...)
	zs[0].rules = []rule{slowRule(14)}
	setB := city(t, nil, zs[1], zs[0]) // other positions, other limit
	// SendInitialLimit: a forgotten vehicle is re-synchronised at its next
	// fix, so "last sent == believed" holds strictly.
	h := newHarness(t, Config{SendInitialLimit: true, Ramp: []RampStep{{0, 6}, {2 * time.Second, 3}, {4 * time.Second, 0}}}, setA)

	const vehicles, fixes = 64, 150
	var wg sync.WaitGroup
	var stop atomic.Bool
	wg.Add(1)
	go func() { // ramp timers fire here
		defer wg.Done()
		for !stop.Load() {
			h.clk.Advance(time.Second)
		}
	}()
	wg.Add(1)
	go func() { // zone swaps and inspections
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if i%2 == 0 {
				h.e.SetZones(setB)
			} else {
				h.e.SetZones(setA)
			}
			h.e.State(protocol.VehicleID(fmt.Sprintf("V%03d", i%vehicles)))
		}
	}()
	var riders sync.WaitGroup
	for n := range vehicles {
		riders.Add(1)
		go func() {
			defer riders.Done()
			id := protocol.VehicleID(fmt.Sprintf("V%03d", n))
			for i := range fixes {
				x := float64((i*37+n*11)%700) - 100 // sweeps -100..600 m: outside, slow, gap, plaza, outside
				f := Fix{Vehicle: id, Type: "scooter", Point: at(x, float64(n)), Powered: i%50 != 49, NormalLimitKmh: 20, Time: h.clk.Now()}
				h.e.OnFix(nil, f)
				switch {
				case i%40 == 0:
					h.e.OnVibration(nil, id, false, nil, h.clk.Now())
				case i%45 == 0 && n%8 == 0:
					h.e.Forget(id)
				case i%30 == 0:
					h.e.OnPosture(nil, id, i%60 == 0, nil, h.clk.Now())
				}
			}
		}()
	}
	riders.Wait()
	stop.Store(true)
	wg.Wait()

	h.e.SetZones(setA)
	for n := range vehicles {
		id := protocol.VehicleID(fmt.Sprintf("V%03d", n))
		h.e.OnFix(nil, Fix{Vehicle: id, Type: "scooter", Point: at(-2000, 0), Powered: true, NormalLimitKmh: 20, Time: h.clk.Now()})
	}
	h.clk.Advance(time.Minute) // no ramp may still be running
	last := map[protocol.VehicleID]int{}
	byReason := map[Reason]int{}
	for _, s := range h.rec.take() {
		byReason[s.reason]++
		if s.code == protocol.CodeSetSpeedLimit {
			last[s.vehicle] = s.kmh
		}
	}
	for _, r := range []Reason{ReasonSlowZone, ReasonNormalLimit, ReasonNoRide, ReasonTheft} {
		if byReason[r] < vehicles {
			t.Fatalf("only %d commands for %s: the test did not exercise the rules (%v)", byReason[r], r, byReason)
		}
	}
	for n := range vehicles {
		id := protocol.VehicleID(fmt.Sprintf("V%03d", n))
		st, ok := h.e.State(id)
		if !ok || !st.Riding || st.Ramping || st.LimitKmh != 20 {
			t.Errorf("%s: state %+v", id, st)
		}
		if l, ok := last[id]; ok && l != 20 {
			t.Errorf("%s: last limit sent %d, engine believes %d", id, l, st.LimitKmh)
		}
	}
}
