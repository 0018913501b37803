package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// ErrRunning is returned by Run when the Ingest already runs.
var ErrRunning = errors.New("ingest: already running")

// Store is where rows go: chstore.Store.
type Store interface {
	InsertTelemetry(ctx context.Context, rows []chstore.TelemetryRow) error
	InsertEvents(ctx context.Context, rows []chstore.EventRow) error
	InsertCommands(ctx context.Context, rows []chstore.CommandRow) error
}

// Ingest consumes FLEET_UP. See the package documentation.
type Ingest struct {
	cfg   Config
	js    jetstream.JetStream
	nc    *nats.Conn
	store Store
	live  *livestate.Fleet
	log   *slog.Logger

	running atomic.Bool
	ctr     counters
}

type counters struct {
	messages, telemetry, events, commands, deadLettered, naks, flushes, writeErrors atomic.Uint64
	flushNanos, lastFlushRows                                                       atomic.Uint64
}

// New returns an Ingest reading link.StreamUp through js (whose connection also
// carries dead letters), writing to store and folding records into live (a new
// Fleet when nil; see Live).
func New(cfg Config, js jetstream.JetStream, store Store, live *livestate.Fleet, log *slog.Logger) (*Ingest, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if js == nil || store == nil {
		return nil, fmt.Errorf("%w: nil jetstream or store", ErrConfig)
	}
	if live == nil {
		live = livestate.New()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Ingest{cfg: cfg.withDefaults(), js: js, nc: js.Conn(), store: store, live: live, log: log}, nil
}

// Live is the live fleet state the ingest maintains (for the APIs).
func (i *Ingest) Live() *livestate.Fleet { return i.live }

// pending is the write batch being built.
type pending struct {
	msgs  []jetstream.Msg
	items []*item
	rows  int
	since time.Time // when the first message was taken
}

// Run consumes until ctx ends, then flushes what it holds (see doc.go) and
// returns nil; it returns an error when the consumer cannot be created or the
// connection closed under it.
func (i *Ingest) Run(ctx context.Context) error {
	if !i.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer i.running.Store(false)
	cons, err := i.js.CreateOrUpdateConsumer(ctx, link.StreamUp, jetstream.ConsumerConfig{
		Durable:       i.cfg.Durable,
		Description:   "cloud ingest: telemetry and events to ClickHouse",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       i.cfg.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: link.SubjectsUp,
		MaxAckPending: (i.cfg.Writers+2)*i.cfg.FlushMessages + 2*i.cfg.Prefetch, // batches: writing, queued, building
		MaxDeliver:    -1,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("ingest: consumer %s: %w", i.cfg.Durable, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(i.cfg.Prefetch, i.cfg.PrefetchBytes))
	if err != nil {
		return fmt.Errorf("ingest: pull: %w", err)
	}
	// Drain on cancel: stop pulling but hand over what was prefetched, so it is
	// written and acked now rather than redelivered after AckWait.
	stopPull := context.AfterFunc(ctx, it.Drain)
	defer stopPull()
	defer it.Stop()

	// The writer goroutine writes and acks one batch while this loop decodes the
	// next: decoding and ClickHouse's insert overlap. It stops after the batches
	// handed to it; its context ends StopTimeout after ctx.
	batches := make(chan *pending, 1)
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	stopWriter := context.AfterFunc(ctx, func() { time.AfterFunc(i.cfg.StopTimeout, wcancel) })
	defer stopWriter()
	writerDone := make(chan struct{})
	var writers sync.WaitGroup
	for range i.cfg.Writers {
		writers.Go(func() {
			for p := range batches {
				i.flush(wctx, p)
			}
		})
	}
	go func() {
		writers.Wait()
		close(writerDone)
	}()
	finish := func(p *pending) {
		if len(p.msgs) > 0 {
			batches <- p
		}
		close(batches)
		<-writerDone
	}

	p := &pending{}
	for {
		wait := i.cfg.FlushInterval
		if len(p.msgs) > 0 {
			wait = max(time.Millisecond, i.cfg.FlushInterval-time.Since(p.since))
		}
		msg, err := it.Next(jetstream.NextMaxWait(wait))
		switch {
		case err == nil:
			if len(p.msgs) == 0 {
				p.since = time.Now()
			}
			i.take(p, msg)
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			finish(p)
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ingest: %w", err)
		case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		default:
			i.log.Warn("pull failed", "err", err)
		}
		if len(p.msgs) > 0 && (p.rows >= i.cfg.FlushRows || len(p.msgs) >= i.cfg.FlushMessages ||
			time.Since(p.since) >= i.cfg.FlushInterval) {
			batches <- p
			p = &pending{}
		}
	}
}

// take decodes msg into p, or dead-letters it.
func (i *Ingest) take(p *pending, msg jetstream.Msg) {
	i.ctr.messages.Add(1)
	it, err := decode(msg.Subject(), msg.Data(), i.live)
	if err != nil {
		i.deadLetter(msg, err)
		return
	}
	p.msgs = append(p.msgs, msg)
	p.items = append(p.items, it)
	p.rows += it.rows()
}

// flush writes p, then acks; on error naks, or isolates invalid rows.
func (i *Ingest) flush(ctx context.Context, p *pending) {
	begin := time.Now()
	wctx, cancel := context.WithTimeout(ctx, i.cfg.WriteTimeout)
	err := i.write(wctx, p.items)
	cancel()
	i.ctr.flushNanos.Add(uint64(time.Since(begin)))
	i.ctr.flushes.Add(1)
	i.ctr.lastFlushRows.Store(uint64(p.rows))
	switch {
	case err == nil:
		i.ackAll(p.msgs, p.items)
	case errors.Is(err, chstore.ErrInvalidRow) && len(p.msgs) > 1:
		i.log.Warn("batch rejected as invalid, writing messages one by one", "messages", len(p.msgs), "err", err)
		for k, m := range p.msgs {
			i.flushOne(ctx, m, p.items[k])
		}
	case errors.Is(err, chstore.ErrInvalidRow):
		i.deadLetter(p.msgs[0], fmt.Errorf("%w: %w", errUnprocessable, err))
	default:
		i.ctr.writeErrors.Add(1)
		i.log.Error("write failed, messages will be redelivered", "messages", len(p.msgs), "rows", p.rows,
			"in", i.cfg.NakDelay, "err", err)
		i.nakAll(p.msgs)
	}
}

func (i *Ingest) flushOne(ctx context.Context, m jetstream.Msg, it *item) {
	wctx, cancel := context.WithTimeout(ctx, i.cfg.WriteTimeout)
	err := i.write(wctx, []*item{it})
	cancel()
	switch {
	case err == nil:
		i.ackAll([]jetstream.Msg{m}, []*item{it})
	case errors.Is(err, chstore.ErrInvalidRow):
		i.deadLetter(m, fmt.Errorf("%w: %w", errUnprocessable, err))
	default:
		i.ctr.writeErrors.Add(1)
		i.nakAll([]jetstream.Msg{m})
	}
}

// write inserts the rows of items (telemetry, events, commands), then runs the hook.
func (i *Ingest) write(ctx context.Context, items []*item) error {
	var tel []chstore.TelemetryRow
	var ev []chstore.EventRow
	var cmd []chstore.CommandRow
	if len(items) == 1 {
		tel, ev, cmd = items[0].tel, items[0].ev, items[0].cmd
	} else {
		for _, it := range items {
			tel = append(tel, it.tel...)
			ev = append(ev, it.ev...)
			cmd = append(cmd, it.cmd...)
		}
	}
	if err := i.store.InsertTelemetry(ctx, tel); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if err := i.store.InsertEvents(ctx, ev); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if err := i.store.InsertCommands(ctx, cmd); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if i.cfg.OnEvents != nil {
		for _, it := range items {
			if len(it.events) == 0 {
				continue
			}
			if err := i.cfg.OnEvents(ctx, it.city, it.gateway, it.events); err != nil {
				return fmt.Errorf("ingest: event hook: %w", err)
			}
		}
	}
	return nil
}

func (i *Ingest) ackAll(msgs []jetstream.Msg, items []*item) {
	for k, m := range msgs {
		if err := m.Ack(); err != nil {
			// The rows are written; a redelivery is deduplicated on (gateway, seq).
			i.log.Warn("ack failed", "subject", m.Subject(), "err", err)
		}
		it := items[k]
		i.ctr.telemetry.Add(uint64(len(it.tel)))
		i.ctr.events.Add(uint64(len(it.ev)))
		i.ctr.commands.Add(uint64(len(it.cmd)))
	}
}

func (i *Ingest) nakAll(msgs []jetstream.Msg) {
	for _, m := range msgs {
		i.ctr.naks.Add(1)
		if err := m.NakWithDelay(i.cfg.NakDelay); err != nil {
			i.log.Warn("nak failed (redelivered after ack wait)", "subject", m.Subject(), "err", err)
		}
	}
}

// deadLetter publishes msg with the reason to the city's dead-letter subject
// and terminates it.
func (i *Ingest) deadLetter(msg jetstream.Msg, reason error) {
	city, _, err := subjectParts(msg.Subject())
	if err != nil {
		city = "unknown"
	}
	dl := nats.NewMsg(link.DeadLetterSubject(city))
	dl.Data = msg.Data()
	dl.Header.Set(HeaderDeadReason, reason.Error())
	dl.Header.Set(HeaderDeadSubject, msg.Subject())
	if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
		dl.Header.Set(HeaderDeadMsgID, id)
	}
	// Stored in link.StreamDead before the original is terminated: a dead letter that cannot
	// be kept is retried later rather than lost.
	ctx, cancel := context.WithTimeout(context.Background(), i.cfg.WriteTimeout)
	defer cancel()
	if _, err := i.js.PublishMsg(ctx, dl); err != nil {
		i.ctr.naks.Add(1)
		i.log.Error("dead letter not stored; message kept for redelivery", "subject", msg.Subject(), "to", dl.Subject, "reason", reason, "err", err)
		if err := msg.NakWithDelay(i.cfg.NakDelay); err != nil {
			i.log.Warn("nak failed", "subject", msg.Subject(), "err", err)
		}
		return
	}
	i.ctr.deadLettered.Add(1)
	i.log.Warn("message dead-lettered", "subject", msg.Subject(), "to", dl.Subject, "reason", reason, "bytes", len(msg.Data()))
	if err := msg.TermWithReason(truncate(reason.Error(), 200)); err != nil {
		i.log.Warn("term failed", "subject", msg.Subject(), "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
