package fieldui

import (
	"fmt"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/protocol"
)

// BenchmarkTick is one round of the live hub for a city of 10,000 vehicles
// with positions and batteries: list, classify, record fixes, diff. In the
// "moving" case every vehicle reported a new fix since the last round, so the
// update carries all of them (the worst case for one second).
func BenchmarkTick(b *testing.B) {
	for _, moving := range []bool{false, true} {
		b.Run(fmt.Sprintf("vehicles=10000/moving=%v", moving), func(b *testing.B) {
			f := newFixture(b, Config{})
			fl := fleet.New(fleet.Options{})
			f.srv.d.Fleet = fl
			now := time.Now()
			ids := make([]protocol.VehicleID, 10000)
			fix := func(i, step int) {
				g, _ := protocol.FormatGPS(protocol.GPS{Lat: 41.38 + float64(i%100)*1e-4 + float64(step)*1e-5, Lon: 2.15 + float64(i/100)*1e-4})
				r, err := protocol.NewReport(protocol.CodeGPSReport, ids[i], map[string]any{"g": g})
				if err != nil {
					b.Fatal(err)
				}
				fl.Apply(r, now.Add(time.Duration(step)*time.Second))
			}
			for i := range ids {
				ids[i] = protocol.VehicleID(fmt.Sprintf("V%05d", i))
				hb, _ := protocol.NewReport(protocol.CodeHeartbeat, ids[i], map[string]any{"b": i % 100, "c": 1, "s": 0})
				fl.Apply(hb, now)
				fix(i, 0)
			}
			f.srv.tick()
			step := 0
			for b.Loop() {
				if moving {
					b.StopTimer()
					step++
					for i := range ids {
						fix(i, step)
					}
					b.StartTimer()
				}
				f.srv.tick()
			}
		})
	}
}
