package cloudlink

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// BenchmarkCommandRoundTrip measures cloud → gateway → scooter → gateway →
// cloud: a JSON request over loopback TCP NATS to the link, the real command
// manager publishing through the real mochi broker to paho scooters that ack
// at once (their reply goes through the real ingest and durable outbox), the
// result back to the requester. Reports p50/p99 per round trip.
func BenchmarkCommandRoundTrip(b *testing.B) {
	for _, scooters := range []int{1, 8} {
		b.Run(fmt.Sprintf("scooters=%d", scooters), func(b *testing.B) {
			ids := make([]string, scooters)
			for i := range ids {
				ids[i] = fmt.Sprintf("8611234567%05d", i)
			}
			srv := startNATS(b, b.TempDir(), -1)
			w := newGatewayWorld(b, ids...)
			runLink(b, Config{Conn: dialGateway(b, srv.ClientURL()), Commands: w.commands, Store: openStore(b, b.TempDir()),
				Applier: &applier{}})
			for _, id := range ids {
				w.scooter(b, id, acker(b, id))
			}
			waitFor(b, "all online", func() bool { return w.commands.Stats().Vehicles == scooters })
			waitSubscribed(b, srv)
			c := newCloud(b, srv.ClientURL())

			var (
				mu   sync.Mutex
				lats = make([]time.Duration, 0, 1024)
				seq  atomic.Int64
				next atomic.Int64
			)
			roundTrip := func(vehicle string) (time.Duration, bool) {
				req := link.CommandRequest{V: link.Version, ID: fmt.Sprintf("bench-%d", seq.Add(1)), Vehicle: vehicle,
					Code: 1, Source: "bench", TimeoutMs: 5000}
				start := time.Now()
				res, err := c.request(req, 10*time.Second)
				if err != nil || res.Outcome != link.OutcomeAcked {
					b.Errorf("%+v %v", res, err)
					return 0, false
				}
				return time.Since(start), true
			}
			if scooters == 1 {
				// One vehicle, one command at a time (two power-ons in flight
				// for one vehicle would supersede each other).
				for b.Loop() {
					d, ok := roundTrip(ids[0])
					if !ok {
						return
					}
					lats = append(lats, d)
				}
			} else {
				// One goroutine per scooter (GOMAXPROCS × parallelism).
				b.SetParallelism(max(1, scooters/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					vehicle := ids[int(next.Add(1)-1)%len(ids)]
					local := make([]time.Duration, 0, 256)
					for pb.Next() {
						d, ok := roundTrip(vehicle)
						if !ok {
							return
						}
						local = append(local, d)
					}
					mu.Lock()
					lats = append(lats, local...)
					mu.Unlock()
				})
			}
			b.StopTimer()
			if len(lats) == 0 {
				return
			}
			slices.Sort(lats)
			q := func(p float64) float64 { return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(q(1), "max-ms")
		})
	}
}
