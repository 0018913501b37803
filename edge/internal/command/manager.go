package command

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Publisher sends one MQTT message from the gateway (broker.Server satisfies
// it). It must not block for long: it is called from the manager's publisher
// goroutine, one message after another, in command order.
type Publisher interface {
	Publish(topic string, payload []byte, qos byte) error
}

// EventSink receives every command_result and firmware event (the gateway
// appends them to the outbox). Emit is called without any manager lock held,
// from whichever goroutine decided the outcome (a Send caller, the ingest
// goroutine via OnReply, a timer, an upgrade job): it must not block for long
// (outbox.AppendAsync, not Append).
type EventSink interface {
	Emit(ev link.Event)
}

// Config configures a Manager. Publisher is required; everything else has a
// working default.
type Config struct {
	Publisher Publisher
	Events    EventSink // nil: outcomes are only returned to callers
	Clock     Clock     // nil: SystemClock
	Logger    *slog.Logger
	// Registerer receives the manager's metrics (nil: not registered; Stats
	// still works). Never the global registry unless the binary passes it.
	Registerer prometheus.Registerer

	// Policies replace DefaultPolicies() entries code by code. An entry's
	// AttemptTimeout and OfflineTTL default to the Default policy's when ≤ 0;
	// a zero Backoff re-publishes at once.
	Policies map[protocol.Code]Policy
	// Default is the policy of codes without an entry (zero: DefaultPolicy()).
	Default Policy

	// MaxQueuedPerVehicle bounds the open commands (queued + awaiting) of one
	// vehicle; more are rejected with ErrQueueFull. Default 64.
	MaxQueuedPerVehicle int
	// MaxInFlightPerCode is how many commands expecting the same reply code
	// may await their reply at once per vehicle. Default 1: the next one waits
	// until the previous is answered or given up, so a reply is never
	// ambiguous and a lost command is never re-sent after a newer one of its
	// kind (see the package doc). Larger values trade that for throughput;
	// matching stays oldest-first.
	MaxInFlightPerCode int
	// MaxInFlightPerVehicle bounds all awaiting commands of one vehicle
	// (the IoT module is small). Default 8.
	MaxInFlightPerVehicle int

	// KnownVehicle, when set, rejects commands for vehicles it does not know
	// (ErrUnknownVehicle). Called without manager locks.
	KnownVehicle func(protocol.VehicleID) bool
	// OnUnmatched is told about every reply that matched no pending command
	// (a late ack, a duplicate, a reply to a command another system sent).
	// Unsolicited reports (19, 27, 69, …) are not unmatched. Called without
	// manager locks, from the OnReply caller's goroutine.
	OnUnmatched func(protocol.VehicleID, protocol.Report)
}

// Stats is a snapshot of the manager's state.
type Stats struct {
	Vehicles  int    // vehicles the manager holds state for
	Queued    int    // commands not published yet
	Awaiting  int    // published commands awaiting a reply or a re-publish
	Upgrades  int    // firmware jobs running
	Unmatched uint64 // replies that matched no pending command, since New
}

// Manager owns every vehicle's command queue. All methods are safe for
// concurrent use; see the package doc for the concurrency contract.
type Manager struct {
	clock    Clock
	log      *slog.Logger
	pub      Publisher
	sink     EventSink
	met      *metrics
	cfg      Config
	policies map[protocol.Code]Policy
	dflt     Policy
	// unsolicited[c]: code c is sent by vehicles on their own (never
	// unmatched); fixed at New. awaitingBy[c]: commands of all vehicles
	// awaiting reply code c (changed under mu, read without it by OnReply's
	// fast path).
	unsolicited [256]bool
	awaitingBy  [256]atomic.Int32

	encMu sync.Mutex // serialises protocol.EncodeCommand (see Send)

	mu       sync.Mutex // guards everything below and every entry's mutable fields
	closed   bool
	seq      uint64
	vehicles map[protocol.VehicleID]*vehicle
	active   map[string]*entry
	queued   int
	awaiting int
	upgrades int

	out  outQueue
	ctx  context.Context // cancelled by Close: stops the publisher and jobs
	stop context.CancelFunc
	wg   sync.WaitGroup
}

type vehicle struct {
	id       protocol.VehicleID
	online   bool
	queue    []*entry // stQueued, in acceptance order
	awaiting []*entry // stAwaiting / stBackoff, in first-publish order
	job      *Upgrade
}

type entryState uint8

const (
	stQueued   entryState = iota + 1 // accepted, not published yet; timer = expiry
	stAwaiting                       // an attempt is out (or skipped while offline); timer = attempt timeout
	stBackoff                        // attempt timed out; timer = pause before the next
	stDone
)

type entry struct {
	seq      uint64 // acceptance order
	id       string
	veh      *vehicle
	cmd      protocol.Command
	code     protocol.Code
	reply    protocol.Code
	hasReply bool
	pkt      protocol.Packet
	pol      Policy
	retries  int
	timeout  time.Duration
	expires  time.Time
	source   string
	noEvent  bool
	p        *Pending

	state    entryState
	tries    int  // attempt slots used: published, or skipped while offline
	attempts int  // publishes
	unsent   bool // the current slot was skipped (offline): publish on reconnect
	accepted time.Time
	first    time.Time // first publish
	deadline time.Time // first + Options.Timeout
	timer    Timer
	gen      uint64 // bumped whenever timer is replaced or the entry ends
	stopCtx  func() bool
}

// New builds a Manager and starts its publisher goroutine; Close stops it.
func New(cfg Config) (*Manager, error) {
	if cfg.Publisher == nil {
		return nil, fmt.Errorf("command: new: %w: no publisher", ErrInvalid)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MaxQueuedPerVehicle <= 0 {
		cfg.MaxQueuedPerVehicle = 64
	}
	if cfg.MaxInFlightPerCode <= 0 {
		cfg.MaxInFlightPerCode = 1
	}
	if cfg.MaxInFlightPerVehicle <= 0 {
		cfg.MaxInFlightPerVehicle = 8
	}
	dflt := cfg.Default
	if dflt == (Policy{}) {
		dflt = DefaultPolicy()
	}
	dflt = fill(dflt, DefaultPolicy())
	policies := DefaultPolicies()
	for c, p := range cfg.Policies {
		policies[c] = fill(p, dflt)
	}
	m := &Manager{
		clock: cfg.Clock, log: cfg.Logger.With("component", "command"), pub: cfg.Publisher, sink: cfg.Events,
		cfg: cfg, policies: policies, dflt: dflt,
		vehicles: map[protocol.VehicleID]*vehicle{}, active: map[string]*entry{},
		out: outQueue{wake: make(chan struct{}, 1)},
	}
	for _, s := range protocol.Specs() {
		if s.Unsolicited && s.Code >= 0 && int(s.Code) < len(m.unsolicited) {
			m.unsolicited[s.Code] = true
		}
	}
	met, err := newMetrics(m, cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("command: register metrics: %w", err)
	}
	m.met = met
	m.ctx, m.stop = context.WithCancel(context.Background())
	m.wg.Add(1)
	go m.runPublisher()
	return m, nil
}

func fill(p, d Policy) Policy {
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = d.AttemptTimeout
	}
	if p.OfflineTTL <= 0 {
		p.OfflineTTL = d.OfflineTTL
	}
	if p.Retries < 0 {
		p.Retries = 0
	}
	return p
}

// Policy returns the policy the manager applies to code.
func (m *Manager) Policy(code protocol.Code) Policy {
	if p, ok := m.policies[code]; ok {
		return p
	}
	return m.dflt
}

// Stats returns a snapshot of the queues.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Vehicles: len(m.vehicles), Queued: m.queued, Awaiting: m.awaiting, Upgrades: m.upgrades,
		Unmatched: m.met.nUnmatched.Load()}
}

