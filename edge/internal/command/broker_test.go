package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetedge/fleetedge/edge/internal/broker"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// testIngest is the minimum of the gateway's ingest hook these tests need:
// decoded replies to OnReply, subscription to the own topic = online,
// disconnect = offline. Scooter messages are not forwarded.
type testIngest struct {
	mqtt.HookBase
	m atomic.Pointer[Manager]
	// current client per id: the end of a session taken over by a reconnect
	// (mochi disconnects the old one, possibly after the new one subscribed)
	// must not mark the vehicle offline.
	sessions sync.Map
}

func (h *testIngest) ID() string { return "test-ingest" }

func (h *testIngest) Provides(b byte) bool {
	return b == mqtt.OnPublish || b == mqtt.OnSubscribed || b == mqtt.OnDisconnect
}

func (h *testIngest) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil // our own commands
	}
	msg, err := protocol.Decode(pk.TopicName, pk.Payload)
	if err != nil {
		return pk, packets.CodeSuccessIgnore
	}
	if r, ok := msg.(protocol.Report); ok && string(r.Vehicle()) == cl.ID {
		h.m.Load().OnReply(r.Vehicle(), r, time.Time{})
	}
	return pk, packets.CodeSuccessIgnore
}

func (h *testIngest) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	for i, f := range pk.Filters {
		if f.Filter == cl.ID && i < len(codes) && codes[i] < 0x80 {
			h.sessions.Store(cl.ID, cl)
			h.m.Load().VehicleOnline(protocol.VehicleID(cl.ID))
		}
	}
}

func (h *testIngest) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	if h.sessions.CompareAndDelete(cl.ID, cl) {
		h.m.Load().VehicleOffline(protocol.VehicleID(cl.ID))
	}
}

type credMap map[string]devicecred.Digest

func (c credMap) Credential(v string) (devicecred.Digest, bool) { d, ok := c[v]; return d, ok }

type world struct {
	t       testing.TB
	srv     *broker.Server
	m       *Manager
	sink    *recSink
	secrets map[string]string
}

// fastPolicies keep real-clock tests short.
func fastPolicies() map[protocol.Code]Policy {
	p := DefaultPolicies()
	for c, pol := range p {
		pol.AttemptTimeout, pol.Backoff, pol.MaxBackoff = 300*time.Millisecond, 20*time.Millisecond, 40*time.Millisecond
		p[c] = pol
	}
	return p
}

func newWorld(t testing.TB, cfg Config, ids ...string) *world {
	t.Helper()
	creds, secrets := credMap{}, map[string]string{}
	for _, id := range ids {
		s, hash, err := devicecred.Generate()
		if err != nil {
			t.Fatal(err)
		}
		d, err := devicecred.Parse(hash)
		if err != nil {
			t.Fatal(err)
		}
		creds[id], secrets[id] = d, s
	}
	ing := &testIngest{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := broker.NewServer(broker.Config{TCPAddr: "127.0.0.1:0"}, log, broker.NewAuthHook(creds), ing)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, srv: srv, sink: &recSink{}, secrets: secrets}
	cfg.Publisher, cfg.Events, cfg.Logger = srv, w.sink, log
	if cfg.Policies == nil {
		cfg.Policies = fastPolicies()
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.m = m
	ing.m.Store(m)
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return w
}

// scooter is a real MQTT client that decodes commands like the IoT module
// and answers through respond (called on paho's goroutine, in order).
type scooter struct {
	w       *world
	id      protocol.VehicleID
	respond func(s *scooter, c protocol.Command)

	mu     sync.Mutex
	c      paho.Client
	got    []protocol.Command
	errors []error
}

func (w *world) scooter(id string, respond func(s *scooter, c protocol.Command)) *scooter {
	w.t.Helper()
	s := &scooter{w: w, id: protocol.VehicleID(id), respond: respond}
	s.connect()
	w.t.Cleanup(s.disconnect)
	return s
}

func (s *scooter) connect() {
	s.w.t.Helper()
	if err := s.dial(); err != nil {
		s.w.t.Fatal(err)
	}
}

// dial connects and subscribes; the client is usable by the handler before
// the subscription completes (a command may arrive before SUBACK).
func (s *scooter) dial() error {
	o := paho.NewClientOptions().AddBroker("tcp://" + s.w.srv.Addrs["tcp"]).SetClientID(string(s.id)).
		SetUsername(string(s.id)).SetPassword(s.w.secrets[string(s.id)]).SetAutoReconnect(false).
		SetConnectRetry(false).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return fmt.Errorf("%s connect: %v", s.id, tok.Error())
	}
	s.mu.Lock()
	s.c = c
	s.mu.Unlock()
	if tok := c.Subscribe(string(s.id), 1, s.onMessage); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return fmt.Errorf("%s subscribe: %v", s.id, tok.Error())
	}
	return nil
}

