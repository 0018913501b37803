package command

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// fakeClock moves only when Advance is called; due callbacks run in the
// goroutine that advances it, in time order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	i := slices.Index(t.c.timers, t)
	if i < 0 {
		return false
	}
	t.c.timers = slices.Delete(t.c.timers, i, i+1)
	t.stopped = true
	return true
}

// Advance moves time forward by d, firing due timers one by one.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.at.After(target) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return t == next })
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}

// pending returns how many timers are armed.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

type published struct {
	topic   string
	payload []byte
	qos     byte
}

// recPublisher records publishes; fail makes the next publishes fail.
type recPublisher struct {
	mu   sync.Mutex
	msgs []published
	err  error
	// then, if set, plays the vehicle: it is called after recording, on the
	// manager's publisher goroutine (no manager lock held).
	then func(topic string, payload []byte)
}

func (p *recPublisher) Publish(topic string, payload []byte, qos byte) error {
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		return p.err
	}
	p.msgs = append(p.msgs, published{topic, append([]byte(nil), payload...), qos})
	then := p.then
	p.mu.Unlock()
	if then != nil {
		then(topic, payload)
	}
	return nil
}

func (p *recPublisher) list() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// waitN waits until exactly n messages were published (and no more appear
// within a short grace), returning them.
func (p *recPublisher) waitN(t *testing.T, n int) []published {
	t.Helper()
	waitFor(t, "publishes", func() bool { return len(p.list()) >= n })
	got := p.list()
	if len(got) != n {
		t.Fatalf("published %d messages, want %d: %s", len(got), n, payloads(got))
	}
	return got
}

func payloads(ms []published) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.topic + " " + string(m.payload)
	}
	return out
}

type recSink struct {
	mu     sync.Mutex
	events []link.Event
}

func (s *recSink) Emit(ev link.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
}

func (s *recSink) list() []link.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

func (s *recSink) commands() []link.CommandResult {
	var out []link.CommandResult
	for _, ev := range s.list() {
		if ev.Kind == link.EventCommand {
			out = append(out, *ev.Command)
		}
	}
	return out
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type harness struct {
	m     *Manager
	clock *fakeClock
	pub   *recPublisher
	sink  *recSink

	mu        sync.Mutex
	unmatched []protocol.Report
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{clock: newFakeClock(), pub: &recPublisher{}, sink: &recSink{}}
	if cfg.Clock == nil {
		cfg.Clock = h.clock
	}
	cfg.Publisher, cfg.Events = h.pub, h.sink
	cfg.OnUnmatched = func(_ protocol.VehicleID, r protocol.Report) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.unmatched = append(h.unmatched, r)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return h
}

func (h *harness) unmatchedCodes() []protocol.Code {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []protocol.Code
	for _, r := range h.unmatched {
		out = append(out, r.Code())
	}
	return out
}

func mustResult(t testing.TB, p *Pending) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("command %s: no outcome: %v", p.ID(), err)
	}
	return r
}

func notDone(t *testing.T, p *Pending) {
	t.Helper()
	if r, ok := p.Result(); ok {
		t.Fatalf("command %s already done: %+v", p.ID(), r.CommandResult)
	}
}

func speed(t *testing.T, kmh int) protocol.Command {
	t.Helper()
	c, err := protocol.NewSetSpeedLimit(kmh)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cmdOf(t *testing.T, code protocol.Code, fields map[string]any) protocol.Command {
	t.Helper()
	c, err := protocol.NewCommand(code, fields)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ack builds a decoded-looking reply (all fields present) from vehicle v.
func speedAck(v protocol.VehicleID, st protocol.Status) protocol.Report {
	return &protocol.SetSpeedLimitReply{Header: protocol.Header{From: v}, Ack: protocol.Ack{Nonce: 77, Status: st}}
}
