package natsbus

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// BenchmarkPublish measures JetStream publishes into FLEET_UP on the embedded server, through
// the in-process connection, with a 512-byte body (a small telemetry batch): one at a time
// waiting for each ack, and 256 in flight (how an outbox flushes a backlog). fsync=always is
// the shipped setting; fsync=2m is nats-server's default, for comparison.
func BenchmarkPublish(b *testing.B) {
	body := make([]byte, 512)
	for _, fsync := range []time.Duration{0, 2 * time.Minute} {
		name := "fsync=always"
		if fsync > 0 {
			name = "fsync=" + fsync.String()
		}
		for _, inflight := range []int{1, 256} {
			b.Run(fmt.Sprintf("%s/inflight=%d", name, inflight), func(b *testing.B) {
				cfg := Config{
					ConnectTimeout: 10 * time.Second,
					Embedded:       EmbeddedConfig{Host: "127.0.0.1", StoreDir: b.TempDir(), FsyncInterval: fsync},
					Stream:         DefaultStreamConfig(),
				}
				bus, err := Open(b.Context(), cfg, testLogger())
				if err != nil {
					b.Fatal(err)
				}
				defer func() {
					if err := bus.Close(); err != nil {
						b.Error(err)
					}
				}()
				js := bus.JetStream()
				subj := link.TelemetrySubject("bench")
				b.SetBytes(int64(len(body)))
				b.ResetTimer()
				if inflight == 1 {
					for i := range b.N {
						if _, err := js.Publish(b.Context(), subj, body, jetstream.WithMsgID(link.MsgID("gw", uint64(i), uint64(i)))); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				futures := make([]jetstream.PubAckFuture, 0, inflight)
				wait := func() {
					for _, f := range futures {
						select {
						case <-f.Ok():
						case err := <-f.Err():
							b.Fatal(err)
						}
					}
					futures = futures[:0]
				}
				for i := range b.N {
					f, err := js.PublishAsync(subj, body, jetstream.WithMsgID(link.MsgID("gw", uint64(i), uint64(i))))
					if err != nil {
						b.Fatal(err)
					}
					futures = append(futures, f)
					if len(futures) == inflight {
						wait()
					}
				}
				wait()
			})
		}
	}
}
