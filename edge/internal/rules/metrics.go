package rules

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/protocol"
)

// evalBuckets spans the expected cost of one fix: a few µs for the common
// case up to milliseconds when boundary distances are computed.
var evalBuckets = []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 2.5e-3, 1e-2}

type metrics struct {
	eval           prometheus.Histogram
	commands       *prometheus.CounterVec
	alarms         *prometheus.CounterVec
	transitions    prometheus.Counter
	held           prometheus.Counter
	ignoredLBS     prometheus.Counter
	ignoredInvalid prometheus.Counter
	vibrations     prometheus.Counter

	byCommand map[commandKey]prometheus.Counter // read-only after newMetrics
	byAlarm   map[string]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, vehicles func() float64) (*metrics, error) {
	ignored := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetedge_rules_ignored_fixes_total",
		Help: "GPS fixes not evaluated, by cause (lbs: cell-tower fix; invalid: coordinates out of range).",
	}, []string{"cause"})
	m := &metrics{
		eval: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fleetedge_rules_evaluation_seconds",
			Help:    "Time to evaluate the rules for one GPS fix (zone lookup, hysteresis, decisions; commands are only enqueued).",
			Buckets: evalBuckets,
		}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetedge_rules_commands_total",
			Help: "Commands issued by the rules engine, by reason and protocol code.",
		}, []string{"reason", "code"}),
		alarms: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetedge_rules_alarms_total",
			Help: "Alarm events raised by the rules engine, by reason.",
		}, []string{"reason"}),
		transitions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetedge_rules_transitions_total",
			Help: "Zone verdicts committed (ride starts and zone changes that passed the hysteresis).",
		}),
		held: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetedge_rules_held_fixes_total",
			Help: "Fixes whose different zone verdict was held back by the hysteresis.",
		}),
		ignoredLBS:     ignored.WithLabelValues("lbs"),
		ignoredInvalid: ignored.WithLabelValues("invalid"),
		vibrations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetedge_rules_parked_vibrations_total",
			Help: "Vibration reports of parked vehicles (alarms are rate-limited per vehicle).",
		}),
	}
	m.resolve()
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.eval, m.commands, m.alarms, m.transitions, m.held, ignored, m.vibrations,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fleetedge_rules_vehicles",
			Help: "Vehicles with rule state.",
		}, vehicles)} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(start time.Time) { m.eval.Observe(time.Since(start).Seconds()) }

// commandKey indexes the pre-resolved command counters.
type commandKey struct {
	reason Reason
	code   protocol.Code
}

func (m *metrics) command(r Reason, code protocol.Code) {
	if c, ok := m.byCommand[commandKey{r, code}]; ok {
		c.Inc()
		return
	}
	m.commands.WithLabelValues(string(r), strconv.Itoa(int(code))).Inc()
}

func (m *metrics) alarm(reason string) {
	if c, ok := m.byAlarm[reason]; ok {
		c.Inc()
		return
	}
	m.alarms.WithLabelValues(reason).Inc()
}

// resolve pre-creates the counters of every reason the engine uses, so
// counting a command does not allocate and every series exists from the
// start (at 0).
func (m *metrics) resolve() {
	m.byCommand = map[commandKey]prometheus.Counter{}
	for _, k := range []commandKey{
		{ReasonSlowZone, protocol.CodeSetSpeedLimit},
		{ReasonNormalLimit, protocol.CodeSetSpeedLimit},
		{ReasonNoRide, protocol.CodeSetSpeedLimit},
		{ReasonNoRide, protocol.CodeBuzzer},
		{ReasonZoneAlarm, protocol.CodeBuzzer},
		{ReasonTheft, protocol.CodeBuzzer},
		{ReasonTheft, protocol.CodeMotorLock},
	} {
		m.byCommand[k] = m.commands.WithLabelValues(string(k.reason), strconv.Itoa(int(k.code)))
	}
	m.byAlarm = map[string]prometheus.Counter{}
	for _, r := range []string{AlarmNoRideZone, AlarmLeftOperatingArea, AlarmZoneEntry, AlarmVibration, AlarmFallen} {
		m.byAlarm[r] = m.alarms.WithLabelValues(r)
	}
}