func (s *scooter) disconnect() {
	s.mu.Lock()
	c := s.c
	s.c = nil
	s.mu.Unlock()
	if c != nil {
		c.Disconnect(0)
	}
}

func (s *scooter) onMessage(_ paho.Client, msg paho.Message) {
	c, err := protocol.DecodeCommand(msg.Payload())
	s.mu.Lock()
	if err != nil {
		s.errors = append(s.errors, fmt.Errorf("%s: %w", msg.Payload(), err))
		s.mu.Unlock()
		return
	}
	s.got = append(s.got, c)
	s.mu.Unlock()
	if s.respond != nil {
		s.respond(s, c)
	}
}

// reply publishes r from the scooter (on topic if given, else the registry's).
func (s *scooter) reply(r protocol.Report, topic string) {
	pkt, err := protocol.EncodeReport(r, protocol.Quirks{})
	if err != nil {
		s.w.t.Errorf("encode %T: %v", r, err)
		return
	}
	if topic == "" {
		topic = pkt.Topic
	}
	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	if c != nil {
		c.Publish(topic, pkt.QoS, false, pkt.Payload) // not waited for: we are on paho's goroutine
	}
}

func (s *scooter) received() []protocol.Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errors) > 0 {
		s.w.t.Errorf("%s could not decode: %v", s.id, s.errors)
	}
	return slices.Clone(s.got)
}

func hdr(s *scooter) protocol.Header { return protocol.Header{From: s.id} }

func wait(t *testing.T, p *Pending) Result {
	t.Helper()
	return mustResult(t, p)
}

