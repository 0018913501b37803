package command

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// metrics are per Manager (no global registry); registered on
// Config.Registerer when one is given.
type metrics struct {
	published  *prometheus.CounterVec   // code: every publish, retries included
	retries    *prometheus.CounterVec   // code: re-publishes
	outcomes   *prometheus.CounterVec   // code, outcome
	latency    *prometheus.HistogramVec // code: first publish → reply
	unmatched  *prometheus.CounterVec   // code: replies no pending command wanted
	superseded prometheus.Counter

	nUnmatched atomic.Uint64
}

func newMetrics(m *Manager, reg prometheus.Registerer) (*metrics, error) {
	mt := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetedge_command_published_total", Help: "Commands published to vehicles, retries included, by code."},
			[]string{"code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetedge_command_retries_total", Help: "Commands re-published after an attempt timed out, by code."},
			[]string{"code"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetedge_command_outcomes_total", Help: "Final command outcomes by code and outcome."},
			[]string{"code", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetedge_command_reply_latency_seconds",
			Help:    "Time from a command's first publish to its matched reply, by code.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}},
			[]string{"code"}),
		unmatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetedge_command_unmatched_replies_total", Help: "Replies that matched no pending command, by reply code."},
			[]string{"code"}),
		superseded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetedge_command_superseded_total", Help: "Commands superseded by a newer command of the same group."}),
	}
	if reg == nil {
		return mt, nil
	}
	gauge := func(name, help string, f func(Stats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(f(m.Stats())) })
	}
	for _, c := range []prometheus.Collector{mt.published, mt.retries, mt.outcomes, mt.latency, mt.unmatched, mt.superseded,
		gauge("fleetedge_command_queued", "Commands waiting to be published for the first time.", func(s Stats) int { return s.Queued }),
		gauge("fleetedge_command_awaiting_reply", "Published commands waiting for their reply or re-publish.", func(s Stats) int { return s.Awaiting }),
		gauge("fleetedge_firmware_upgrades_running", "Firmware upgrade jobs running.", func(s Stats) int { return s.Upgrades }),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return mt, nil
}

// codeLabel bounds the label values to the byte range of real codes.
func codeLabel(c protocol.Code) string {
	if c < 0 || c > 255 {
		return "invalid"
	}
	return strconv.Itoa(int(c))
}

func (mt *metrics) outcome(c protocol.Code, o link.Outcome) {
	mt.outcomes.WithLabelValues(codeLabel(c), string(o)).Inc()
}
