package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// BenchmarkGatewayIngestMQTT measures the whole gateway's durable ingest
// ceiling: real paho clients (one per scooter, in this process, so they
// compete with the gateway for the CPU) publish QoS 1 GPS reports over TCP
// with a window of in-flight publishes each; an op is one report PUBACKed
// (decoded, applied, rules evaluated, fsync'd in the outbox).
//
//	go test -run '^$' -bench GatewayIngestMQTT -benchtime 20000x ./edge/internal/gateway
func BenchmarkGatewayIngestMQTT(b *testing.B) {
	for _, bc := range []struct{ clients, window int }{{10, 32}, {100, 16}, {1000, 4}} {
		b.Run(fmt.Sprintf("clients=%d/window=%d", bc.clients, bc.window), func(b *testing.B) {
			dir := b.TempDir()
			cfg := testConfig(dir)
			cfg.VehiclesFile = filepath.Join(dir, "vehicles.json")
			cfg.ZonesFile = filepath.Join("testdata", "zones.json")
			ids := make([]string, bc.clients)
			for i := range ids {
				ids[i] = fmt.Sprintf("B%04d", i)
			}
			secrets := writeVehicles(b, cfg.VehiclesFile, cfg.City, 1, ids...)
			g, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- g.Run(ctx) }()
			defer func() {
				cancel()
				<-done
				if err := g.Close(); err != nil {
					b.Error(err)
				}
			}()
			clients := make([]paho.Client, len(ids))
			for i, id := range ids {
				o := paho.NewClientOptions().AddBroker("tcp://" + g.Addrs().MQTT["tcp"]).SetClientID(id).SetUsername(id).
					SetPassword(secrets[id]).SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(10 * time.Second)
				c := paho.NewClient(o)
				if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					b.Fatalf("connect %s: %v", id, tok.Error())
				}
				defer c.Disconnect(0)
				clients[i] = c
			}
			per := (b.N + len(clients) - 1) / len(clients)
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					pending := make([]paho.Token, 0, bc.window)
					for n := range per {
						p := fmt.Sprintf(`{"a":19,"i":"%s","g":"4024.%04d,-343.2000,0,0","t":%d}`, ids[i], n%10000, 1_764_000_000+n)
						pending = append(pending, c.Publish("bike", 1, false, p))
						if len(pending) == bc.window {
							if !pending[0].WaitTimeout(30*time.Second) || pending[0].Error() != nil {
								b.Errorf("publish: %v", pending[0].Error())
								return
							}
							pending = pending[1:]
						}
					}
					for _, t := range pending {
						t.WaitTimeout(30 * time.Second)
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(per*len(clients))/b.Elapsed().Seconds(), "msgs/s")
			st := g.Outbox().Stats()
			if st.Commits > 0 {
				b.ReportMetric(float64(st.Appended)/float64(st.Commits), "records/commit")
			}
		})
	}
}
