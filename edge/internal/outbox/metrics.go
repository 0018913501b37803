package outbox

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Histogram bucket upper bounds for commit latency and batch size.
var (
	commitSecondsBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}
	batchSizeBuckets     = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}
)

// histogram is a fixed-bucket histogram kept by the committer (guarded by
// statsMu); counts[i] counts observations ≤ bounds[i], counts[len] the rest.
type histogram struct {
	counts [16]uint64
	n      uint64
	sum    float64
}

func (h *histogram) observe(bounds []float64, v float64) {
	i := 0
	for i < len(bounds) && v > bounds[i] {
		i++
	}
	h.counts[i]++
	h.n++
	h.sum += v
}

// cumulative returns the Prometheus form: cumulative counts per upper bound.
func (h *histogram) cumulative(bounds []float64) map[float64]uint64 {
	out := make(map[float64]uint64, len(bounds))
	var acc uint64
	for i, b := range bounds {
		acc += h.counts[i]
		out[b] = acc
	}
	return out
}

// Collector exposes the outbox's stats as Prometheus metrics, read at
// scrape time. Register it on the binary's registry:
//
//	reg.MustRegister(o.Collector())
func (o *Outbox) Collector() prometheus.Collector { return collector{o} }

type collector struct{ o *Outbox }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("fleetedge_outbox_"+name, help, labels, nil)
}

var (
	descRecords       = desc("records", "Records stored in the outbox, by class.", "class")
	descBytes         = desc("bytes", "Accounted bytes stored in the outbox (keys + encoded values), by class.", "class")
	descOldestAge     = desc("oldest_age_seconds", "Age of the oldest stored record (0 when empty).")
	descOverBound     = desc("over_bound", "1 when the outbox exceeds its bound with no telemetry left to drop.")
	descPending       = desc("pending_requests", "Requests queued for the committer.")
	descLastSeq       = desc("last_seq", "Highest sequence number ever assigned.")
	descAppended      = desc("appended_total", "Records durably appended, by class.", "class")
	descDropped       = desc("dropped_telemetry_total", "Telemetry records dropped by the size bound.")
	descDeleted       = desc("deleted_total", "Records removed after upstream acknowledgement.")
	descRejected      = desc("rejected_full_total", "Events refused with ErrFull (MaxEventBytes).")
	descCommitErrors  = desc("commit_errors_total", "Transactions that failed.")
	descCommitSeconds = desc("commit_seconds", "Duration of one group-commit transaction including fsync.")
	descBatch         = desc("batch_requests", "Requests served by one group-commit transaction.")
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descBytes, descOldestAge, descOverBound, descPending,
		descLastSeq, descAppended, descDropped, descDeleted, descRejected, descCommitErrors, descCommitSeconds, descBatch} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.o.Stats()
	c.o.statsMu.RLock()
	commitHist, batchHist := c.o.ctr.commitHist, c.o.ctr.batchHist
	c.o.statsMu.RUnlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descRecords, float64(s.Telemetry), "telemetry")
	gauge(descRecords, float64(s.Events), "event")
	gauge(descBytes, float64(s.Bytes-s.EventBytes), "telemetry")
	gauge(descBytes, float64(s.EventBytes), "event")
	gauge(descOldestAge, s.OldestAge.Seconds())
	over := 0.0
	if s.OverBound {
		over = 1
	}
	gauge(descOverBound, over)
	gauge(descPending, float64(s.Pending))
	gauge(descLastSeq, float64(s.LastSeq))
	counter(descAppended, s.AppendedTelemetry, "telemetry")
	counter(descAppended, s.AppendedEvents, "event")
	counter(descDropped, s.DroppedTelemetry)
	counter(descDeleted, s.Deleted)
	counter(descRejected, s.RejectedFull)
	counter(descCommitErrors, s.CommitErrors)
	ch <- prometheus.MustNewConstHistogram(descCommitSeconds, commitHist.n, commitHist.sum, commitHist.cumulative(commitSecondsBuckets))
	ch <- prometheus.MustNewConstHistogram(descBatch, batchHist.n, batchHist.sum, batchHist.cumulative(batchSizeBuckets))
}