func TestBrokerInterleavedAcks(t *testing.T) {
	w := newWorld(t, Config{MaxInFlightPerCode: 2}, "A1", "B2")
	// A holds its replies until it has all four commands, then answers in
	// another order, one reply on "o" (quirk 6). Its two 39s get
	// indistinguishable 40s: the first 40 (s=1) must go to the first 39.
	var held []protocol.Command
	a := w.scooter("A1", func(s *scooter, c protocol.Command) {
		held = append(held, c)
		if len(held) < 4 {
			return
		}
		s.reply(&protocol.SetHeadlightReply{Header: hdr(s), Ack: protocol.Ack{Nonce: 5}}, "o")
		s.reply(&protocol.SetVibrationReply{Header: hdr(s), Ack: protocol.Ack{Nonce: 6, Status: 1}}, "")
		s.reply(&protocol.VehicleParams{Header: hdr(s), SpeedLimit: 25, Battery: 71}, "")
		s.reply(&protocol.SetVibrationReply{Header: hdr(s), Ack: protocol.Ack{Nonce: 7, Status: 0}}, "")
	})
	b := w.scooter("B2", func(s *scooter, c protocol.Command) {
		switch c.(type) {
		case *protocol.SetVibration:
			s.reply(&protocol.SetVibrationReply{Header: hdr(s)}, "")
		case *protocol.QueryLog: // 78 comes on the vehicle's own topic
			s.reply(&protocol.LogReply{Header: hdr(s), B: "boot ok"}, "")
		}
	})
	waitFor(t, "online", func() bool { return w.m.Stats().Vehicles == 2 })
	ctx := context.Background()
	v1 := w.m.Send(ctx, "A1", cmdOf(t, protocol.CodeSetVibration, map[string]any{"v": 10}), Options{ID: "v1"})
	q := w.m.Send(ctx, "A1", cmdOf(t, protocol.CodeQueryParams, nil), Options{ID: "q"})
	v2 := w.m.Send(ctx, "A1", cmdOf(t, protocol.CodeSetVibration, map[string]any{"v": 20}), Options{ID: "v2"})
	l := w.m.Send(ctx, "A1", protocol.NewSetHeadlight(true), Options{ID: "l"})
	bv := w.m.Send(ctx, "B2", cmdOf(t, protocol.CodeSetVibration, map[string]any{"v": 30}), Options{ID: "bv"})
	blog := w.m.Send(ctx, "B2", cmdOf(t, protocol.CodeQueryLog, nil), Options{ID: "blog"})

	want := map[*Pending]link.Outcome{v1: link.OutcomeFailed, q: link.OutcomeAcked, v2: link.OutcomeAcked, l: link.OutcomeAcked,
		bv: link.OutcomeAcked, blog: link.OutcomeAcked}
	for p, o := range want {
		if r := wait(t, p); r.Outcome != o || r.Attempts != 1 {
			t.Errorf("%s: %+v", p.ID(), r.CommandResult)
		}
	}
	if r := wait(t, q); r.Report.(*protocol.VehicleParams).Battery != 71 {
		t.Errorf("q reply %s", r.CommandResult.Reply)
	}
	if got := a.received(); len(got) != 4 {
		t.Errorf("A got %d commands", len(got))
	}
	if r := wait(t, blog); r.Report.(*protocol.LogReply).B != "boot ok" {
		t.Errorf("log reply %s", r.CommandResult.Reply)
	}
	if got := b.received(); len(got) != 2 || got[0].(*protocol.SetVibration).Sensitivity != 30 {
		t.Errorf("B got %+v", got)
	}
	if s := w.m.Stats(); s.Unmatched != 0 || s.Awaiting != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestBrokerTimeoutThenLateAck(t *testing.T) {
	w := newWorld(t, Config{}, "A1")
	var late atomic.Bool
	a := w.scooter("A1", func(s *scooter, c protocol.Command) {
		switch c.(type) {
		case *protocol.SetSpeedLimit: // never acked in time
		case *protocol.QueryParams:
			if !late.Swap(true) {
				// The ack of the timed-out 13 arrives now, then the 16.
				s.reply(&protocol.SetSpeedLimitReply{Header: hdr(s)}, "")
			}
			s.reply(&protocol.VehicleParams{Header: hdr(s)}, "")
		}
	})
	waitFor(t, "online", func() bool { return w.m.Stats().Vehicles == 1 })
	start := time.Now()
	r := wait(t, w.m.Send(context.Background(), "A1", speed(t, 20), Options{}))
	if r.Outcome != link.OutcomeTimeout || r.Attempts != 4 || !errors.Is(r.Err, ErrTimeout) {
		t.Fatalf("%+v", r.CommandResult)
	}
	if el := time.Since(start); el < 4*300*time.Millisecond {
		t.Fatalf("timed out after %s, before 4 attempts of 300 ms", el)
	}
	n13 := 0
	for _, c := range a.received() {
		if c.Code() == protocol.CodeSetSpeedLimit {
			n13++
		}
	}
	if n13 != 4 {
		t.Fatalf("scooter got %d speed limits, want 4", n13)
	}
	qr := wait(t, w.m.Send(context.Background(), "A1", cmdOf(t, protocol.CodeQueryParams, nil), Options{}))
	if qr.Outcome != link.OutcomeAcked || qr.ReplyCode != 16 {
		t.Fatalf("%+v", qr.CommandResult)
	}
	waitFor(t, "unmatched late ack", func() bool { return w.m.Stats().Unmatched == 1 })
}

func TestBrokerOfflineVehicle(t *testing.T) {
	w := newWorld(t, Config{}, "A1", "B2")
	ctx := context.Background()
	p := w.m.Send(ctx, "A1", speed(t, 12), Options{Source: "rule"})
	exp := w.m.Send(ctx, "B2", speed(t, 12), Options{Expires: time.Now().Add(100 * time.Millisecond)})
	if r := wait(t, exp); r.Outcome != link.OutcomeExpired || r.Attempts != 0 {
		t.Fatalf("%+v", r.CommandResult)
	}
	notDone(t, p)
	a := w.scooter("A1", func(s *scooter, c protocol.Command) {
		s.reply(&protocol.SetSpeedLimitReply{Header: hdr(s)}, "")
	})
	if r := wait(t, p); r.Outcome != link.OutcomeAcked || r.Attempts != 1 {
		t.Fatalf("%+v", r.CommandResult)
	}
	if got := a.received(); len(got) != 1 || got[0].(*protocol.SetSpeedLimit).KMH != 12 {
		t.Fatalf("got %+v", got)
	}
	// Disconnect, queue, reconnect.
	a.disconnect()
	waitFor(t, "offline", func() bool { return w.m.Stats().Vehicles == 0 })
	p2 := w.m.Send(ctx, "A1", speed(t, 6), Options{})
	time.Sleep(50 * time.Millisecond)
	notDone(t, p2)
	a.connect()
	if r := wait(t, p2); r.Outcome != link.OutcomeAcked {
		t.Fatalf("%+v", r.CommandResult)
	}
	evs := w.sink.commands()
	if len(evs) != 3 {
		t.Fatalf("events %+v", evs)
	}
}

// fwScooter plays the IoT module's side of the upgrade: it reassembles the
// image, fails receptions on request, reboots after more than 5 failures of a
// package, and reports 69 with result.
type fwScooter struct {
	mu       sync.Mutex
	fail     map[int]int // serial → failures still to inject (this session)
	reboot   int         // serial whose 6th failure reboots the module (-1: none)
	result   protocol.Status
	total    int
	data     map[int][]byte
	failures map[int]int
	starts   int
	reboots  int
}

func (f *fwScooter) respond(s *scooter, c protocol.Command) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c := c.(type) {
	case *protocol.StartUpgrade:
		f.starts++
		f.total, f.data, f.failures = c.Packages, map[int][]byte{}, map[int]int{}
		s.reply(&protocol.StartUpgradeReply{Header: hdr(s)}, "")
	case *protocol.FirmwarePackage:
		if f.data == nil {
			// Not upgrading (a reboot lost the upgrade): refused until the next 23. Reached
			// when the gateway resends the package that rebooted the module after it
			// reconnected, before it noticed the disconnect.
			s.reply(&protocol.FirmwarePackageReply{Header: hdr(s), Serial: c.Serial, Status: protocol.StatusFailed}, "")
			return
		}
		if f.fail[c.Serial] > 0 || c.Serial == f.reboot {
			f.fail[c.Serial]--
			f.failures[c.Serial]++
			if f.failures[c.Serial] > 5 {
				f.reboot, f.reboots = -1, f.reboots+1
				f.data = nil // the module forgets the upgrade
				// The module reboots, which takes a moment: the broker has let the old
				// connection go before the new one arrives (no session takeover).
				go func() {
					s.disconnect()
					time.Sleep(50 * time.Millisecond)
					if err := s.dial(); err != nil {
						s.w.t.Error(err)
					}
				}()
				return
			}
			s.reply(&protocol.FirmwarePackageReply{Header: hdr(s), Serial: c.Serial, Status: protocol.StatusFailed}, "")
			return
		}
		f.data[c.Serial] = c.Data
		s.reply(&protocol.FirmwarePackageReply{Header: hdr(s), Serial: c.Serial}, "")
		if len(f.data) == f.total {
			s.reply(&protocol.UpgradeResult{Header: hdr(s), Ack: protocol.Ack{Status: f.result}}, "")
		}
	}
}

