package natsbus

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// consumerMetrics gathers the per-consumer gauges of consumer name.
func consumerMetrics(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "consumer" && l.GetValue() == name {
					got[mf.GetName()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return got
}

func TestConsumerMetrics(t *testing.T) {
	b := openBus(t, embeddedConfig(t, t.TempDir()))
	defer closeBus(t, b)
	reg := prometheus.NewRegistry()
	if err := reg.Register(b.Collector()); err != nil {
		t.Fatal(err)
	}
	cons, err := b.JetStream().CreateOrUpdateConsumer(t.Context(), link.StreamUp, jetstream.ConsumerConfig{
		Durable: "ingest", AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := consumerMetrics(t, reg, "ingest"); got["fleetedge_nats_consumer_pending_messages"] != 0 ||
		got["fleetedge_nats_consumer_lag_seconds"] != 0 || len(got) != 4 {
		t.Fatalf("idle consumer metrics %v", got)
	}
	for i := range 3 {
		publish(t, b.JetStream(), link.TelemetrySubject("riga"), link.MsgID("gw", uint64(i), uint64(i)), "x")
	}
	// The lag grows while nobody consumes.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := consumerMetrics(t, reg, "ingest")
		if got["fleetedge_nats_consumer_pending_messages"] != 3 || got["fleetedge_nats_consumer_ack_pending_messages"] != 0 {
			t.Fatalf("backlog metrics %v", got)
		}
		if got["fleetedge_nats_consumer_lag_seconds"] >= 0.05 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag does not grow: %v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if len(msgs) != 2 {
		t.Fatalf("fetched %d", len(msgs))
	}
	got := consumerMetrics(t, reg, "ingest")
	if got["fleetedge_nats_consumer_pending_messages"] != 1 || got["fleetedge_nats_consumer_ack_pending_messages"] != 2 ||
		got["fleetedge_nats_consumer_lag_seconds"] <= 0 {
		t.Fatalf("after fetch %v", got)
	}
	for _, m := range msgs {
		if err := m.DoubleAck(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	rest, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range rest.Messages() {
		if err := m.DoubleAck(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := consumerMetrics(t, reg, "ingest"); got["fleetedge_nats_consumer_pending_messages"] != 0 ||
		got["fleetedge_nats_consumer_ack_pending_messages"] != 0 || got["fleetedge_nats_consumer_lag_seconds"] != 0 {
		t.Fatalf("caught up %v", got)
	}
}