// effects are what an operation decided under the lock and must do after
// releasing it: events to emit, unmatched replies to report.
type effects struct {
	events    []link.Event
	unmatched []protocol.Report
	vehicle   protocol.VehicleID
	done      []*Pending
}

// flush emits the events, then completes the Pendings: a caller that sees
// an outcome knows its event has been handed to the sink.
func (m *Manager) flush(fx *effects) {
	if m.sink != nil {
		for _, ev := range fx.events {
			m.sink.Emit(ev)
		}
	}
	for _, p := range fx.done {
		close(p.done)
	}
	if m.cfg.OnUnmatched != nil {
		for _, r := range fx.unmatched {
			m.cfg.OnUnmatched(fx.vehicle, r)
		}
	}
}

// Send queues cmd for vehicle v and returns at once; it never waits for the
// network (safe on the MQTT ingest goroutine). The returned Pending is never
// nil: a command refused at once (invalid, unknown vehicle, queue full,
// manager closed) is already done with OutcomeRejected.
//
// ctx can withdraw the command while it has not been published yet (e.g. the
// UI request that asked for it went away); once published it runs to its
// outcome whatever happens to ctx. Pass context.WithoutCancel to keep a
// command for an offline vehicle alive beyond the caller.
func (m *Manager) Send(ctx context.Context, v protocol.VehicleID, cmd protocol.Command, opts Options) *Pending {
	now := m.clock.Now()
	id := opts.ID
	if id == "" {
		id = newID()
	}
	var code protocol.Code
	if cmd != nil {
		code = cmd.Code()
	}
	// protocol's encoder writes the values it reads back into the command, so
	// callers sharing one command value (a rule's cached 13) would race; all
	// encodes of the gateway pass here, serialised.
	m.encMu.Lock()
	pkt, err := protocol.EncodeCommand(v, cmd)
	m.encMu.Unlock()
	if err == nil && m.cfg.KnownVehicle != nil && !m.cfg.KnownVehicle(v) {
		err = fmt.Errorf("%w %q", ErrUnknownVehicle, v)
	} else if err != nil {
		err = fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var fx effects
	fx.vehicle = v
	m.mu.Lock()
	p := m.send(ctx, v, cmd, code, pkt, err, id, opts, now, &fx)
	m.mu.Unlock()
	m.flush(&fx)
	return p
}

func (m *Manager) send(ctx context.Context, v protocol.VehicleID, cmd protocol.Command, code protocol.Code,
	pkt protocol.Packet, err error, id string, opts Options, now time.Time, fx *effects) *Pending {
	if e := m.active[id]; e != nil && err == nil && !m.closed {
		return e.p // same id still in progress: do not send twice
	}
	pol := m.Policy(code)
	reply, hasReply := protocol.ExpectedReply(code)
	e := &entry{id: id, cmd: cmd, code: code, reply: reply, hasReply: hasReply, pkt: pkt, pol: pol,
		retries: pol.Retries, timeout: opts.Timeout, source: opts.Source, noEvent: opts.NoEvent, accepted: now}
	switch {
	case opts.Retries > 0:
		e.retries = opts.Retries
	case opts.Retries < 0:
		e.retries = 0
	}
	e.p = &Pending{id: id, done: make(chan struct{}), m: m, e: e}
	m.seq++
	e.seq = m.seq
	if err == nil && m.closed {
		err = ErrClosed
	}
	var veh *vehicle
	if err == nil {
		veh = m.vehicle(v)
		if len(veh.queue)+len(veh.awaiting) >= m.cfg.MaxQueuedPerVehicle {
			err = fmt.Errorf("%w: %d open commands for %s", ErrQueueFull, m.cfg.MaxQueuedPerVehicle, v)
		}
	}
	if err != nil {
		// Rejected before it existed anywhere: only valid vehicles get an event
		// (an event needs one).
		e.veh = &vehicle{id: v}
		if !v.Valid() {
			e.noEvent = true
		}
		e.state = stQueued
		m.finish(e, link.OutcomeRejected, err, nil, now, fx)
		return e.p
	}
	e.veh = veh
	e.expires = opts.Expires
	if e.expires.IsZero() {
		e.expires = now.Add(pol.OfflineTTL)
	}
	e.state = stQueued
	veh.queue = append(veh.queue, e)
	m.queued++
	m.active[id] = e
	if !e.expires.After(now) {
		m.finish(e, link.OutcomeExpired, ErrExpired, nil, now, fx)
		return e.p
	}
	if pol.Group != "" {
		m.supersedeOlder(e, now, fx)
	}
	m.dispatch(veh, now, fx)
	if e.state == stQueued { // waits: for the vehicle, or for its reply lane
		m.arm(e, e.expires.Sub(now))
		if ctx != nil && ctx.Done() != nil {
			p := e.p
			e.stopCtx = context.AfterFunc(ctx, func() {
				m.cancel(p, fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx)), true)
			})
		}
	}
	return e.p
}

