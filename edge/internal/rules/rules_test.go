package rules

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// The slow zone of most tests: x in [0, 200] m, y in [-100, 100] m, 10 km/h.
func slowCity(t *testing.T) *zone.Set {
	return city(t, nil, testZone{id: "slow", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{slowRule(10)}, kind: "slow"})
}

func TestSlowZoneEntryAndExit(t *testing.T) {
	h := newHarness(t, Config{}, slowCity(t))
	h.fix(-100, 0)
	h.expect("outside, vehicle assumed at its normal limit")
	h.fix(50, 0)
	h.expect("entering", limit(10, ReasonSlowZone))
	for x := 60.0; x < 190; x += 10 {
		h.clk.Advance(5 * time.Second)
		if evs := h.fix(x, 0); len(evs) != 0 {
			t.Fatalf("events while staying: %v", evs)
		}
	}
	h.expect("staying inside")
	h.fix(260, 0)
	h.expect("leaving", limit(20, ReasonNormalLimit))
	h.fix(300, 0)
	h.expect("staying outside")
	st, _ := h.e.State("V1")
	if !st.Riding || st.LimitKmh != 20 || st.NoRide || len(st.Zones) != 0 {
		t.Fatalf("state %+v", st)
	}
}

func TestZoneLimitNeverRaisesNormalLimit(t *testing.T) {
	set := city(t, nil, testZone{id: "fast", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{slowRule(30)}})
	h := newHarness(t, Config{}, set)
	h.fix(-100, 0)
	h.fix(50, 0)
	h.expect("a 30 km/h zone for a 20 km/h vehicle")
}

func TestInitialLimit(t *testing.T) {
	t.Run("assumed by default", func(t *testing.T) {
		h := newHarness(t, Config{}, slowCity(t))
		h.fix(-100, 0)
		h.expect("first fix outside")
	})
	t.Run("sent when configured", func(t *testing.T) {
		h := newHarness(t, Config{SendInitialLimit: true}, slowCity(t))
		h.fix(-100, 0)
		h.expect("first fix outside", limit(20, ReasonNormalLimit))
		h.fix(-110, 0)
		h.expect("second fix")
	})
	t.Run("ride starting inside a slow zone", func(t *testing.T) {
		h := newHarness(t, Config{}, slowCity(t))
		h.fix(100, 0)
		h.expect("first fix inside", limit(10, ReasonSlowZone))
	})
}

func TestNormalLimitSources(t *testing.T) {
	set := slowCity(t)
	h := newHarness(t, Config{DefaultLimitKmh: 22, TypeLimitsKmh: map[string]int{"cargo": 15}, SendInitialLimit: true}, set)
	for _, tc := range []struct {
		f    Fix
		want int
	}{
		{Fix{Vehicle: "A", Type: "scooter", NormalLimitKmh: 18}, 18},
		{Fix{Vehicle: "B", Type: "cargo"}, 15},
		{Fix{Vehicle: "C", Type: "scooter"}, 22},
		{Fix{Vehicle: "D", Type: "cargo", NormalLimitKmh: 99}, 30},
	} {
		tc.f.Point, tc.f.Powered = at(-100, 0), true
		h.fixOf(tc.f)
		got := h.rec.take()
		if len(got) != 1 || got[0].kmh != tc.want {
			t.Errorf("%s: got %v, want 13@%d", tc.f.Vehicle, got, tc.want)
		}
	}
}

func TestBorderJitterDoesNotFlap(t *testing.T) {
	// The border is x = 0 (outside for x < 0). GPS noise of ±5 m.
	jitter := func(h *harness, around float64) {
		h.t.Helper()
		for i := range 40 {
			h.clk.Advance(5 * time.Second)
			d := 5.0
			if i%2 == 1 {
				d = -5
			}
			if i%3 == 0 {
				d *= 0.4 // ±2 m too
			}
			h.fix(around+d, float64(i))
		}
	}
	h := newHarness(t, Config{}, slowCity(t)) // default hysteresis: 10 m
	h.fix(-50, 0)
	jitter(h, 0)
	h.expect("jitter across the border while outside")
	h.fix(9, 0)
	h.expect("9 m inside: still within the margin")
	h.fix(11, 0)
	h.expect("11 m inside: acted on at this fix", limit(10, ReasonSlowZone))
	jitter(h, 0)
	h.expect("jitter across the border while inside")
	h.fix(-11, 0)
	h.expect("11 m outside", limit(20, ReasonNormalLimit))
	jitter(h, 0)
	h.expect("jitter again, outside")

	t.Run("without hysteresis it flaps", func(t *testing.T) {
		// Proves the jitter above really crosses the border.
		h := newHarness(t, Config{Hysteresis: Hysteresis{Metres: -1}}, slowCity(t))
		h.fix(-50, 0)
		jitter(h, 0)
		if got := h.rec.take(); len(got) < 20 {
			t.Fatalf("only %d commands without hysteresis: %v", len(got), got)
		}
	})
}

