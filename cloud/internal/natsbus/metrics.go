package natsbus

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
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
)

// Collector exposes the connection state and the up stream's size. Stream figures are read
// from JetStream at scrape time (one request, bounded by 1 s); when that fails they are
// omitted and fleetedge_nats_connected tells why.
func (b *Bus) Collector() prometheus.Collector { return busCollector{b} }

type busCollector struct{ b *Bus }

func (c busCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnected, descReconnects, descStreamMsgs, descStreamBytes, descStreamLimit, descStreamConsumers} {
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
}
