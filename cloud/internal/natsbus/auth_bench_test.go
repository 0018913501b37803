package natsbus

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/fleetedge/fleetedge/cloud/internal/gatewayauth"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// BenchmarkGatewayPublish measures what a gateway sees: JetStream publishes of 512-byte
// batches over TCP, 256 in flight, on an open listener and as an authenticated gateway whose
// every publish and ack delivery goes through its permissions. fsync every 2 min, so the
// difference is the server's CPU, not the disk.
func BenchmarkGatewayPublish(b *testing.B) {
	body := make([]byte, 512)
	for _, auth := range []bool{false, true} {
		name := "open"
		if auth {
			name = "nkey+permissions"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			cfg := Config{
				ConnectTimeout: 10 * time.Second,
				Embedded:       EmbeddedConfig{Host: "127.0.0.1", StoreDir: filepath.Join(dir, "nats"), FsyncInterval: 2 * time.Minute},
				Stream:         DefaultStreamConfig(),
			}
			opts := []nats.Option{}
			if auth {
				seed, pub, err := gatewayauth.NewKey()
				if err != nil {
					b.Fatal(err)
				}
				ro := filepath.Join(dir, "roster.json")
				writeRoster(b, ro, gatewayauth.Roster{Gateways: []gatewayauth.Gateway{{ID: "gw", City: "bench", NKey: pub}}})
				cfg.Embedded.Auth.RosterFile = ro
				kp, err := nkeys.FromSeed(seed)
				if err != nil {
					b.Fatal(err)
				}
				opts = append(opts, nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(gatewayauth.InboxPrefix("gw")))
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
			nc, err := nats.Connect(bus.ClientURL(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				b.Fatal(err)
			}
			subj := link.TelemetrySubject("bench")
			const inflight = 256
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
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
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