func TestHysteresisDwell(t *testing.T) {
	h := newHarness(t, Config{Hysteresis: Hysteresis{Metres: -1, Dwell: 10 * time.Second}}, slowCity(t))
	h.fix(-50, 0)
	for i := range 10 { // alternating sides every 3 s: never 10 s on one side
		h.clk.Advance(3 * time.Second)
		if i%2 == 0 {
			h.fix(50, 0)
		} else {
			h.fix(-50, 0)
		}
	}
	h.expect("alternating")
	h.clk.Advance(3 * time.Second)
	h.fix(50, 0) // new verdict first seen now
	h.clk.Advance(5 * time.Second)
	h.fix(60, 0)
	h.expect("5 s inside")
	if st, _ := h.e.State("V1"); !st.Pending {
		t.Fatalf("not pending: %+v", st)
	}
	h.clk.Advance(5 * time.Second)
	h.fix(70, 0)
	h.expect("10 s inside", limit(10, ReasonSlowZone))
}

func TestHysteresisSettle(t *testing.T) {
	h := newHarness(t, Config{Hysteresis: Hysteresis{Metres: 10, Settle: 30 * time.Second}}, slowCity(t))
	h.fix(-50, 0)
	for range 6 { // riding along the border, 4 m inside, for 25 s
		h.clk.Advance(5 * time.Second)
		h.fix(4, 0)
	}
	h.expect("25 s within the margin")
	h.clk.Advance(5 * time.Second)
	h.fix(4, 0)
	h.expect("30 s within the margin", limit(10, ReasonSlowZone))
}

func noRideCity(t *testing.T, extra ...testZone) *zone.Set {
	zs := append([]testZone{{id: "plaza", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{noRideRule()}, kind: "no_ride"}}, extra...)
	return city(t, nil, zs...)
}

func TestNoRideRamp(t *testing.T) {
	h := newHarness(t, Config{}, noRideCity(t)) // default ramp: 6 at once, 0 after 10 s
	h.fix(-50, 0)
	h.expect("outside")
	evs := h.fix(50, 0)
	if got := alarms(t, evs); !slices.Equal(got, []string{"no_ride_zone/plaza"}) {
		t.Fatalf("alarms %v", got)
	}
	if p := evs[0].Alarm.Position; p == nil || p.Lat != at(50, 0)[1] || p.Lon != at(50, 0)[0] {
		t.Fatalf("alarm position %+v", p)
	}
	h.expect("entry", buzzer(ReasonNoRide), limit(6, ReasonNoRide))
	h.clk.Advance(5 * time.Second)
	h.fix(60, 0)
	h.clk.Advance(4 * time.Second)
	h.expect("before the second step")
	h.clk.Advance(time.Second)
	h.expect("second step", limit(0, ReasonNoRide), buzzer(ReasonNoRide))
	h.clk.Advance(time.Minute)
	h.fix(60, 0)
	h.expect("ramp over")
	if st, _ := h.e.State("V1"); !st.NoRide || st.NoRideZone != "plaza" || st.LimitKmh != 0 || st.RampStep != 2 {
		t.Fatalf("state %+v", st)
	}
	if evs := h.fix(-50, 0); len(evs) != 0 {
		t.Fatalf("events on exit: %v", evs)
	}
	h.expect("exit restores the limit", limit(20, ReasonNormalLimit))
	if st, _ := h.e.State("V1"); st.Ramping || st.NoRide {
		t.Fatalf("state after exit %+v", st)
	}
}

