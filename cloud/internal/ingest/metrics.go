package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a snapshot of the ingest's counters (cumulative since New).
type Stats struct {
	Messages      uint64 // messages taken from the stream
	Telemetry     uint64 // telemetry rows written and acknowledged
	Events        uint64 // event rows written and acknowledged
	Commands      uint64 // command rows written and acknowledged
	DeadLettered  uint64 // messages sent to the dead-letter subject
	Naks          uint64 // messages nak'ed after a transient write error
	WriteErrors   uint64
	Flushes       uint64
	FlushTime     time.Duration // total time spent writing
	LastFlushRows uint64
	LiveVehicles  int
}

// Stats returns a snapshot.
func (i *Ingest) Stats() Stats {
	c := &i.ctr
	return Stats{
		Messages: c.messages.Load(), Telemetry: c.telemetry.Load(), Events: c.events.Load(),
		Commands: c.commands.Load(), DeadLettered: c.deadLettered.Load(), Naks: c.naks.Load(),
		WriteErrors: c.writeErrors.Load(), Flushes: c.flushes.Load(),
		FlushTime: time.Duration(c.flushNanos.Load()), LastFlushRows: c.lastFlushRows.Load(),
		LiveVehicles: i.live.Len(),
	}
}

// Collector exposes Stats as Prometheus metrics (fleetedge_ingest_*), to
// register on the cloud's registry.
func (i *Ingest) Collector() prometheus.Collector { return collector{i} }

type collector struct{ i *Ingest }

var (
	descMessages = prometheus.NewDesc("fleetedge_ingest_messages_total", "Messages taken from FLEET_UP.", nil, nil)
	descRows     = prometheus.NewDesc("fleetedge_ingest_rows_total",
		"Rows written to ClickHouse and acknowledged, by table.", []string{"table"}, nil)
	descDead = prometheus.NewDesc("fleetedge_ingest_dead_lettered_total",
		"Messages that could not be processed, sent to the dead-letter subject.", nil, nil)
	descNaks = prometheus.NewDesc("fleetedge_ingest_naks_total",
		"Messages nak'ed after a transient write error (redelivered later).", nil, nil)
	descWriteErrors = prometheus.NewDesc("fleetedge_ingest_write_errors_total", "Failed ClickHouse writes.", nil, nil)
	descFlushes     = prometheus.NewDesc("fleetedge_ingest_flushes_total", "Write batches.", nil, nil)
	descFlushTime   = prometheus.NewDesc("fleetedge_ingest_flush_seconds_total", "Time spent writing batches.", nil, nil)
	descLive        = prometheus.NewDesc("fleetedge_ingest_live_vehicles", "Vehicles in the live state.", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMessages, descRows, descDead, descNaks, descWriteErrors,
		descFlushes, descFlushTime, descLive} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.i.Stats()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	counter(descMessages, float64(s.Messages))
	counter(descRows, float64(s.Telemetry), "telemetry")
	counter(descRows, float64(s.Events), "events")
	counter(descRows, float64(s.Commands), "commands")
	counter(descDead, float64(s.DeadLettered))
	counter(descNaks, float64(s.Naks))
	counter(descWriteErrors, float64(s.WriteErrors))
	counter(descFlushes, float64(s.Flushes))
	counter(descFlushTime, s.FlushTime.Seconds())
	ch <- prometheus.MustNewConstMetric(descLive, prometheus.GaugeValue, float64(s.LiveVehicles))
}
