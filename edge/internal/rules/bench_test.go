package rules

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// benchCity is a 500-zone city: a 10 km × 10 km operating area (riding
// outside is forbidden by the global rules) and 499 zones — slow (10/15
// km/h), no-ride and parking — each a 24-vertex circle of radius 60–150 m on
// a jittered 23 × 22 grid with 400 m spacing, listed before the area.
func benchCity(tb testing.TB) *zone.Set {
	tb.Helper()
	var zs []testZone
	for i := range 499 {
		gx, gy := i%23, i/23
		cx := float64(gx)*400 - 4400 + float64((i*37)%100)
		cy := float64(gy)*400 - 4200 + float64((i*53)%100)
		r := 60 + float64((i*71)%90)
		var rl []rule
		kind := ""
		switch i % 4 {
		case 0:
			rl, kind = []rule{slowRule(10)}, "slow"
		case 1:
			rl, kind = []rule{forTypes(slowRule(8), "bike"), slowRule(15)}, "slow"
		case 2:
			rl, kind = []rule{noRideRule()}, "no_ride"
		default:
			rl, kind = []rule{allowRule()}, "parking"
		}
		zs = append(zs, testZone{id: fmt.Sprintf("z%03d", i), x0: cx - r, y0: cy - r, x1: cx + r, y1: cy + r, circle: r, rules: rl, kind: kind})
	}
	zs = append(zs, testZone{id: "area", x0: -5000, y0: -5000, x1: 5000, y1: 5000, rules: []rule{allowRule()}, kind: "operating_area"})
	s := city(tb, []rule{noRideRule()}, zs...)
	if s.Len() != 500 {
		tb.Fatalf("%d zones", s.Len())
	}
	return s
}

type nopCommander struct{ n atomic.Int64 }

func (c *nopCommander) Command(protocol.VehicleID, protocol.Command, Reason) { c.n.Add(1) }

func benchEngine(b *testing.B) (*Engine, *nopCommander) {
	b.Helper()
	cmd := &nopCommander{}
	e, err := New(Options{Commander: cmd, Zones: benchCity(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	return e, cmd
}

// BenchmarkOnFix measures one GPS fix through the engine in the 500-zone
// city: metrics, map lookup, zone evaluation and the decision included.
func BenchmarkOnFix(b *testing.B) {
	// zone z000 is centred near (-4400, -4200) with radius 60: its centre is
	// inside a 10 km/h slow zone, 500 m east of it is open street.
	inSlow := at(-4400, -4200)
	b.Run("no change, open street", func(b *testing.B) {
		e, cmd := benchEngine(b)
		now := time.Now()
		f := Fix{Vehicle: "V1", Type: "scooter", Point: at(-4200, -4000), Powered: true, Time: now}
		e.OnFix(nil, f)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			// moving along the street, 1 m per fix
			f.Point = at(-4200+float64(i%100), -4000)
			if evs := e.OnFix(nil, f); evs != nil {
				b.Fatal("events")
			}
		}
		if cmd.n.Load() != 0 {
			b.Fatalf("%d commands", cmd.n.Load())
		}
	})
	b.Run("no change, inside a slow zone", func(b *testing.B) {
		e, cmd := benchEngine(b)
		f := Fix{Vehicle: "V1", Type: "scooter", Point: inSlow, Powered: true, Time: time.Now()}
		e.OnFix(nil, f)
		start := cmd.n.Load()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			f.Point = at(-4400+float64(i%20), -4200)
			e.OnFix(nil, f)
		}
		if cmd.n.Load() != start {
			b.Fatalf("%d commands", cmd.n.Load()-start)
		}
	})
	b.Run("crossing a slow zone border", func(b *testing.B) {
		// Every fix alternates 30 m inside / 30 m outside the zone: each one
		// commits a new verdict (hysteresis distances computed) and sends 13.
		e, cmd := benchEngine(b)
		out := at(-4400+90, -4200) // z000 radius 60: 30 m beyond its east edge
		in := at(-4400+30, -4200)
		f := Fix{Vehicle: "V1", Type: "scooter", Point: out, Powered: true, Time: time.Now()}
		e.OnFix(nil, f)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%2 == 0 {
				f.Point = in
			} else {
				f.Point = out
			}
			e.OnFix(nil, f)
		}
		if cmd.n.Load() < int64(b.N) {
			b.Fatalf("%d commands for %d crossings", cmd.n.Load(), b.N)
		}
	})
	b.Run("parallel 10000 vehicles, no change", func(b *testing.B) {
		e, _ := benchEngine(b)
		const n = 10000
		ids := make([]protocol.VehicleID, n)
		pts := make([]orb.Point, n)
		for i := range ids {
			ids[i] = protocol.VehicleID(fmt.Sprintf("S%05d", i))
			pts[i] = at(float64(i%100)*90-4500, float64(i/100)*90-4500)
			e.OnFix(nil, Fix{Vehicle: ids[i], Type: "scooter", Point: pts[i], Powered: true, Time: time.Now()})
		}
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine owns a disjoint stripe of vehicles (one vehicle's
			// fixes are never concurrent).
			base := int(next.Add(1)-1) * 1000 % n
			i := 0
			for pb.Next() {
				k := base + i%1000
				e.OnFix(nil, Fix{Vehicle: ids[k], Type: "scooter", Point: pts[k], Powered: true, Time: time.Now()})
				i++
			}
		})
	})
}