func TestNoRideRampCancelledOnExit(t *testing.T) {
	set := noRideCity(t, testZone{id: "slow", x0: -300, y0: -100, x1: 0, y1: 100, rules: []rule{slowRule(12)}})
	h := newHarness(t, Config{Ramp: []RampStep{{0, 8}, {4 * time.Second, 4}, {8 * time.Second, 0}}}, set)
	h.fix(-150, 0)
	h.expect("in the slow zone", limit(12, ReasonSlowZone))
	h.fix(50, 0)
	h.expect("entry", buzzer(ReasonNoRide), limit(8, ReasonNoRide))
	h.clk.Advance(4 * time.Second)
	h.expect("4 s", limit(4, ReasonNoRide), buzzer(ReasonNoRide))
	h.clk.Advance(2 * time.Second)
	h.fix(-50, 0) // back into the slow zone: the limit returns to what applies there
	h.expect("exit", limit(12, ReasonSlowZone))
	h.clk.Advance(time.Minute)
	h.expect("no step after the exit")
	if n := h.clk.pendingTimers(); n != 0 {
		t.Fatalf("%d timers still pending", n)
	}
	// Re-entering starts a new ramp from the first step.
	h.fix(50, 0)
	h.expect("re-entry", buzzer(ReasonNoRide), limit(8, ReasonNoRide))
}

func TestSilentRampAndZoneFinalLimit(t *testing.T) {
	// A no-ride zone whose own rule sets 10 km/h: the ramp ends at 10.
	r := noRideRule()
	r["maximum_speed_kph"] = 10
	set := city(t, nil, testZone{id: "walk", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{r}})
	h := newHarness(t, Config{SilentRamp: true, Ramp: []RampStep{{0, 15}, {5 * time.Second, 0}}}, set)
	h.fix(-50, 0)
	h.fix(50, 0)
	h.expect("entry", buzzer(ReasonNoRide), limit(15, ReasonNoRide))
	h.clk.Advance(5 * time.Second)
	h.expect("second step raised to the zone's 10, silent", limit(10, ReasonNoRide))
}

func TestLeavingOperatingArea(t *testing.T) {
	set := city(t, []rule{noRideRule()},
		testZone{id: "area", x0: -1000, y0: -1000, x1: 1000, y1: 1000, rules: []rule{allowRule()}, kind: "operating_area"})
	h := newHarness(t, Config{}, set)
	h.fix(900, 0)
	h.expect("inside the area")
	h.fix(1005, 0)
	h.expect("5 m out: within the margin")
	evs := h.fix(1020, 0)
	if got := alarms(t, evs); !slices.Equal(got, []string{"left_operating_area/"}) {
		t.Fatalf("alarms %v", got)
	}
	h.expect("20 m out", buzzer(ReasonNoRide), limit(6, ReasonNoRide))
	h.clk.Advance(10 * time.Second)
	h.expect("second step", limit(0, ReasonNoRide), buzzer(ReasonNoRide))
	h.fix(980, 0)
	h.expect("back inside", limit(20, ReasonNormalLimit))
}

func TestNoRideToOtherNoRideZone(t *testing.T) {
	set := noRideCity(t, testZone{id: "park", x0: 200, y0: -100, x1: 400, y1: 100, rules: []rule{noRideRule()}})
	h := newHarness(t, Config{}, set)
	h.fix(-50, 0)
	h.fix(50, 0)
	h.expect("entry", buzzer(ReasonNoRide), limit(6, ReasonNoRide))
	h.clk.Advance(3 * time.Second)
	evs := h.fix(300, 0)
	if got := alarms(t, evs); !slices.Equal(got, []string{"no_ride_zone/park"}) {
		t.Fatalf("alarms %v", got)
	}
	h.expect("second zone: alarm, the ramp goes on", buzzer(ReasonNoRide))
	h.clk.Advance(7 * time.Second)
	h.expect("ramp step on schedule", limit(0, ReasonNoRide), buzzer(ReasonNoRide))
}

