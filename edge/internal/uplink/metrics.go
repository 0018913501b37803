package uplink

import (
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a snapshot of the uplink's counters (cumulative since New) and its lag.
type Stats struct {
	Published          uint64 // messages acknowledged by JetStream
	PublishedTelemetry uint64 // telemetry records in them
	PublishedEvents    uint64 // events in them
	PublishedBytes     uint64
	Downsampled        uint64 // reports that produced no record (no group due)
	Invalid            uint64 // records dropped because they cannot be forwarded
	PublishErrors      uint64 // failed publishes and ack timeouts
	Resent             uint64 // messages published again after a failure
	InFlight           int    // messages published or waiting to be, not yet acknowledged
	AckedThrough       uint64 // every record ≤ this seq is acknowledged (or carried nothing)
	DeletedThrough     uint64 // and deleted from the outbox
	Connected          bool

	// Lag, from the outbox.
	LagRecords    uint64        // highest seq appended − AckedThrough
	LagAge        time.Duration // age of the oldest record still in the outbox
	OutboxRecords uint64        // records in the outbox
}

// Stats returns a snapshot; cheap enough for every scrape.
func (u *Uplink) Stats() Stats {
	c := &u.ctr
	s := Stats{
		Published: c.published.Load(), PublishedTelemetry: c.publishedTelemetry.Load(),
		PublishedEvents: c.publishedEvents.Load(), PublishedBytes: c.publishedBytes.Load(),
		Downsampled: c.downsampled.Load(), Invalid: c.invalid.Load(),
		PublishErrors: c.publishErrors.Load(), Resent: c.resent.Load(),
		InFlight: int(c.inFlight.Load()), AckedThrough: c.ackedThrough.Load(),
		DeletedThrough: c.deletedThrough.Load(), Connected: u.nc.Status() == nats.CONNECTED,
	}
	os := u.src.Stats()
	if os.LastSeq > s.AckedThrough {
		s.LagRecords = os.LastSeq - s.AckedThrough
	}
	s.LagAge, s.OutboxRecords = os.OldestAge, os.Records
	return s
}

// Collector exposes Stats as Prometheus metrics (fleetedge_uplink_*), to
// register on the gateway's registry.
func (u *Uplink) Collector() prometheus.Collector { return collector{u} }

type collector struct{ u *Uplink }

var (
	descPublished = prometheus.NewDesc("fleetedge_uplink_published_messages_total",
		"Messages acknowledged by JetStream.", nil, nil)
	descRecords = prometheus.NewDesc("fleetedge_uplink_published_records_total",
		"Records in acknowledged messages, by class.", []string{"class"}, nil)
	descBytes = prometheus.NewDesc("fleetedge_uplink_published_bytes_total",
		"Bytes of acknowledged messages.", nil, nil)
	descDownsampled = prometheus.NewDesc("fleetedge_uplink_downsampled_reports_total",
		"Scooter reports that produced no record for the cloud (no field group due).", nil, nil)
	descInvalid = prometheus.NewDesc("fleetedge_uplink_invalid_records_total",
		"Outbox records dropped because they cannot be forwarded.", nil, nil)
	descErrors = prometheus.NewDesc("fleetedge_uplink_publish_errors_total",
		"Failed publishes and ack timeouts.", nil, nil)
	descResent = prometheus.NewDesc("fleetedge_uplink_resent_messages_total",
		"Messages published again after a failure.", nil, nil)
	descInFlight = prometheus.NewDesc("fleetedge_uplink_in_flight_messages",
		"Messages published (or queued to be) and not yet acknowledged.", nil, nil)
	descLagRecords = prometheus.NewDesc("fleetedge_uplink_lag_records",
		"Outbox seqs appended but not yet acknowledged by JetStream.", nil, nil)
	descLagSeconds = prometheus.NewDesc("fleetedge_uplink_lag_seconds",
		"Age of the oldest record still in the outbox.", nil, nil)
	descConnected = prometheus.NewDesc("fleetedge_uplink_connected",
		"1 when the NATS connection is up.", nil, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPublished, descRecords, descBytes, descDownsampled, descInvalid,
		descErrors, descResent, descInFlight, descLagRecords, descLagSeconds, descConnected} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.u.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(descPublished, s.Published)
	counter(descRecords, s.PublishedTelemetry, "telemetry")
	counter(descRecords, s.PublishedEvents, "event")
	counter(descBytes, s.PublishedBytes)
	counter(descDownsampled, s.Downsampled)
	counter(descInvalid, s.Invalid)
	counter(descErrors, s.PublishErrors)
	counter(descResent, s.Resent)
	gauge(descInFlight, float64(s.InFlight))
	gauge(descLagRecords, float64(s.LagRecords))
	gauge(descLagSeconds, s.LagAge.Seconds())
	connected := 0.0
	if s.Connected {
		connected = 1
	}
	gauge(descConnected, connected)
}