func (m *Manager) vehicle(v protocol.VehicleID) *vehicle {
	veh := m.vehicles[v]
	if veh == nil {
		veh = &vehicle{id: v}
		m.vehicles[v] = veh
	}
	return veh
}

// forget drops the state of an offline vehicle with nothing open.
func (m *Manager) forget(veh *vehicle) {
	if !veh.online && len(veh.queue) == 0 && len(veh.awaiting) == 0 && veh.job == nil && m.vehicles[veh.id] == veh {
		delete(m.vehicles, veh.id)
	}
}

// arm replaces e's timer.
func (m *Manager) arm(e *entry, d time.Duration) {
	if e.timer != nil {
		e.timer.Stop()
	}
	e.gen++
	gen := e.gen
	e.timer = m.clock.AfterFunc(d, func() { m.onTimer(e, gen) })
}

// supersedeOlder ends the older commands of e's group that have not been
// published or wait to be re-published. One awaiting its reply right now
// keeps its chance to be acknowledged but will never be re-published.
func (m *Manager) supersedeOlder(e *entry, now time.Time, fx *effects) {
	veh := e.veh
	for _, x := range slices.Clone(veh.queue) {
		if x != e && x.pol.Group == e.pol.Group && x.seq < e.seq {
			m.met.superseded.Inc()
			m.finish(x, link.OutcomeRejected, fmt.Errorf("%w (by %s)", ErrSuperseded, e.id), nil, now, fx)
		}
	}
	for _, x := range slices.Clone(veh.awaiting) {
		if x.pol.Group == e.pol.Group && x.seq < e.seq && (x.state == stBackoff || x.unsent) {
			m.met.superseded.Inc()
			m.finish(x, link.OutcomeTimeout, fmt.Errorf("%w (by %s) before a reply", ErrSuperseded, e.id), nil, now, fx)
		}
	}
}