func TestPoweredOffVehiclesGetNoSpeedCommands(t *testing.T) {
	h := newHarness(t, Config{}, noRideCity(t, testZone{id: "slow", x0: -300, y0: -100, x1: -100, y1: 100, rules: []rule{slowRule(10)}}))
	for _, x := range []float64{-200, 50, -50, 50} {
		evs := h.fixOf(Fix{Vehicle: "V1", Type: "scooter", Point: at(x, 0), Powered: false})
		if len(evs) != 0 {
			t.Fatalf("events for a parked vehicle: %v", evs)
		}
	}
	h.expect("parked vehicle carried through zones")

	// Power off mid-ramp: the ramp stops.
	h.fix(-50, 0)
	h.fix(50, 0)
	h.expect("ride into the no-ride zone", buzzer(ReasonNoRide), limit(6, ReasonNoRide))
	h.e.OnPower("V1", false)
	h.clk.Advance(time.Minute)
	h.expect("after power off")
	if st, _ := h.e.State("V1"); st.Riding || st.Ramping {
		t.Fatalf("state %+v", st)
	}
	// A new ride inside the zone starts a new ramp.
	h.fix(60, 0)
	h.expect("new ride in the zone", buzzer(ReasonNoRide))
	h.clk.Advance(10 * time.Second)
	h.expect("its second step", limit(0, ReasonNoRide), buzzer(ReasonNoRide))

	// A fix while powered off also ends the ride state.
	h.fixOf(Fix{Vehicle: "V1", Type: "scooter", Point: at(-50, 0), Powered: false, Time: h.clk.Now()})
	h.expect("parked fix outside")
	h.fix(-60, 0)
	h.expect("next ride outside the zone", limit(20, ReasonNormalLimit))
}

func TestParkedVibration(t *testing.T) {
	tests := []struct {
		name string
		cfg  Theft
		want []sent
	}{
		{"default: buzzer and motor lock", Theft{}, []sent{buzzer(ReasonTheft), motorLock()}},
		{"alarm only", Theft{NoBuzzer: true, NoMotorLock: true}, nil},
		{"buzzer only", Theft{NoMotorLock: true}, []sent{buzzer(ReasonTheft)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Theft: tc.cfg}, nil)
			pos := &link.Position{Lat: 40.4, Lon: -3.7}
			evs := h.e.OnVibration(nil, "V1", false, pos, h.clk.Now())
			if got := alarms(t, evs); !slices.Equal(got, []string{"vibration/"}) || evs[0].Alarm.Position != pos {
				t.Fatalf("alarms %v", evs)
			}
			h.expect("vibration while parked", tc.want...)
			h.clk.Advance(30 * time.Second)
			if evs := h.e.OnVibration(nil, "V1", false, pos, h.clk.Now()); len(evs) != 0 {
				t.Fatalf("second alarm within the cooldown: %v", evs)
			}
			h.expect("within the cooldown")
			h.clk.Advance(30 * time.Second)
			if evs := h.e.OnVibration(nil, "V1", false, pos, h.clk.Now()); len(evs) != 1 {
				t.Fatalf("no alarm after the cooldown: %v", evs)
			}
			h.expect("after the cooldown", tc.want...)
			if evs := h.e.OnVibration(nil, "V2", true, pos, h.clk.Now()); len(evs) != 0 {
				t.Fatalf("alarm while riding: %v", evs)
			}
			h.expect("riding")
		})
	}
	t.Run("negative cooldown alarms every report", func(t *testing.T) {
		h := newHarness(t, Config{Theft: Theft{Cooldown: -1, NoMotorLock: true}}, nil)
		for range 3 {
			if evs := h.e.OnVibration(nil, "V1", false, nil, h.clk.Now()); len(evs) != 1 {
				t.Fatalf("events %v", evs)
			}
		}
		h.expect("three reports", buzzer(ReasonTheft), buzzer(ReasonTheft), buzzer(ReasonTheft))
	})
}

func TestFallAlarmOncePerFall(t *testing.T) {
	h := newHarness(t, Config{}, nil)
	now := h.clk.Now()
	var evs []link.Event
	evs = h.e.OnPosture(evs, "V1", true, nil, now)
	evs = h.e.OnPosture(evs, "V1", true, nil, now)
	evs = h.e.OnPosture(evs, "V1", true, nil, now)
	if got := alarms(t, evs); !slices.Equal(got, []string{"fallen/"}) {
		t.Fatalf("alarms %v", got)
	}
	evs = h.e.OnPosture(nil, "V1", false, nil, now)
	evs = h.e.OnPosture(evs, "V1", true, nil, now)
	if got := alarms(t, evs); !slices.Equal(got, []string{"fallen/"}) {
		t.Fatalf("alarms after upright %v", got)
	}
	if evs := h.e.OnPosture(nil, "V9", false, nil, now); len(evs) != 0 {
		t.Fatal("upright of an unknown vehicle raised something")
	}
	h.expect("falls send no commands")
}

