package natsbus

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/protocol/link"
)

var (
	descConnected = prometheus.NewDesc("fleetedge_nats_connected",
		"1 when the cloud's NATS connection is connected.", nil, nil)
	descReconnects = prometheus.NewDesc("fleetedge_nats_reconnects_total",
		"Reconnects of the cloud's NATS connection.", nil, nil)
	descStreamMsgs = prometheus.NewDesc("fleetedge_nats_stream_messages",
		"Messages held by the stream.", []string{"stream"}, nil)
	descStreamBytes = prometheus.NewDesc("fleetedge_nats_stream_bytes",
		"Bytes held by the stream.", []string{"stream"}, nil)
	descStreamLimit = prometheus.NewDesc("fleetedge_nats_stream_max_bytes",
		"Configured byte limit of the stream (-1 = unlimited); publishes are refused at the limit.", []string{"stream"}, nil)
	descStreamConsumers = prometheus.NewDesc("fleetedge_nats_stream_consumers",
		"Consumers of the stream.", []string{"stream"}, nil)
	consumerLabels      = []string{"stream", "consumer"}
	descConsumerPending = prometheus.NewDesc("fleetedge_nats_consumer_pending_messages",
		"Messages of the stream the consumer has not been delivered yet (its backlog).", consumerLabels, nil)
	descConsumerAckPending = prometheus.NewDesc("fleetedge_nats_consumer_ack_pending_messages",
		"Messages delivered to the consumer and not acknowledged yet.", consumerLabels, nil)
	descConsumerRedelivered = prometheus.NewDesc("fleetedge_nats_consumer_redelivered_messages",
		"Unacknowledged messages that were delivered more than once.", consumerLabels, nil)
	descConsumerLag = prometheus.NewDesc("fleetedge_nats_consumer_lag_seconds",
		"Age of the first unacknowledged message (the stream message after the ack floor) by the server's clock; 0 when the consumer is caught up.", consumerLabels, nil)
)

// Collector exposes the connection state and the up stream's size. Stream figures are read
// from JetStream at scrape time (one request, bounded by 1 s); when that fails they are
// omitted and fleetedge_nats_connected tells why.
func (b *Bus) Collector() prometheus.Collector { return busCollector{b} }

type busCollector struct{ b *Bus }

func (c busCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnected, descReconnects, descStreamMsgs, descStreamBytes, descStreamLimit, descStreamConsumers,
		descConsumerPending, descConsumerAckPending, descConsumerRedelivered, descConsumerLag} {
		ch <- d
	}
}

func (c busCollector) Collect(ch chan<- prometheus.Metric) {
	nc := c.b.nc
	connected := 0.0
	if nc.Status() == nats.CONNECTED {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, connected)
	ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(nc.Stats().Reconnects))
	if connected == 0 {
		return
	}
	// Collect gets no context from Prometheus; a scrape is a request boundary of its own.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := c.b.js.Stream(ctx, link.StreamUp)
	if err != nil {
		return
	}
	info := s.CachedInfo()
	ch <- prometheus.MustNewConstMetric(descStreamMsgs, prometheus.GaugeValue, float64(info.State.Msgs), link.StreamUp)
	ch <- prometheus.MustNewConstMetric(descStreamBytes, prometheus.GaugeValue, float64(info.State.Bytes), link.StreamUp)
	ch <- prometheus.MustNewConstMetric(descStreamLimit, prometheus.GaugeValue, float64(info.Config.MaxBytes), link.StreamUp)
	ch <- prometheus.MustNewConstMetric(descStreamConsumers, prometheus.GaugeValue, float64(info.State.Consumers), link.StreamUp)
	c.collectConsumers(ctx, ch, s, info.State.FirstSeq)
}

// collectConsumers reports every consumer of the stream: its backlog and how old the oldest
// message it still owes an ack for is (one extra message read per lagging consumer). What
// cannot be read within the scrape's deadline is left out.
func (c busCollector) collectConsumers(ctx context.Context, ch chan<- prometheus.Metric, s jetstream.Stream, firstSeq uint64) {
	gauge := func(d *prometheus.Desc, v float64, ci *jetstream.ConsumerInfo) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, link.StreamUp, ci.Name)
	}
	lister := s.ListConsumers(ctx)
	for ci := range lister.Info() {
		gauge(descConsumerPending, float64(ci.NumPending), ci)
		gauge(descConsumerAckPending, float64(ci.NumAckPending), ci)
		gauge(descConsumerRedelivered, float64(ci.NumRedelivered), ci)
		if ci.NumPending == 0 && ci.NumAckPending == 0 {
			gauge(descConsumerLag, 0, ci)
			continue
		}
		// Messages below the stream's first sequence aged out; the oldest owed is the next one.
		m, err := s.GetMsg(ctx, max(ci.AckFloor.Stream+1, firstSeq))
		if err != nil {
			continue
		}
		// Both timestamps come from the server: no clock skew with this process.
		gauge(descConsumerLag, max(ci.TimeStamp.Sub(m.Time).Seconds(), 0), ci)
	}
}