// newerInGroup reports whether a command accepted after e in e's group is open.
func (m *Manager) newerInGroup(e *entry) (string, bool) {
	if e.pol.Group == "" {
		return "", false
	}
	for _, l := range [2][]*entry{e.veh.queue, e.veh.awaiting} {
		for _, x := range l {
			if x.seq > e.seq && x.pol.Group == e.pol.Group {
				return x.id, true
			}
		}
	}
	return "", false
}

// laneFree reports whether a command expecting reply may be published now.
func (m *Manager) laneFree(veh *vehicle, reply protocol.Code) bool {
	if len(veh.awaiting) >= m.cfg.MaxInFlightPerVehicle {
		return false
	}
	n := 0
	for _, x := range veh.awaiting {
		if x.hasReply && x.reply == reply {
			n++
		}
	}
	return n < m.cfg.MaxInFlightPerCode
}

// dispatch publishes the queued commands of an online vehicle whose reply
// lane is free, in acceptance order per lane.
func (m *Manager) dispatch(veh *vehicle, now time.Time, fx *effects) {
	if !veh.online || m.closed || len(veh.queue) == 0 {
		return
	}
	for _, e := range slices.Clone(veh.queue) {
		if e.state != stQueued || (e.hasReply && !m.laneFree(veh, e.reply)) {
			continue
		}
		veh.queue = slices.DeleteFunc(veh.queue, func(x *entry) bool { return x == e })
		m.queued--
		if e.stopCtx != nil {
			e.stopCtx()
			e.stopCtx = nil
		}
		veh.awaiting = append(veh.awaiting, e)
		m.awaiting++
		if e.hasReply && e.reply >= 0 && int(e.reply) < len(m.awaitingBy) {
			m.awaitingBy[e.reply].Add(1)
		}
		m.attempt(e, now, true)
	}
}

// attempt uses the next attempt slot: it publishes when the vehicle is online,
// otherwise marks the slot skipped (published on reconnect). Commands without a
// reply get no timer: they finish once the publisher has sent them.
func (m *Manager) attempt(e *entry, now time.Time, online bool) {
	e.state = stAwaiting
	e.tries++
	if !e.hasReply {
		if e.timer != nil {
			e.timer.Stop()
		}
		e.gen++
		m.publish(e, now)
		return
	}
	if online {
		m.publish(e, now)
	} else {
		e.unsent = true
	}
	m.arm(e, m.attemptTimeout(e, now))
}

func (m *Manager) attemptTimeout(e *entry, now time.Time) time.Duration {
	d := e.pol.AttemptTimeout
	if !e.deadline.IsZero() {
		if rem := e.deadline.Sub(now); rem < d {
			d = max(rem, 0)
		}
	}
	return d
}