func TestZoneSwapTakesEffectOnNextFix(t *testing.T) {
	h := newHarness(t, Config{}, slowCity(t))
	h.fix(-50, 0)
	h.fix(100, 0)
	h.expect("slow zone", limit(10, ReasonSlowZone))

	// Same zone id, new limit: applies at once (the fix is far inside anyway).
	h.e.SetZones(city(t, nil, testZone{id: "slow", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{slowRule(15)}}))
	h.expect("swap alone sends nothing")
	h.fix(100, 0)
	h.expect("next fix", limit(15, ReasonSlowZone))

	// The zone removed: the normal limit at the next fix.
	h.e.SetZones(city(t, nil, testZone{id: "elsewhere", x0: 1000, y0: 1000, x1: 1100, y1: 1100, rules: []rule{slowRule(5)}}))
	h.fix(100, 0)
	h.expect("zone removed", limit(20, ReasonNormalLimit))

	// A no-ride zone appears under the vehicle.
	h.e.SetZones(noRideCity(t))
	evs := h.fix(100, 0)
	if got := alarms(t, evs); !slices.Equal(got, []string{"no_ride_zone/plaza"}) {
		t.Fatalf("alarms %v", got)
	}
	h.expect("no-ride zone added", buzzer(ReasonNoRide), limit(6, ReasonNoRide))

	// Zones cleared entirely: the ramp is cancelled.
	h.e.SetZones(nil)
	h.fix(100, 0)
	h.expect("no zones", limit(20, ReasonNormalLimit))
	h.clk.Advance(time.Minute)
	h.expect("no ramp step after the swap")
}

func TestZoneSwapKeepsIdentityAcrossSets(t *testing.T) {
	a := testZone{id: "alarm", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{slowRule(10)}, alarm: true}
	other := testZone{id: "other", x0: 1000, y0: 1000, x1: 1100, y1: 1100, rules: []rule{allowRule()}}
	h := newHarness(t, Config{}, city(t, nil, a))
	h.fix(-50, 0)
	if got := alarms(t, h.fix(100, 0)); !slices.Equal(got, []string{"zone_entry/alarm"}) {
		t.Fatalf("alarms %v", got)
	}
	h.expect("entry", limit(10, ReasonSlowZone))
	// The same zone at another position in the new set: not a new entry.
	h.e.SetZones(city(t, nil, other, a))
	if evs := h.fix(110, 0); len(evs) != 0 {
		t.Fatalf("alarm after a swap: %v", alarms(t, evs))
	}
	h.expect("after the swap")
}

func TestAlarmOnEntry(t *testing.T) {
	set := city(t, nil, testZone{id: "station", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{allowRule()}, alarm: true})
	for _, buzz := range []bool{false, true} {
		h := newHarness(t, Config{ZoneAlarmBuzzer: buzz}, set)
		h.fix(-50, 0)
		if got := alarms(t, h.fix(100, 0)); !slices.Equal(got, []string{"zone_entry/station"}) {
			t.Fatalf("alarms %v", got)
		}
		if evs := h.fix(120, 0); len(evs) != 0 {
			t.Fatalf("alarm while staying: %v", evs)
		}
		if buzz {
			h.expect("entry with buzzer", buzzer(ReasonZoneAlarm))
		} else {
			h.expect("entry without buzzer")
		}
		h.fix(-50, 0)
		if got := alarms(t, h.fix(100, 0)); len(got) != 1 {
			t.Fatalf("re-entry alarms %v", got)
		}
	}
}