func (f *fwScooter) image() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b []byte
	for x := range f.total {
		b = append(b, f.data[x]...)
	}
	return b
}

func testImage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/1024)
	}
	return b
}

func fwEvents(s *recSink) []link.FirmwareEvent {
	var out []link.FirmwareEvent
	for _, ev := range s.list() {
		if ev.Kind == link.EventFirmware {
			out = append(out, *ev.Firmware)
		}
	}
	return out
}

func TestBrokerFirmwareUpgrade(t *testing.T) {
	img := testImage(5*PackageSize + 100) // 6 packages, the last one short
	fast := UpgradeOptions{RestartDelay: 20 * time.Millisecond, ReconnectTimeout: 5 * time.Second, ResultTimeout: 5 * time.Second}
	t.Run("package failures resent", func(t *testing.T) {
		w := newWorld(t, Config{}, "A1")
		fw := &fwScooter{fail: map[int]int{2: 2, 5: 1}, reboot: -1}
		w.scooter("A1", fw.respond)
		waitFor(t, "online", func() bool { return w.m.Stats().Vehicles == 1 })
		opts := fast
		opts.JobID, opts.ProgressEvery = "job1", 2
		u, err := w.m.StartUpgrade("A1", img, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.m.StartUpgrade("A1", img, opts); !errors.Is(err, ErrUpgradeRunning) {
			t.Fatalf("second job: %v", err)
		}
		p, err := u.Wait(context.Background())
		if err != nil || p.State != UpgradeSucceeded || p.Sent != 6 || p.Total != 6 || p.Failures != 3 || p.Restarts != 0 {
			t.Fatalf("%+v", p)
		}
		if !bytes.Equal(fw.image(), img) {
			t.Fatal("image reassembled by the scooter differs")
		}
		evs := fwEvents(w.sink)
		if len(evs) < 3 || evs[0].State != "running" || evs[0].Sent != 0 || evs[len(evs)-1].State != "succeeded" ||
			evs[len(evs)-1].Sent != 6 || evs[len(evs)-1].Failures != 3 {
			t.Fatalf("events %+v", evs)
		}
		if len(w.sink.commands()) != 0 {
			t.Fatalf("job commands must not produce command events: %+v", w.sink.commands())
		}
		// A new job may start once the first is done.
		u2, err := w.m.StartUpgrade("A1", img[:10], opts)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := u2.Wait(context.Background()); err != nil || p.Total != 1 {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("more than 5 failures: reboot and restart", func(t *testing.T) {
		w := newWorld(t, Config{}, "A1")
		fw := &fwScooter{fail: map[int]int{}, reboot: 3}
		w.scooter("A1", fw.respond)
		waitFor(t, "online", func() bool { return w.m.Stats().Vehicles == 1 })
		u, err := w.m.StartUpgrade("A1", img, fast)
		if err != nil {
			t.Fatal(err)
		}
		p, err := u.Wait(context.Background())
		// Failures: the 5 refusals, and a 6th when the rebooted module refused the resent
		// package before the job saw the disconnect (both orders happen).
		if err != nil || p.State != UpgradeSucceeded || p.Restarts != 1 || p.Failures < 5 || p.Failures > 6 || p.Sent != 6 {
			t.Fatalf("%+v", p)
		}
		fw.mu.Lock()
		starts, reboots := fw.starts, fw.reboots
		fw.mu.Unlock()
		if starts != 2 || reboots != 1 {
			t.Fatalf("starts %d reboots %d", starts, reboots)
		}
		if !bytes.Equal(fw.image(), img) {
			t.Fatal("image differs")
		}
	})
	t.Run("69 reports failure", func(t *testing.T) {
		w := newWorld(t, Config{}, "A1")
		fw := &fwScooter{fail: map[int]int{}, reboot: -1, result: protocol.StatusFailed}
		w.scooter("A1", fw.respond)
		waitFor(t, "online", func() bool { return w.m.Stats().Vehicles == 1 })
		u, err := w.m.StartUpgrade("A1", img, fast)
		if err != nil {
			t.Fatal(err)
		}
		p, err := u.Wait(context.Background())
		if !errors.Is(err, ErrUpgradeFailed) || p.State != UpgradeFailed || p.Sent != 6 {
			t.Fatalf("%+v %v", p, err)
		}
		if evs := fwEvents(w.sink); evs[len(evs)-1].State != "failed" {
			t.Fatalf("events %+v", evs)
		}
	})
}

// The gateway's ingest hands replies to the Manager through broker.Replies.
var _ broker.Replies = (*Manager)(nil)