func (m *Manager) publish(e *entry, now time.Time) {
	e.unsent = false
	e.attempts++
	if e.first.IsZero() {
		e.first = now
		if e.timeout > 0 {
			e.deadline = now.Add(e.timeout)
		}
	}
	lbl := codeLabel(e.code)
	m.met.published.WithLabelValues(lbl).Inc()
	if e.attempts > 1 {
		m.met.retries.WithLabelValues(lbl).Inc()
	}
	m.out.push(outItem{e: e, attempt: e.attempts})
}

func (m *Manager) onTimer(e *entry, gen uint64) {
	now := m.clock.Now()
	var fx effects
	fx.vehicle = e.veh.id
	m.mu.Lock()
	if e.gen != gen || e.state == stDone || m.closed {
		m.mu.Unlock()
		return
	}
	switch e.state {
	case stQueued:
		err := ErrExpired
		if e.veh.online {
			err = fmt.Errorf("%w: its reply lane stayed busy", ErrExpired)
		}
		m.finish(e, link.OutcomeExpired, err, nil, now, &fx)
	case stAwaiting:
		m.afterAttempt(e, now, &fx)
	case stBackoff:
		if by, ok := m.newerInGroup(e); ok {
			m.met.superseded.Inc()
			m.finish(e, link.OutcomeTimeout, fmt.Errorf("%w (by %s) before a reply", ErrSuperseded, by), nil, now, &fx)
		} else {
			m.attempt(e, now, e.veh.online)
		}
	}
	m.dispatch(e.veh, now, &fx)
	m.mu.Unlock()
	m.flush(&fx)
}

// afterAttempt decides what follows an attempt that got no reply in time.
func (m *Manager) afterAttempt(e *entry, now time.Time, fx *effects) {
	if by, ok := m.newerInGroup(e); ok {
		m.met.superseded.Inc()
		m.finish(e, link.OutcomeTimeout, fmt.Errorf("%w (by %s) before a reply", ErrSuperseded, by), nil, now, fx)
		return
	}
	if e.tries > e.retries || (!e.deadline.IsZero() && !now.Before(e.deadline)) {
		m.finish(e, link.OutcomeTimeout, fmt.Errorf("%w after %d publish(es)", ErrTimeout, e.attempts), nil, now, fx)
		return
	}
	b := e.pol.backoff(e.tries)
	if !e.deadline.IsZero() && !now.Add(b).Before(e.deadline) {
		m.finish(e, link.OutcomeTimeout, fmt.Errorf("%w after %d publish(es) (deadline)", ErrTimeout, e.attempts), nil, now, fx)
		return
	}
	if b <= 0 {
		m.attempt(e, now, e.veh.online)
		return
	}
	e.state = stBackoff
	m.arm(e, b)
}

// finish decides e's outcome: it leaves its queue, its Pending completes and
// its event is collected. Caller holds m.mu.
func (m *Manager) finish(e *entry, o link.Outcome, err error, reply protocol.Report, now time.Time, fx *effects) {
	veh := e.veh
	switch e.state {
	case stDone:
		return
	case stQueued:
		if i := slices.Index(veh.queue, e); i >= 0 {
			veh.queue = slices.Delete(veh.queue, i, i+1)
			m.queued--
		}
	case stAwaiting, stBackoff:
		if i := slices.Index(veh.awaiting, e); i >= 0 {
			veh.awaiting = slices.Delete(veh.awaiting, i, i+1)
			m.awaiting--
			if e.hasReply && e.reply >= 0 && int(e.reply) < len(m.awaitingBy) {
				m.awaitingBy[e.reply].Add(-1)
			}
		}
	}
	e.state = stDone
	e.gen++
	if e.timer != nil {
		e.timer.Stop()
	}
	if e.stopCtx != nil {
		e.stopCtx()
		e.stopCtx = nil
	}
	if m.active[e.id] == e {
		delete(m.active, e.id)
	}
	r := Result{Err: err, Report: reply, Accepted: e.accepted, FirstSent: e.first, Done: now}
	r.CommandResult = link.CommandResult{V: link.Version, ID: e.id, Vehicle: string(veh.id), Code: int(e.code),
		Source: e.source, Outcome: o, Attempts: e.attempts}
	if err != nil {
		r.Error = err.Error()
	}
	if !e.first.IsZero() {
		r.LatencyMs = float64(now.Sub(e.first).Microseconds()) / 1000
	}
	if reply != nil {
		r.ReplyCode = int(reply.Code())
		if st, ok := replyStatus(reply); ok {
			s := int(st)
			r.Status = &s
		}
		if b, jerr := json.Marshal(reply); jerr == nil {
			r.CommandResult.Reply = b
		}
		m.met.latency.WithLabelValues(codeLabel(e.code)).Observe(now.Sub(e.first).Seconds())
	}
	m.met.outcome(e.code, o)
	e.p.res = r
	e.p.e = nil
	fx.done = append(fx.done, e.p) // closed after the event is emitted
	if !e.noEvent {
		fx.events = append(fx.events, link.Event{Vehicle: string(veh.id), Time: now, Kind: link.EventCommand,
			Command: &r.CommandResult})
	}
	m.forget(veh)
}