func TestPerVehicleTypeRules(t *testing.T) {
	set := city(t, nil,
		testZone{id: "mixed", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{
			forTypes(slowRule(8), "bike"),
			forTypes(noRideRule(), "cargo"),
			slowRule(15),
		}},
		testZone{id: "cargo-only", x0: 300, y0: -100, x1: 500, y1: 100, rules: []rule{forTypes(slowRule(5), "cargo")}},
	)
	h := newHarness(t, Config{}, set)
	type step struct {
		x    float64
		want []sent
	}
	for _, tc := range []struct {
		typ   string
		steps []step
	}{
		{"bike", []step{{-50, nil}, {100, []sent{{"bike", 13, 8, ReasonSlowZone}}}, {400, []sent{{"bike", 13, 20, ReasonNormalLimit}}}}},
		{"scooter", []step{{-50, nil}, {100, []sent{{"scooter", 13, 15, ReasonSlowZone}}}, {400, []sent{{"scooter", 13, 20, ReasonNormalLimit}}}}},
		{"cargo", []step{{-50, nil}, {100, []sent{{"cargo", 28, -1, ReasonNoRide}, {"cargo", 13, 6, ReasonNoRide}}}, {400, []sent{{"cargo", 13, 5, ReasonSlowZone}}}}},
	} {
		for _, s := range tc.steps {
			h.fixOf(Fix{Vehicle: "VEH" + protocolID(tc.typ), Type: tc.typ, Point: at(s.x, 0), Powered: true, NormalLimitKmh: 20})
			got := h.rec.take()
			for i := range got {
				got[i].vehicle = protocolID(tc.typ)
			}
			if !slices.Equal(got, s.want) {
				t.Errorf("%s at %v m: got %v, want %v", tc.typ, s.x, got, s.want)
			}
		}
	}
}

func TestLBSFixesIgnored(t *testing.T) {
	h := newHarness(t, Config{}, noRideCity(t))
	h.fix(-50, 0)
	h.fixOf(Fix{Vehicle: "V1", Type: "scooter", Point: at(50, 0), Powered: true, NormalLimitKmh: 20, LBS: true})
	h.expect("LBS fix in the zone")
	h2 := newHarness(t, Config{UseLBSFixes: true}, noRideCity(t))
	h2.fix(-50, 0)
	h2.fixOf(Fix{Vehicle: "V1", Type: "scooter", Point: at(50, 0), Powered: true, NormalLimitKmh: 20, LBS: true})
	h2.expect("LBS fix used", buzzer(ReasonNoRide), limit(6, ReasonNoRide))
}

func TestInvalidFixIgnored(t *testing.T) {
	h := newHarness(t, Config{}, noRideCity(t))
	for _, p := range [][2]float64{{200, 0}, {0, 95}, {nan(), 0}} {
		if evs := h.e.OnFix(nil, Fix{Vehicle: "V1", Point: [2]float64{p[0], p[1]}, Powered: true, Time: h.clk.Now()}); len(evs) != 0 {
			t.Fatalf("events for %v", p)
		}
	}
	h.expect("invalid fixes")
	if _, ok := h.e.State("V1"); ok {
		t.Fatal("state created by an invalid fix")
	}
}

func TestForgetCancelsRamp(t *testing.T) {
	h := newHarness(t, Config{}, noRideCity(t))
	h.fix(-50, 0)
	h.fix(50, 0)
	h.expect("entry", buzzer(ReasonNoRide), limit(6, ReasonNoRide))
	h.e.Forget("V1")
	h.clk.Advance(time.Minute)
	h.expect("after Forget")
	if _, ok := h.e.State("V1"); ok {
		t.Fatal("state kept")
	}
	// A forgotten vehicle starts from scratch (its limit is unknown again).
	h.fix(-50, 0)
	h.expect("first fix after Forget")
}

