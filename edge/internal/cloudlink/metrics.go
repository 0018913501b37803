package cloudlink

import (
	"maps"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// RejectKey labels a rejected configuration document.
type RejectKey struct {
	Kind   string // link.Config*, or "other" for an unknown key
	Reason string // Reason*
}

// Stats is a snapshot of the link's counters.
type Stats struct {
	Connected bool
	// Requests counts answered (or dropped) command requests by outcome.
	Requests map[link.Outcome]uint64
	// ReplyErrors counts replies that could not be sent.
	ReplyErrors uint64
	// Applied counts documents applied, by kind.
	Applied map[string]uint64
	// Rejected counts documents not applied, by kind and reason.
	Rejected map[RejectKey]uint64
	// Versions is the version in force per kind (from the store at start, then applied).
	Versions map[string]int64
	// WatchRestarts counts watches restarted after a reconnection.
	WatchRestarts uint64
}

// Stats returns a snapshot of the counters.
func (l *Link) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.st
	s.Requests = maps.Clone(s.Requests)
	s.Applied = maps.Clone(s.Applied)
	s.Rejected = maps.Clone(s.Rejected)
	s.Versions = maps.Clone(s.Versions)
	s.Connected = l.nc.IsConnected()
	return s
}

func (l *Link) countRequest(o link.Outcome) {
	l.mu.Lock()
	l.st.Requests[o]++
	l.mu.Unlock()
}

func (l *Link) countReplyError() {
	l.mu.Lock()
	l.st.ReplyErrors++
	l.mu.Unlock()
}

func (l *Link) countWatchRestart() {
	l.mu.Lock()
	l.st.WatchRestarts++
	l.mu.Unlock()
}

func (l *Link) reject(kind, reason string) {
	l.mu.Lock()
	l.st.Rejected[RejectKey{kind, reason}]++
	l.mu.Unlock()
}

func (l *Link) applied(kind string, version int64) {
	l.mu.Lock()
	l.st.Applied[kind]++
	l.st.Versions[kind] = version
	l.mu.Unlock()
}

var (
	descConnected = prometheus.NewDesc("fleetedge_cloudlink_connected",
		"1 while the gateway's NATS connection to the cloud is up.", nil, nil)
	descRequests = prometheus.NewDesc("fleetedge_cloudlink_command_requests_total",
		"Command requests from the cloud, by outcome of the reply.", []string{"outcome"}, nil)
	descReplyErrors = prometheus.NewDesc("fleetedge_cloudlink_command_reply_errors_total",
		"Command replies that could not be sent (connection down).", nil, nil)
	descApplied = prometheus.NewDesc("fleetedge_cloudlink_config_applied_total",
		"Configuration documents from the cloud stored and applied, by kind.", []string{"kind"}, nil)
	descRejected = prometheus.NewDesc("fleetedge_cloudlink_config_rejected_total",
		"Configuration documents from the cloud not applied, by kind and reason.", []string{"kind", "reason"}, nil)
	descVersion = prometheus.NewDesc("fleetedge_cloudlink_config_version",
		"Version of the configuration document in force, by kind.", []string{"kind"}, nil)
	descRestarts = prometheus.NewDesc("fleetedge_cloudlink_config_watch_restarts_total",
		"Configuration watches restarted after the connection came back.", nil, nil)
)

// collector reads Stats at scrape time (one source of truth, no double counting).
type collector struct{ l *Link }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnected, descRequests, descReplyErrors, descApplied, descRejected, descVersion, descRestarts} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.l.Stats()
	connected := 0.0
	if s.Connected {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, connected)
	for _, o := range []link.Outcome{link.OutcomeAcked, link.OutcomeFailed, link.OutcomeTimeout, link.OutcomeRejected, link.OutcomeExpired} {
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(s.Requests[o]), string(o))
	}
	ch <- prometheus.MustNewConstMetric(descReplyErrors, prometheus.CounterValue, float64(s.ReplyErrors))
	for _, k := range kinds {
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.CounterValue, float64(s.Applied[k]), k)
		if v, ok := s.Versions[k]; ok {
			ch <- prometheus.MustNewConstMetric(descVersion, prometheus.GaugeValue, float64(v), k)
		}
	}
	for k, n := range s.Rejected {
		ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(n), k.Kind, k.Reason)
	}
	ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(s.WatchRestarts))
}