// OnReply takes a decoded scooter→server message of vehicle v received at
// now (zero: the manager's clock). It satisfies broker.Replies. Give it every
// reply and also 69 (the unsolicited upgrade result the firmware job waits
// for); other unsolicited reports are accepted and ignored without locking.
// The reply completes the OLDEST open published command of v that expects its
// code (for 68 also the same package serial); one that matches nothing is
// counted as unmatched and reported to Config.OnUnmatched. It never blocks on
// the network.
func (m *Manager) OnReply(v protocol.VehicleID, r protocol.Report, now time.Time) {
	if r == nil {
		return
	}
	code := r.Code()
	if code >= 0 && int(code) < len(m.unsolicited) && m.unsolicited[code] && code != protocol.CodeUpgradeResult &&
		m.awaitingBy[code].Load() == 0 {
		return // heartbeats, fixes while no 18 is out, …: no lock taken
	}
	if now.IsZero() {
		now = m.clock.Now()
	}
	var fx effects
	fx.vehicle = v
	m.mu.Lock()
	veh := m.vehicles[v]
	matched := false
	if veh != nil {
		for _, e := range veh.awaiting {
			if e.hasReply && e.reply == code && correlates(e.cmd, r) {
				if st, ok := replyStatus(r); ok && st != protocol.StatusOK {
					m.finish(e, link.OutcomeFailed, &StatusError{Reply: code, Status: st}, r, now, &fx)
				} else {
					m.finish(e, link.OutcomeAcked, nil, r, now, &fx)
				}
				matched = true
				break
			}
		}
		if !matched && code == protocol.CodeUpgradeResult && veh.job != nil {
			veh.job.deliverResult(r)
			matched = true
		}
		if matched {
			m.dispatch(veh, now, &fx)
		}
	}
	if !matched && (code < 0 || int(code) >= len(m.unsolicited) || !m.unsolicited[code]) {
		m.met.nUnmatched.Add(1)
		m.met.unmatched.WithLabelValues(codeLabel(code)).Inc()
		fx.unmatched = append(fx.unmatched, r)
	}
	m.mu.Unlock()
	m.flush(&fx)
}

// VehicleOnline tells the manager that v can receive commands (call it when
// the scooter has subscribed to its topic, not merely connected: a command
// published before the subscription is lost). Skipped attempts and commands
// waiting for the vehicle are published now.
func (m *Manager) VehicleOnline(v protocol.VehicleID) {
	now := m.clock.Now()
	var fx effects
	fx.vehicle = v
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	veh := m.vehicle(v)
	veh.online = true
	for _, e := range slices.Clone(veh.awaiting) {
		switch {
		case e.state == stBackoff:
			if by, ok := m.newerInGroup(e); ok {
				m.met.superseded.Inc()
				m.finish(e, link.OutcomeTimeout, fmt.Errorf("%w (by %s) before a reply", ErrSuperseded, by), nil, now, &fx)
				continue
			}
			m.attempt(e, now, true)
		case e.state == stAwaiting && e.unsent:
			m.publish(e, now)
			m.arm(e, m.attemptTimeout(e, now))
		}
	}
	m.dispatch(veh, now, &fx)
	if veh.job != nil {
		veh.job.notify(true)
	}
	m.mu.Unlock()
	m.flush(&fx)
}

