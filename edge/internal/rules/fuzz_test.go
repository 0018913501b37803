package rules

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// FuzzOnFix feeds arbitrary sequences of fixes, power changes, clock steps
// and zone swaps to one vehicle: the engine never panics, every 13 it sends
// is within 0–30, and after a final ride far outside every zone the vehicle
// is back at its normal limit with no ramp left.
func FuzzOnFix(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{0x10, 0x80, 0x00, 0xff, 0x7f, 0x01, 0x33, 0x90, 0x11, 0x22, 0x44, 0x88})
	slow := testZone{id: "slow", x0: 0, y0: -100, x1: 200, y1: 100, rules: []rule{slowRule(10)}}
	plaza := testZone{id: "plaza", x0: 150, y0: -50, x1: 400, y1: 50, rules: []rule{noRideRule()}, alarm: true}
	sets := []*zone.Set{nil, city(f, nil, slow, plaza), city(f, []rule{noRideRule()},
		plaza, testZone{id: "area", x0: -500, y0: -500, x1: 500, y1: 500, rules: []rule{allowRule()}})}
	f.Fuzz(func(t *testing.T, data []byte) {
		h := newHarness(t, Config{Hysteresis: Hysteresis{Metres: 5, Settle: 20 * time.Second},
			Ramp: []RampStep{{0, 6}, {3 * time.Second, 2}, {6 * time.Second, 0}}}, sets[1])
		for len(data) >= 4 {
			op, a, b := data[0], int16(binary.LittleEndian.Uint16(data[1:3])), data[3]
			data = data[4:]
			switch op % 8 {
			case 0, 1, 2, 3:
				x := float64(a) / 40 // about -820..820 m
				y := float64(int8(b)) * 2
				h.fixOf(Fix{Vehicle: "V1", Point: at(x, y), Powered: op%8 != 3, NormalLimitKmh: 20})
			case 4:
				h.clk.Advance(time.Duration(b) * 100 * time.Millisecond)
			case 5:
				h.e.SetZones(sets[int(b)%len(sets)])
			case 6:
				h.e.OnPower("V1", false)
			default:
				h.fixOf(Fix{Vehicle: "V1", Point: orb.Point{float64(a), math.Float64frombits(uint64(b) << 56)}, Powered: true})
			}
		}
		for _, s := range h.rec.take() {
			if s.code == protocol.CodeSetSpeedLimit && (s.kmh < 0 || s.kmh > 30) {
				t.Fatalf("13 with %d km/h", s.kmh)
			}
		}
		h.e.SetZones(sets[1])
		for range 3 {
			h.clk.Advance(30 * time.Second)
			h.fixOf(Fix{Vehicle: "V1", Point: at(-5000, 0), Powered: true, NormalLimitKmh: 20})
		}
		h.clk.Advance(time.Minute)
		st, ok := h.e.State("V1")
		if !ok || st.Ramping || st.NoRide || (st.LimitKnown && st.LimitKmh != 20) {
			t.Fatalf("final state %+v", st)
		}
	})
}
