package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/edge/internal/broker"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// ErrRunning is returned by Run when the Uplink already runs.
var ErrRunning = errors.New("uplink: already running")

// errRecord marks a record that cannot be forwarded (it is dropped and counted).
var errRecord = errors.New("uplink: record cannot be forwarded")

// Source is what the uplink drains: the outbox.
type Source interface {
	Read(afterSeq uint64, limit int) ([]outbox.Record, error)
	Wait(ctx context.Context, afterSeq uint64) error
	DeleteThrough(ctx context.Context, seq uint64) (int, error)
	Stats() outbox.Stats
}

// Uplink drains a Source to JetStream. See the package documentation.
type Uplink struct {
	cfg        Config
	src        Source
	nc         *nats.Conn
	js         jetstream.JetStream
	log        *slog.Logger
	hdr        link.Header
	telSubject string
	evSubject  string

	running atomic.Bool
	ctr     counters
}

type counters struct {
	published, publishedTelemetry, publishedEvents, publishedBytes atomic.Uint64
	publishErrors, resent, downsampled, invalid                    atomic.Uint64
	inFlight                                                       atomic.Int64
	ackedThrough, deletedThrough                                   atomic.Uint64
}

// New returns an Uplink publishing on nc (see Dial for the recommended
// connection options). It does not start anything; call Run.
func New(cfg Config, src Source, nc *nats.Conn, log *slog.Logger) (*Uplink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if src == nil || nc == nil {
		return nil, fmt.Errorf("%w: nil source or connection", ErrConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	js, err := jetstream.New(nc,
		// Resends leave the superseded futures pending until they time out.
		jetstream.WithPublishAsyncMaxPending(4*cfg.Window),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("uplink: jetstream: %w", err)
	}
	return &Uplink{
		cfg: cfg, src: src, nc: nc, js: js, log: log,
		hdr:        link.Header{V: link.Version, Gateway: cfg.Gateway, City: cfg.City},
		telSubject: link.TelemetrySubject(cfg.City),
		evSubject:  link.EventsSubject(cfg.City),
	}, nil
}

// message is one published batch.
type message struct {
	subject   string
	data      []byte
	id        string // Nats-Msg-Id
	records   int
	telemetry bool
	fut       jetstream.PubAckFuture // nil until published
	acked     bool
}

// chunk is the messages made from the outbox records (lastSeq, hi]; the records
// through hi may be deleted once every message of this chunk and of all
// earlier chunks is acknowledged.
type chunk struct {
	hi   uint64
	msgs []*message
}

func (c *chunk) done() bool {
	for _, m := range c.msgs {
		if !m.acked {
			return false
		}
	}
	return true
}

// Run drains the outbox until ctx ends, then applies a last outbox deletion of
// what was acknowledged (bounded to 5 s) and returns nil. It returns an error
// only when the Source fails for good (e.g. the outbox was closed).
func (u *Uplink) Run(ctx context.Context) error {
	if !u.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer u.running.Store(false)
	d := &deleter{u: u, wake: make(chan struct{}, 1)}
	dctx, dcancel := context.WithCancel(ctx)
	dstopped := make(chan struct{})
	go func() {
		defer close(dstopped)
		d.run(dctx)
	}()
	l := &loop{u: u, del: d, sampler: newSampler(u.cfg.Cadence), backoff: u.cfg.RetryMin}
	err := l.run(ctx)
	l.stopWait()
	dcancel()
	<-dstopped
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	d.deleteAcked(fctx)
	u.ctr.inFlight.Store(0)
	return err
}

// loop is the publish loop's state, owned by Run's goroutine.
type loop struct {
	u       *Uplink
	del     *deleter
	sampler *sampler
	next    uint64 // highest seq read from the outbox
	chunks  []*chunk
	unacked int // messages of chunks not yet acknowledged
	backoff time.Duration
	// reconnects is the connection's reconnect count when the in-flight
	// messages were last (re)sent: acks of a lost connection never come.
	reconnects uint64

	waitCh     chan error // pending Source.Wait, nil when none
	waitCancel context.CancelFunc
}

// publishError is a failed publish in fill.
type publishError struct{ err error }

func (e *publishError) Error() string { return e.err.Error() }

// linkCheck is how often the loop looks at the connection while messages are
// in flight, so a lost connection resends at once instead of after AckTimeout.
const linkCheck = 250 * time.Millisecond

// errLinkLost is the failure when the connection dropped with messages in flight.
var errLinkLost = errors.New("uplink: connection lost with messages in flight")

func (l *loop) run(ctx context.Context) error {
	l.reconnects = l.u.nc.Stats().Reconnects
	tick := time.NewTicker(linkCheck)
	defer tick.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if err := l.fill(ctx); err != nil {
			var pe *publishError
			if !errors.As(err, &pe) {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			l.fail(ctx, pe.err)
			continue
		}
		l.complete()
		if len(l.chunks) == 0 {
			if err := l.u.src.Wait(ctx, l.next); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("uplink: %w", err)
			}
			continue
		}
		var head *message
		for _, m := range l.chunks[0].msgs {
			if !m.acked {
				head = m
				break
			}
		}
		var more <-chan error
		if l.unacked < l.u.cfg.Window {
			more = l.startWait(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-head.fut.Ok():
			l.acked(head)
		case err := <-head.fut.Err():
			l.fail(ctx, err)
		case err := <-more:
			l.waitCh = nil
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("uplink: %w", err)
			}
		case <-tick.C:
			if l.u.nc.Status() != nats.CONNECTED || l.u.nc.Stats().Reconnects != l.reconnects {
				l.fail(ctx, errLinkLost)
			}
		}
	}
}

// fill reads and publishes chunks while the window has room.
func (l *loop) fill(ctx context.Context) error {
	for l.unacked < l.u.cfg.Window && ctx.Err() == nil {
		recs, err := l.u.src.Read(l.next, l.u.cfg.ReadBatch)
		var hi uint64
		if len(recs) > 0 {
			hi = recs[len(recs)-1].Seq
		}
		if err != nil {
			var ce *outbox.CorruptRecordError
			if !errors.As(err, &ce) {
				return fmt.Errorf("uplink: %w", err)
			}
			l.u.ctr.invalid.Add(1)
			l.u.log.Error("corrupt outbox record skipped", "seq", ce.Seq, "reason", ce.Reason)
			hi = max(hi, ce.Seq)
		}
		if hi <= l.next {
			return nil
		}
		c := l.build(recs, hi)
		l.next = hi
		l.chunks = append(l.chunks, c)
		l.unacked += len(c.msgs)
		l.u.ctr.inFlight.Store(int64(l.unacked))
		for _, m := range c.msgs {
			if err := l.publish(m); err != nil {
				return &publishError{err}
			}
		}
	}
	return nil
}

func (l *loop) publish(m *message) error {
	msg := &nats.Msg{Subject: m.subject, Data: m.data}
	fut, err := l.u.js.PublishMsgAsync(msg, jetstream.WithMsgID(m.id))
	if err != nil {
		return fmt.Errorf("uplink: publish %s: %w", m.id, err)
	}
	m.fut = fut
	return nil
}

func (l *loop) acked(m *message) {
	m.acked = true
	l.unacked--
	l.u.ctr.inFlight.Store(int64(l.unacked))
	l.backoff = l.u.cfg.RetryMin
	c := &l.u.ctr
	c.published.Add(1)
	c.publishedBytes.Add(uint64(len(m.data)))
	if m.telemetry {
		c.publishedTelemetry.Add(uint64(m.records))
	} else {
		c.publishedEvents.Add(uint64(m.records))
	}
	m.data = nil // not needed any more; free it before the chunk completes
}

// complete pops the finished chunks at the head and hands their end to the deleter.
func (l *loop) complete() {
	n := 0
	var through uint64
	for n < len(l.chunks) && l.chunks[n].done() {
		through = l.chunks[n].hi
		n++
	}
	if n == 0 {
		return
	}
	l.chunks = slices.Delete(l.chunks, 0, n)
	l.u.ctr.ackedThrough.Store(through)
	l.del.signal()
}

// fail waits (backoff with jitter, then until connected) and resends every
// unacknowledged message, until a resend goes out or ctx ends.
func (l *loop) fail(ctx context.Context, err error) {
	for {
		l.u.ctr.publishErrors.Add(1)
		wait := l.backoff/2 + rand.N(l.backoff/2+1)
		l.u.log.Warn("publish failed, will resend", "err", err, "in", wait,
			"unacked", l.unacked, "acked_through", l.u.ctr.ackedThrough.Load())
		l.backoff = min(2*l.backoff, l.u.cfg.RetryMax)
		if !sleep(ctx, wait) {
			return
		}
		for l.u.nc.Status() != nats.CONNECTED {
			if l.u.nc.IsClosed() {
				err = nats.ErrConnectionClosed
				break
			}
			if !sleep(ctx, 50*time.Millisecond) {
				return
			}
		}
		if err = l.resend(); err == nil {
			return
		}
	}
}

func (l *loop) resend() error {
	if l.u.nc.IsClosed() {
		return nats.ErrConnectionClosed
	}
	l.reconnects = l.u.nc.Stats().Reconnects
	for _, c := range l.chunks {
		for _, m := range c.msgs {
			if m.acked {
				continue
			}
			if err := l.publish(m); err != nil {
				return err
			}
			l.u.ctr.resent.Add(1)
		}
	}
	return nil
}

func (l *loop) startWait(ctx context.Context) <-chan error {
	if l.waitCh == nil {
		ch := make(chan error, 1)
		wctx, cancel := context.WithCancel(ctx)
		after := l.next
		go func() { ch <- l.u.src.Wait(wctx, after) }()
		l.waitCh, l.waitCancel = ch, cancel
	}
	return l.waitCh
}

func (l *loop) stopWait() {
	if l.waitCancel != nil {
		l.waitCancel()
		if l.waitCh != nil {
			<-l.waitCh
		}
	}
}

// build turns the records read (through hi) into messages.
func (l *loop) build(recs []outbox.Record, hi uint64) *chunk {
	var (
		tel []link.Telemetry
		evs []link.Event
	)
	for i := range recs {
		r := &recs[i]
		t := r.Time
		if t.IsZero() {
			t = r.Appended
		}
		switch r.Class {
		case outbox.ClassTelemetry:
			rec, ok, err := l.report(r, t)
			switch {
			case err != nil:
				l.u.dropped(r, err)
			case ok:
				rec.Seq = r.Seq
				tel = append(tel, rec)
			default:
				l.u.ctr.downsampled.Add(1)
			}
		case outbox.ClassEvent:
			e, err := l.u.event(r, t)
			if err != nil {
				l.u.dropped(r, err)
				continue
			}
			evs = append(evs, e)
		default:
			l.u.dropped(r, fmt.Errorf("%w: class %v", errRecord, r.Class))
		}
	}
	c := &chunk{hi: hi}
	c.msgs = l.u.eventMessages(evs, c.msgs)
	c.msgs = l.u.telemetryMessages(tel, c.msgs)
	return c
}

func (l *loop) report(r *outbox.Record, t time.Time) (link.Telemetry, bool, error) {
	if r.Kind != broker.KindReport {
		return link.Telemetry{}, false, fmt.Errorf("%w: telemetry kind %q", errRecord, r.Kind)
	}
	topic, payload, err := broker.DecodeReport(r.Payload)
	if err != nil {
		return link.Telemetry{}, false, fmt.Errorf("%w: %w", errRecord, err)
	}
	msg, err := protocol.Decode(topic, payload)
	if err != nil {
		return link.Telemetry{}, false, fmt.Errorf("%w: %w", errRecord, err)
	}
	rep, ok := msg.(protocol.Report)
	if !ok {
		return link.Telemetry{}, false, fmt.Errorf("%w: code %d is not a report", errRecord, msg.Code())
	}
	rec, ok := l.sampler.apply(rep, t)
	return rec, ok, nil
}

func (u *Uplink) event(r *outbox.Record, t time.Time) (link.Event, error) {
	var e link.Event
	if err := json.Unmarshal(r.Payload, &e); err != nil {
		return e, fmt.Errorf("%w: event: %w", errRecord, err)
	}
	e.Seq = r.Seq
	if e.Vehicle == "" {
		e.Vehicle = r.Vehicle
	}
	if e.Time.IsZero() {
		e.Time = t
	}
	one := link.EventBatch{Header: u.hdr, Events: []link.Event{e}}
	if err := one.Validate(); err != nil {
		return e, fmt.Errorf("%w: %w", errRecord, err)
	}
	return e, nil
}

func (u *Uplink) dropped(r *outbox.Record, err error) {
	u.ctr.invalid.Add(1)
	u.log.Error("outbox record dropped", "seq", r.Seq, "class", r.Class, "kind", r.Kind, "vehicle", r.Vehicle, "err", err)
}

// telemetryMessages and eventMessages encode records as one message, or halve
// them until each message fits MaxMessageBytes; a single record that does not
// fit (or does not encode) is dropped and counted.
func (u *Uplink) telemetryMessages(rs []link.Telemetry, out []*message) []*message {
	return messages(u, rs, u.telSubject, true, out, func(part []link.Telemetry) ([]byte, uint64, uint64, error) {
		data, err := appendTelemetryBatch(make([]byte, 0, 160*len(part)+64), u.hdr, part)
		return data, part[0].Seq, part[len(part)-1].Seq, err
	})
}

func (u *Uplink) eventMessages(es []link.Event, out []*message) []*message {
	return messages(u, es, u.evSubject, false, out, func(part []link.Event) ([]byte, uint64, uint64, error) {
		b := &link.EventBatch{Header: u.hdr, Events: part}
		first, last := b.SeqRange()
		data, err := json.Marshal(b)
		return data, first, last, err
	})
}

func messages[T any](u *Uplink, rs []T, subject string, telemetry bool, out []*message,
	encode func([]T) ([]byte, uint64, uint64, error)) []*message {
	if len(rs) == 0 {
		return out
	}
	data, first, last, err := encode(rs)
	if err == nil && len(data) <= u.cfg.MaxMessageBytes {
		return append(out, &message{subject: subject, data: data, id: link.MsgID(u.cfg.Gateway, first, last),
			records: len(rs), telemetry: telemetry})
	}
	if len(rs) == 1 {
		if err == nil {
			err = fmt.Errorf("%w: %d bytes encoded, limit %d", errRecord, len(data), u.cfg.MaxMessageBytes)
		}
		u.ctr.invalid.Add(1)
		u.log.Error("record too large or not encodable, dropped", "seq", first, "telemetry", telemetry, "err", err)
		return out
	}
	out = messages(u, rs[:len(rs)/2], subject, telemetry, out, encode)
	return messages(u, rs[len(rs)/2:], subject, telemetry, out, encode)
}

// deleter applies DeleteThrough for the publish loop on its own goroutine.
type deleter struct {
	u    *Uplink
	wake chan struct{}
	done uint64 // owned by the goroutine calling deleteAcked
}

func (d *deleter) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *deleter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		}
		d.deleteAcked(ctx)
	}
}

// deleteAcked deletes through the acknowledged seq, retrying each second
// until it succeeds or ctx ends.
func (d *deleter) deleteAcked(ctx context.Context) {
	for {
		want := d.u.ctr.ackedThrough.Load()
		if want <= d.done {
			return
		}
		if _, err := d.u.src.DeleteThrough(ctx, want); err != nil {
			if ctx.Err() != nil || errors.Is(err, outbox.ErrClosed) {
				return
			}
			d.u.log.Error("outbox delete failed, will retry", "through", want, "err", err)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		d.done = want
		d.u.ctr.deletedThrough.Store(want)
	}
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