// VehicleOffline tells the manager that v disconnected. Its queued commands
// wait (until they expire); published ones keep their timers, and re-publishes
// due while it is offline are skipped and made up on reconnect.
func (m *Manager) VehicleOffline(v protocol.VehicleID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	veh := m.vehicles[v]
	if veh == nil {
		return
	}
	veh.online = false
	if veh.job != nil {
		veh.job.notify(false)
	}
	m.forget(veh)
}

// cancel ends p's command with err (only if still unpublished when
// onlyQueued).
func (m *Manager) cancel(p *Pending, err error, onlyQueued bool) {
	now := m.clock.Now()
	var fx effects
	m.mu.Lock()
	e := p.e
	if e == nil || e.state == stDone || (onlyQueued && e.state != stQueued) {
		m.mu.Unlock()
		return
	}
	fx.vehicle = e.veh.id
	o := link.OutcomeRejected
	if e.attempts > 0 {
		o = link.OutcomeTimeout
	}
	m.finish(e, o, err, nil, now, &fx)
	m.dispatch(e.veh, now, &fx)
	m.mu.Unlock()
	m.flush(&fx)
}

// Close ends every open command (unpublished: rejected; published: timeout,
// both with ErrClosed, events emitted), cancels running upgrade jobs and
// waits for the manager's goroutines. Later Sends are rejected with ErrClosed.
func (m *Manager) Close() error {
	now := m.clock.Now()
	var fx effects
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	// Jobs first, so they read their abandoned packages as the shutdown.
	for _, veh := range m.vehicles {
		if veh.job != nil {
			veh.job.cancelWith(ErrClosed)
		}
	}
	for _, veh := range m.vehicles {
		for _, e := range slices.Concat(veh.queue, veh.awaiting) {
			o := link.OutcomeRejected
			if e.attempts > 0 {
				o = link.OutcomeTimeout
			}
			m.finish(e, o, ErrClosed, nil, now, &fx)
		}
	}
	m.mu.Unlock()
	m.flush(&fx)
	m.stop()
	m.wg.Wait()
	return nil
}

// ---- publisher goroutine ----

type outItem struct {
	e       *entry
	attempt int
}

// outQueue is an unbounded FIFO from the lock holders to the publisher
// goroutine; mu is a leaf lock (taken under Manager.mu, never the reverse).
type outQueue struct {
	mu    sync.Mutex
	items []outItem
	wake  chan struct{}
}

func (q *outQueue) push(it outItem) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// runPublisher is the one goroutine that publishes, so commands leave in the
// order they were decided. It stops when Close cancels m.ctx.
func (m *Manager) runPublisher() {
	defer m.wg.Done()
	var batch []outItem
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.out.wake:
		}
		m.out.mu.Lock()
		batch, m.out.items = m.out.items, batch[:0]
		m.out.mu.Unlock()
		for _, it := range batch {
			err := m.pub.Publish(it.e.pkt.Topic, it.e.pkt.Payload, it.e.pkt.QoS)
			if err != nil || !it.e.hasReply {
				m.published(it, err)
			}
		}
		clear(batch)
	}
}

// published completes a command without reply (sent = acked) or records a
// publish error.
func (m *Manager) published(it outItem, err error) {
	now := m.clock.Now()
	var fx effects
	e := it.e
	m.mu.Lock()
	if e.state == stDone || e.attempts != it.attempt {
		m.mu.Unlock()
		return
	}
	fx.vehicle = e.veh.id
	switch {
	case err == nil:
		m.finish(e, link.OutcomeAcked, nil, nil, now, &fx)
	case e.attempts == 1:
		m.log.Warn("publish failed", "vehicle", e.veh.id, "code", int(e.code), "err", err)
		m.finish(e, link.OutcomeRejected, fmt.Errorf("%w: %w", ErrPublish, err), nil, now, &fx)
	default:
		m.log.Warn("publish failed", "vehicle", e.veh.id, "code", int(e.code), "err", err)
		m.finish(e, link.OutcomeTimeout, errors.Join(ErrTimeout, fmt.Errorf("%w: %w", ErrPublish, err)), nil, now, &fx)
	}
	m.dispatch(e.veh, now, &fx)
	m.mu.Unlock()
	m.flush(&fx)
}

// newID returns a random command id (26 base32 characters, 130 bits).
func newID() string { return rand.Text() }
