package broker

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	live "github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
)

// discardStore stores nothing: it isolates the CPU cost of decode + state +
// record encoding in BenchmarkIngest/store=none. Not used by any test.
type discardStore struct{}

func (discardStore) Append(context.Context, outbox.Record) (uint64, error) { return 0, nil }
func (discardStore) AppendAsync(_ outbox.Record, done func(uint64, error)) error {
	if done != nil {
		done(0, nil)
	}
	return nil
}

// BenchmarkIngest measures the ingest path (decode, spoof check, fleet state,
// durable outbox append) with many concurrent publishers calling the hook as
// mochi does, each as its own scooter. msgs/s is the throughput; for QoS 1
// every call returns only after its record's group commit (fsync).
//
//	go test -run '^$' -bench BenchmarkIngest -benchtime 3s ./edge/internal/broker
func BenchmarkIngest(b *testing.B) {
	for _, bc := range []struct {
		name       string
		qos        byte
		durable    bool
		publishers int // goroutines per GOMAXPROCS
	}{
		{"store=none/qos1/publishers=64", 1, false, 64},
		{"store=outbox/qos1/publishers=1", 1, true, 1},
		{"store=outbox/qos1/publishers=64", 1, true, 64},
		{"store=outbox/qos1/publishers=512", 1, true, 512},
		{"store=outbox/qos0/publishers=64", 0, true, 64},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var store Store = discardStore{}
			var ob *outbox.Outbox
			if bc.durable {
				var err error
				ob, err = outbox.Open(filepath.Join(b.TempDir(), "outbox.db"), outbox.Options{})
				if err != nil {
					b.Fatal(err)
				}
				store = ob
			}
			h, err := NewIngest(IngestOptions{Store: store, Fleet: live.New(live.Options{})})
			if err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism(bc.publishers)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := fmt.Sprintf("V%05d", next.Add(1))
				cl := &mqtt.Client{ID: id}
				pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: bc.qos}, TopicName: "bike"}
				for n := 0; pb.Next(); n++ {
					pk.Payload = fmt.Appendf(pk.Payload[:0], `{"a":19,"i":"%s","g":"4123.%04d,210.1234,0,0","t":%d}`, id, n%10000, 1_764_000_000+n)
					if _, err := h.OnPublish(cl, pk); err != packets.CodeSuccessIgnore {
						b.Errorf("OnPublish: %v", err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			if ob != nil {
				if err := ob.Close(); err != nil {
					b.Fatal(err)
				}
				st := ob.Stats()
				if bc.qos == 1 && st.AppendedTelemetry != uint64(b.N) {
					b.Fatalf("stored %d of %d", st.AppendedTelemetry, b.N)
				}
				if st.Commits > 0 {
					b.ReportMetric(float64(st.Appended)/float64(st.Commits), "records/commit")
				}
			}
			if s := h.Stats(); s.DecodeErrors+s.Spoofed+s.StoreErrors != 0 {
				b.Fatalf("stats %+v", s)
			}
		})
	}
}