func TestCloseStopsTimers(t *testing.T) {
	h := newHarness(t, Config{}, noRideCity(t))
	h.fix(-50, 0)
	h.fix(50, 0)
	h.rec.take()
	h.e.Close()
	h.e.Close()
	h.clk.Advance(time.Minute)
	h.fix(-50, 0)
	h.expect("after Close")
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"default limit":    {DefaultLimitKmh: 31},
		"type limit":       {TypeLimitsKmh: map[string]int{"x": 0}},
		"ramp limit":       {Ramp: []RampStep{{0, 40}}},
		"ramp order":       {Ramp: []RampStep{{5 * time.Second, 6}, {time.Second, 0}}},
		"negative dwell":   {Hysteresis: Hysteresis{Dwell: -1}},
		"negative settle":  {Hysteresis: Hysteresis{Settle: -1}},
		"NaN metres":       {Hysteresis: Hysteresis{Metres: nan()}},
		"negative ramp at": {Ramp: []RampStep{{-time.Second, 6}}},
	} {
		if _, err := New(Options{Config: cfg, Commander: &recorder{}}); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", name, err)
		}
	}
	if _, err := New(Options{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no commander: %v", err)
	}
	e, err := New(Options{Commander: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	c := e.Config()
	if c.DefaultLimitKmh != 25 || c.Hysteresis.Metres != 10 || !slices.Equal(c.Ramp, DefaultRamp()) || c.Theft.Cooldown != time.Minute {
		t.Fatalf("defaults %+v", c)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	clk := newFakeClock()
	e, err := New(Options{Commander: &recorder{}, Clock: clk, Registerer: reg, Zones: slowCity(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.OnFix(nil, Fix{Vehicle: "V1", Point: at(-50, 0), Powered: true, NormalLimitKmh: 20, Time: clk.Now()})
	e.OnFix(nil, Fix{Vehicle: "V1", Point: at(50, 0), Powered: true, NormalLimitKmh: 20, Time: clk.Now()})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetHistogram() != nil:
				found[mf.GetName()] = float64(m.GetHistogram().GetSampleCount())
			case m.GetCounter() != nil:
				key := mf.GetName()
				for _, l := range m.GetLabel() {
					key += "," + l.GetName() + "=" + l.GetValue()
				}
				found[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				found[mf.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	for k, want := range map[string]float64{
		"fleetedge_rules_evaluation_seconds":                      2,
		"fleetedge_rules_commands_total,code=13,reason=slow_zone": 1,
		"fleetedge_rules_transitions_total":                       2,
		"fleetedge_rules_vehicles":                                1,
	} {
		if found[k] != want {
			t.Errorf("%s = %v, want %v (all: %v)", k, found[k], want, found)
		}
	}
	if _, err := New(Options{Commander: &recorder{}, Registerer: reg}); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
}

func TestRetain(t *testing.T) {
	h := newHarness(t, Config{}, noRideCity(t))
	for _, id := range []string{"A", "B", "C"} {
		h.fixOf(Fix{Vehicle: protocolID(id), Point: at(-50, 0), Powered: true})
		h.fixOf(Fix{Vehicle: protocolID(id), Point: at(50, 0), Powered: true})
	}
	h.rec.take()
	if n := h.e.Retain(func(id protocol.VehicleID) bool { return id == "B" }); n != 2 || h.e.Len() != 1 {
		t.Fatalf("forgot %d, %d left", n, h.e.Len())
	}
	h.clk.Advance(time.Minute)
	got := h.rec.take()
	if len(got) != 2 || got[0].vehicle != "B" || got[1].vehicle != "B" {
		t.Fatalf("after Retain: %v (only B's ramp step expected)", got)
	}
}

func TestSameOutcomeZoneChangesNeedNoHysteresis(t *testing.T) {
	// "inner" overlaps the slow zone with the same limit: crossing its border
	// changes nothing the engine acts on.
	set := city(t, nil,
		testZone{id: "inner", x0: 50, y0: -50, x1: 150, y1: 50, rules: []rule{slowRule(10)}},
		testZone{id: "slow", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{slowRule(10)}},
	)
	reg := prometheus.NewRegistry()
	clk := newFakeClock()
	rec := &recorder{}
	e, err := New(Options{Commander: rec, Clock: clk, Registerer: reg, Zones: set})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	fix := func(x float64) {
		e.OnFix(nil, Fix{Vehicle: "V1", Point: at(x, 0), Powered: true, NormalLimitKmh: 20, Time: clk.Now()})
	}
	fix(25)
	for i := range 11 { // ends outside inner
		fix(50 + float64(i%2*4-2)) // ±2 m around inner's border
	}
	if got := rec.take(); len(got) != 1 || got[0].kmh != 10 {
		t.Fatalf("commands %v", got)
	}
	if st, _ := e.State("V1"); !slices.Equal(st.Zones, []string{"slow"}) || st.Pending {
		t.Fatalf("state %+v", st)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "fleetedge_rules_held_fixes_total" && mf.GetMetric()[0].GetCounter().GetValue() != 0 {
			t.Fatalf("fixes held: %v", mf)
		}
	}
}

func TestRampShapes(t *testing.T) {
	t.Run("first step delayed: only the buzzer at entry", func(t *testing.T) {
		h := newHarness(t, Config{Ramp: []RampStep{{2 * time.Second, 6}, {5 * time.Second, 0}}}, noRideCity(t))
		h.fix(-50, 0)
		h.fix(50, 0)
		h.expect("entry", buzzer(ReasonNoRide))
		h.clk.Advance(2 * time.Second)
		h.expect("2 s", limit(6, ReasonNoRide), buzzer(ReasonNoRide))
		h.clk.Advance(3 * time.Second)
		h.expect("5 s", limit(0, ReasonNoRide), buzzer(ReasonNoRide))
	})
	t.Run("empty ramp: the final limit at once", func(t *testing.T) {
		h := newHarness(t, Config{Ramp: []RampStep{}}, noRideCity(t))
		h.fix(-50, 0)
		h.fix(50, 0)
		h.expect("entry", buzzer(ReasonNoRide), limit(0, ReasonNoRide))
		h.clk.Advance(time.Minute)
		h.expect("later")
	})
	t.Run("steps above the normal limit are capped", func(t *testing.T) {
		h := newHarness(t, Config{Ramp: []RampStep{{0, 25}, {time.Second, 4}}}, noRideCity(t))
		h.fix(-50, 0)
		h.fix(50, 0)
		h.expect("entry: 25 capped to the normal 20, which the vehicle has", buzzer(ReasonNoRide))
		h.clk.Advance(time.Second)
		h.expect("1 s", limit(4, ReasonNoRide), buzzer(ReasonNoRide))
	})
	t.Run("with a dwell the ramp starts when the verdict is committed", func(t *testing.T) {
		h := newHarness(t, Config{Hysteresis: Hysteresis{Metres: -1, Dwell: 20 * time.Second}}, noRideCity(t))
		h.fix(-50, 0)
		h.fix(50, 0)
		h.clk.Advance(20 * time.Second)
		h.fix(60, 0) // committed now; the ramp starts at this fix
		h.expect("entry after the dwell", buzzer(ReasonNoRide), limit(6, ReasonNoRide))
	})
}

func TestNormalLimitChangeWhileRiding(t *testing.T) {
	h := newHarness(t, Config{}, slowCity(t))
	h.fix(-50, 0)
	h.fixOf(Fix{Vehicle: "V1", Type: "scooter", Point: at(-60, 0), Powered: true, NormalLimitKmh: 15})
	h.expect("new configured limit", limit(15, ReasonNormalLimit))
	h.fixOf(Fix{Vehicle: "V1", Type: "scooter", Point: at(100, 0), Powered: true, NormalLimitKmh: 8})
	h.expect("slow zone above the vehicle's own 8", limit(8, ReasonNormalLimit))
}

func TestResync(t *testing.T) {
	h := newHarness(t, Config{}, noRideCity(t, testZone{id: "slow", x0: -300, y0: -100, x1: -100, y1: 100, rules: []rule{slowRule(10)}}))
	h.fix(-500, 0)
	h.e.Resync("V1")
	h.fix(-510, 0)
	h.expect("resync outside every zone", limit(20, ReasonNormalLimit))
	h.fix(-520, 0)
	h.expect("once only")
	h.fix(-200, 0)
	h.expect("slow zone", limit(10, ReasonSlowZone))
	h.e.Resync("V1")
	h.fix(-210, 0)
	h.expect("resync in the slow zone", limit(10, ReasonSlowZone))
	h.fix(50, 0)
	h.expect("no-ride", buzzer(ReasonNoRide), limit(6, ReasonNoRide))
	h.e.Resync("V1")
	h.fix(60, 0)
	h.expect("resync during the ramp", limit(6, ReasonNoRide))
	h.clk.Advance(10 * time.Second)
	h.expect("the ramp goes on", limit(0, ReasonNoRide), buzzer(ReasonNoRide))
	h.e.Resync("nobody")
}
