package command

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

const veh = protocol.VehicleID("12AB")

func vibrationAck(v protocol.VehicleID, st protocol.Status) protocol.Report {
	return &protocol.SetVibrationReply{Header: protocol.Header{From: v}, Ack: protocol.Ack{Status: st}}
}

func TestSameReplyCodeMatchedOldestFirst(t *testing.T) {
	// Two commands awaiting the same reply code; their acks interleave with
	// nothing to tell them apart: the first ack goes to the first command.
	h := newHarness(t, Config{MaxInFlightPerCode: 2})
	h.m.VehicleOnline(veh)
	a := h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeSetVibration, map[string]any{"v": 10}), Options{ID: "a"})
	b := h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeSetVibration, map[string]any{"v": 20}), Options{ID: "b"})
	got := h.pub.waitN(t, 2)
	if string(got[0].payload) != `{"a":39,"v":10}` || string(got[1].payload) != `{"a":39,"v":20}` || got[0].topic != "12AB" {
		t.Fatalf("published %s", payloads(got))
	}
	h.m.OnReply(veh, vibrationAck(veh, protocol.StatusFailed), time.Time{})
	ra := mustResult(t, a)
	notDone(t, b)
	h.m.OnReply(veh, vibrationAck(veh, protocol.StatusOK), time.Time{})
	rb := mustResult(t, b)
	if ra.Outcome != link.OutcomeFailed || *ra.Status != 1 || !errors.Is(ra.Err, ErrFailed) || rb.Outcome != link.OutcomeAcked || rb.Err != nil {
		t.Fatalf("a %+v / b %+v", ra.CommandResult, rb.CommandResult)
	}
	var se *StatusError
	if !errors.As(ra.Err, &se) || se.Reply != protocol.CodeSetVibrationReply || se.Status != 1 {
		t.Fatalf("a err %v", ra.Err)
	}
	if ev := h.sink.commands(); len(ev) != 2 || ev[0].ID != "a" || ev[1].ID != "b" || ev[0].ReplyCode != 40 {
		t.Fatalf("events %+v", ev)
	}
}

func TestSameCodeLaneSerialisedByDefault(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOnline(veh)
	a := h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeSetVibration, map[string]any{"v": 10}), Options{})
	b := h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeSetVibration, map[string]any{"v": 20}), Options{})
	q := h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeQueryParams, nil), Options{})
	got := h.pub.waitN(t, 2) // 39 v=10 and 15; 39 v=20 waits for the first ack
	if string(got[0].payload) != `{"a":39,"v":10}` || string(got[1].payload) != `{"a":15}` {
		t.Fatalf("published %s", payloads(got))
	}
	if s := h.m.Stats(); s.Queued != 1 || s.Awaiting != 2 {
		t.Fatalf("stats %+v", s)
	}
	h.m.OnReply(veh, vibrationAck(veh, protocol.StatusOK), time.Time{})
	if r := mustResult(t, a); r.Outcome != link.OutcomeAcked {
		t.Fatalf("a %+v", r.CommandResult)
	}
	got = h.pub.waitN(t, 3)
	if string(got[2].payload) != `{"a":39,"v":20}` {
		t.Fatalf("published %s", payloads(got))
	}
	h.m.OnReply(veh, vibrationAck(veh, protocol.StatusOK), time.Time{})
	h.m.OnReply(veh, &protocol.VehicleParams{Header: protocol.Header{From: veh}, SpeedLimit: 20}, time.Time{})
	if r := mustResult(t, b); r.Outcome != link.OutcomeAcked {
		t.Fatalf("b %+v", r.CommandResult)
	}
	if r := mustResult(t, q); r.Outcome != link.OutcomeAcked || r.Report.(*protocol.VehicleParams).SpeedLimit != 20 {
		t.Fatalf("q %+v", r.CommandResult)
	}
}

func TestDifferentCodesInterleaved(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOnline(veh)
	lim := h.m.Send(context.Background(), veh, speed(t, 15), Options{ID: "lim"})
	qry := h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeQueryParams, nil), Options{ID: "qry"})
	light := h.m.Send(context.Background(), veh, protocol.NewSetHeadlight(true), Options{ID: "light"})
	h.pub.waitN(t, 3)
	// Replies arrive in another order than the commands left.
	h.m.OnReply(veh, &protocol.SetHeadlightReply{Header: protocol.Header{From: veh}, Ack: protocol.Ack{Status: 1}}, time.Time{})
	h.m.OnReply(veh, &protocol.VehicleParams{Header: protocol.Header{From: veh}, Battery: 80}, time.Time{})
	notDone(t, lim)
	h.m.OnReply(veh, speedAck(veh, 0), time.Time{})
	for _, c := range []struct {
		p       *Pending
		outcome link.Outcome
		reply   int
	}{{lim, link.OutcomeAcked, 14}, {qry, link.OutcomeAcked, 16}, {light, link.OutcomeFailed, 38}} {
		r := mustResult(t, c.p)
		if r.Outcome != c.outcome || r.ReplyCode != c.reply || len(r.CommandResult.Reply) == 0 {
			t.Fatalf("%s: %+v", c.p.ID(), r.CommandResult)
		}
	}
	if s := h.m.Stats(); s.Unmatched != 0 || s.Awaiting != 0 || s.Queued != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTimeoutAfterRetries(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOnline(veh)
	p := h.m.Send(context.Background(), veh, speed(t, 20), Options{Source: "rule"})
	h.pub.waitN(t, 1)
	// 13: 5 s per attempt, 3 retries after 1 s, 2 s, 4 s of backoff.
	h.clock.Advance(5 * time.Second)
	h.pub.waitN(t, 1) // backing off
	h.clock.Advance(time.Second)
	h.pub.waitN(t, 2)
	h.clock.Advance(5*time.Second + 2*time.Second)
	h.pub.waitN(t, 3)
	h.clock.Advance(5*time.Second + 4*time.Second)
	h.pub.waitN(t, 4)
	notDone(t, p)
	h.clock.Advance(5*time.Second - time.Millisecond)
	notDone(t, p)
	h.clock.Advance(time.Millisecond)
	r := mustResult(t, p)
	if r.Outcome != link.OutcomeTimeout || r.Attempts != 4 || !errors.Is(r.Err, ErrTimeout) || r.Source != "rule" {
		t.Fatalf("%+v", r.CommandResult)
	}
	if d := r.Done.Sub(r.FirstSent); d != 27*time.Second { // 4×5 s + 1 + 2 + 4
		t.Fatalf("gave up after %s, want 27s", d)
	}
	for i, m := range h.pub.list() {
		if string(m.payload) != `{"a":13,"k":2020}` || m.qos != 1 {
			t.Fatalf("publish %d: %q qos %d", i, m.payload, m.qos)
		}
	}
	if ev := h.sink.commands(); len(ev) != 1 || ev[0].Outcome != link.OutcomeTimeout {
		t.Fatalf("events %+v", ev)
	}
	if h.clock.pending() != 0 {
		t.Fatalf("%d timers left", h.clock.pending())
	}
}

func TestOptionsTimeoutBoundsAllAttempts(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOnline(veh)
	p := h.m.Send(context.Background(), veh, speed(t, 20), Options{Timeout: 7 * time.Second})
	h.pub.waitN(t, 1)
	h.clock.Advance(5 * time.Second)
	h.clock.Advance(time.Second) // retry at 6 s, its attempt cut to 1 s
	h.pub.waitN(t, 2)
	h.clock.Advance(time.Second)
	if r := mustResult(t, p); r.Outcome != link.OutcomeTimeout || r.Attempts != 2 {
		t.Fatalf("%+v", r.CommandResult)
	}
}

func TestAckDuringBackoffCompletes(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOnline(veh)
	p := h.m.Send(context.Background(), veh, speed(t, 20), Options{})
	h.pub.waitN(t, 1)
	h.clock.Advance(5 * time.Second) // attempt 1 timed out, backing off
	h.m.OnReply(veh, speedAck(veh, 0), time.Time{})
	if r := mustResult(t, p); r.Outcome != link.OutcomeAcked || r.Attempts != 1 {
		t.Fatalf("%+v", r.CommandResult)
	}
	h.clock.Advance(time.Minute)
	h.pub.waitN(t, 1)
}

func TestLateAckAfterTimeoutIsUnmatched(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOnline(veh)
	lim := h.m.Send(context.Background(), veh, speed(t, 20), Options{Retries: NoRetries})
	h.pub.waitN(t, 1)
	h.clock.Advance(5 * time.Second)
	if r := mustResult(t, lim); r.Outcome != link.OutcomeTimeout || r.Attempts != 1 {
		t.Fatalf("%+v", r.CommandResult)
	}
	qry := h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeQueryParams, nil), Options{})
	h.pub.waitN(t, 2)
	h.m.OnReply(veh, speedAck(veh, 0), time.Time{}) // the late 14
	notDone(t, qry)
	if s := h.m.Stats(); s.Unmatched != 1 {
		t.Fatalf("unmatched %d", s.Unmatched)
	}
	if got := h.unmatchedCodes(); len(got) != 1 || got[0] != protocol.CodeSetSpeedLimitReply {
		t.Fatalf("OnUnmatched got %v", got)
	}
	if v := counterValue(t, h.m.met.unmatched.WithLabelValues("14")); v != 1 {
		t.Fatalf("metric %v", v)
	}
	h.m.OnReply(veh, &protocol.VehicleParams{Header: protocol.Header{From: veh}}, time.Time{})
	if r := mustResult(t, qry); r.Outcome != link.OutcomeAcked {
		t.Fatalf("%+v", r.CommandResult)
	}
	// Unsolicited reports are not unmatched replies; nor are other vehicles' acks matched here.
	h.m.OnReply(veh, &protocol.Heartbeat{Header: protocol.Header{From: veh}}, time.Time{})
	h.m.OnReply("99ZZ", speedAck("99ZZ", 0), time.Time{})
	if s := h.m.Stats(); s.Unmatched != 2 {
		t.Fatalf("unmatched %d, want 2", s.Unmatched)
	}
}

func TestOfflineQueuedSentOnReconnect(t *testing.T) {
	h := newHarness(t, Config{})
	p := h.m.Send(context.Background(), veh, speed(t, 10), Options{})
	buzz := h.m.Send(context.Background(), veh, &protocol.Buzzer{}, Options{})
	h.clock.Advance(20 * time.Second)
	h.pub.waitN(t, 0)
	if s := h.m.Stats(); s.Queued != 2 {
		t.Fatalf("stats %+v", s)
	}
	h.m.VehicleOnline(veh)
	got := h.pub.waitN(t, 2)
	if string(got[0].payload) != `{"a":13,"k":2010}` || string(got[1].payload) != `{"a":28}` {
		t.Fatalf("published %s", payloads(got))
	}
	if r := mustResult(t, buzz); r.Outcome != link.OutcomeAcked || r.Attempts != 1 || r.ReplyCode != 0 {
		t.Fatalf("buzzer %+v", r.CommandResult)
	}
	h.m.OnReply(veh, speedAck(veh, 0), time.Time{})
	if r := mustResult(t, p); r.Outcome != link.OutcomeAcked {
		t.Fatalf("%+v", r.CommandResult)
	}
}

func TestOfflineExpires(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOffline(veh)
	p := h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeQueryVersion, nil), Options{Expires: h.clock.Now().Add(30 * time.Second)})
	def := h.m.Send(context.Background(), veh, speed(t, 10), Options{}) // 13: 2 min
	past := h.m.Send(context.Background(), veh, &protocol.Buzzer{}, Options{Expires: h.clock.Now().Add(-time.Second)})
	if r := mustResult(t, past); r.Outcome != link.OutcomeExpired {
		t.Fatalf("past %+v", r.CommandResult)
	}
	h.clock.Advance(30 * time.Second)
	if r := mustResult(t, p); r.Outcome != link.OutcomeExpired || !errors.Is(r.Err, ErrExpired) || r.Attempts != 0 {
		t.Fatalf("%+v", r.CommandResult)
	}
	notDone(t, def)
	h.clock.Advance(90 * time.Second)
	if r := mustResult(t, def); r.Outcome != link.OutcomeExpired {
		t.Fatalf("%+v", r.CommandResult)
	}
	h.m.VehicleOnline(veh)
	h.pub.waitN(t, 0)
	if s := h.m.Stats(); s.Queued != 0 || s.Awaiting != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRetryWhileOfflineMadeUpOnReconnect(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOnline(veh)
	p := h.m.Send(context.Background(), veh, speed(t, 10), Options{})
	h.pub.waitN(t, 1)
	h.m.VehicleOffline(veh)
	h.clock.Advance(5*time.Second + time.Second) // timeout, backoff: the retry is due while offline
	h.pub.waitN(t, 1)
	h.clock.Advance(2 * time.Second)
	h.m.VehicleOnline(veh) // made up at once
	h.pub.waitN(t, 2)
	h.m.OnReply(veh, speedAck(veh, 0), time.Time{})
	if r := mustResult(t, p); r.Outcome != link.OutcomeAcked || r.Attempts != 2 {
		t.Fatalf("%+v", r.CommandResult)
	}
}

func TestSupersedeSpeedLimit(t *testing.T) {
	t.Run("queued while offline", func(t *testing.T) {
		h := newHarness(t, Config{})
		a := h.m.Send(context.Background(), veh, speed(t, 15), Options{ID: "a"})
		b := h.m.Send(context.Background(), veh, speed(t, 20), Options{ID: "b"})
		c := h.m.Send(context.Background(), veh, speed(t, 25), Options{ID: "c"})
		other := h.m.Send(context.Background(), "34CD", speed(t, 5), Options{ID: "other"})
		for _, p := range []*Pending{a, b} {
			r := mustResult(t, p)
			if r.Outcome != link.OutcomeRejected || !errors.Is(r.Err, ErrSuperseded) || r.Attempts != 0 {
				t.Fatalf("%s: %+v", p.ID(), r.CommandResult)
			}
		}
		h.m.VehicleOnline(veh)
		got := h.pub.waitN(t, 1)
		if string(got[0].payload) != `{"a":13,"k":2025}` {
			t.Fatalf("published %s", payloads(got))
		}
		h.m.OnReply(veh, speedAck(veh, 0), time.Time{})
		if r := mustResult(t, c); r.Outcome != link.OutcomeAcked {
			t.Fatalf("c %+v", r.CommandResult)
		}
		notDone(t, other)
	})
	t.Run("in flight is not re-sent after a newer one", func(t *testing.T) {
		h := newHarness(t, Config{})
		h.m.VehicleOnline(veh)
		a := h.m.Send(context.Background(), veh, speed(t, 15), Options{ID: "a"})
		h.pub.waitN(t, 1)
		b := h.m.Send(context.Background(), veh, speed(t, 20), Options{ID: "b"}) // waits: lane 14 busy
		h.pub.waitN(t, 1)
		h.clock.Advance(5 * time.Second) // a times out: superseded, not retried; b goes
		ra := mustResult(t, a)
		if ra.Outcome != link.OutcomeTimeout || !errors.Is(ra.Err, ErrSuperseded) || ra.Attempts != 1 {
			t.Fatalf("a %+v", ra.CommandResult)
		}
		got := h.pub.waitN(t, 2)
		if string(got[1].payload) != `{"a":13,"k":2020}` {
			t.Fatalf("published %s", payloads(got))
		}
		h.m.OnReply(veh, speedAck(veh, 0), time.Time{})
		if r := mustResult(t, b); r.Outcome != link.OutcomeAcked {
			t.Fatalf("b %+v", r.CommandResult)
		}
	})
	t.Run("ack of the older one while the newer waits", func(t *testing.T) {
		h := newHarness(t, Config{})
		h.m.VehicleOnline(veh)
		a := h.m.Send(context.Background(), veh, speed(t, 15), Options{ID: "a"})
		h.pub.waitN(t, 1)
		b := h.m.Send(context.Background(), veh, speed(t, 20), Options{ID: "b"})
		h.m.OnReply(veh, speedAck(veh, 0), time.Time{})
		if r := mustResult(t, a); r.Outcome != link.OutcomeAcked {
			t.Fatalf("a %+v", r.CommandResult)
		}
		h.pub.waitN(t, 2)
		notDone(t, b)
	})
	t.Run("power off stops a pending power on retry", func(t *testing.T) {
		h := newHarness(t, Config{})
		h.m.VehicleOnline(veh)
		on := h.m.Send(context.Background(), veh, &protocol.PowerOn{}, Options{ID: "on"})
		h.pub.waitN(t, 1)
		h.clock.Advance(10 * time.Second) // power on timed out, backing off
		off := h.m.Send(context.Background(), veh, &protocol.PowerOff{}, Options{ID: "off"})
		r := mustResult(t, on)
		if r.Outcome != link.OutcomeTimeout || !errors.Is(r.Err, ErrSuperseded) {
			t.Fatalf("on %+v", r.CommandResult)
		}
		got := h.pub.waitN(t, 2)
		if string(got[1].payload) != `{"a":3}` || got[1].qos != 1 || got[0].qos != 0 {
			t.Fatalf("published %s", payloads(got))
		}
		h.clock.Advance(15 * time.Second) // power off retried once; power on never again
		got = h.pub.waitN(t, 3)
		if string(got[2].payload) != `{"a":3}` {
			t.Fatalf("published %s", payloads(got))
		}
		notDone(t, off)
		h.m.OnReply(veh, &protocol.PowerOffReply{Header: protocol.Header{From: veh}}, time.Time{})
		if r := mustResult(t, off); r.Outcome != link.OutcomeAcked {
			t.Fatalf("off %+v", r.CommandResult)
		}
	})
}

func TestCancelAndContext(t *testing.T) {
	h := newHarness(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	p := h.m.Send(ctx, veh, speed(t, 10), Options{})
	cancel()
	r := mustResult(t, p)
	if r.Outcome != link.OutcomeRejected || !errors.Is(r.Err, ErrCancelled) || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("%+v / %v", r.CommandResult, r.Err)
	}
	// Once published, ctx no longer matters; Cancel still ends it.
	h.m.VehicleOnline(veh)
	ctx2, cancel2 := context.WithCancel(context.Background())
	q := h.m.Send(ctx2, veh, speed(t, 10), Options{})
	h.pub.waitN(t, 1)
	cancel2()
	time.Sleep(10 * time.Millisecond) // let context.AfterFunc run if it (wrongly) would
	notDone(t, q)
	q.Cancel()
	if r := mustResult(t, q); r.Outcome != link.OutcomeTimeout || !errors.Is(r.Err, ErrCancelled) {
		t.Fatalf("%+v", r.CommandResult)
	}
	h.m.OnReply(veh, speedAck(veh, 0), time.Time{})
	if h.m.Stats().Unmatched != 1 {
		t.Fatal("ack of a cancelled command should be unmatched")
	}
}

func TestRejectedAtSend(t *testing.T) {
	h := newHarness(t, Config{MaxQueuedPerVehicle: 2, KnownVehicle: func(v protocol.VehicleID) bool { return v != "GHOST" }})
	cases := []struct {
		name string
		v    protocol.VehicleID
		cmd  protocol.Command
		want error
	}{
		{"bad vehicle", "bike", speed(t, 10), ErrInvalid},
		{"nil command", veh, nil, ErrInvalid},
		{"invalid fields", veh, &protocol.SetSpeedLimit{KMH: 99}, ErrInvalid},
		{"unknown vehicle", "GHOST", speed(t, 10), ErrUnknownVehicle},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := mustResult(t, h.m.Send(context.Background(), c.v, c.cmd, Options{}))
			if r.Outcome != link.OutcomeRejected || !errors.Is(r.Err, c.want) {
				t.Fatalf("%+v / %v", r.CommandResult, r.Err)
			}
		})
	}
	h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeQueryGPS, nil), Options{})
	h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeQueryIMEI, nil), Options{})
	if r := mustResult(t, h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeQuerySignal, nil), Options{})); !errors.Is(r.Err, ErrQueueFull) {
		t.Fatalf("%+v", r.CommandResult)
	}
	// Events only for valid vehicle numbers.
	for _, ev := range h.sink.commands() {
		if ev.Vehicle == "bike" {
			t.Fatalf("event for an invalid vehicle: %+v", ev)
		}
	}
}

func TestDuplicateIDJoins(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOnline(veh)
	a := h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeQueryGPS, nil), Options{ID: "req-1"})
	b := h.m.Send(context.Background(), veh, cmdOf(t, protocol.CodeQueryGPS, nil), Options{ID: "req-1"})
	if a != b {
		t.Fatal("same id in progress must return the same Pending")
	}
	h.pub.waitN(t, 1)
}

func TestPublishError(t *testing.T) {
	h := newHarness(t, Config{})
	h.pub.err = errors.New("broker closed")
	h.m.VehicleOnline(veh)
	r := mustResult(t, h.m.Send(context.Background(), veh, speed(t, 10), Options{}))
	if r.Outcome != link.OutcomeRejected || !errors.Is(r.Err, ErrPublish) {
		t.Fatalf("%+v", r.CommandResult)
	}
}

func TestCloseEndsOpenCommands(t *testing.T) {
	h := newHarness(t, Config{})
	queued := h.m.Send(context.Background(), veh, speed(t, 10), Options{})
	h.m.VehicleOnline("34CD")
	out := h.m.Send(context.Background(), "34CD", speed(t, 10), Options{})
	h.pub.waitN(t, 1)
	if err := h.m.Close(); err != nil {
		t.Fatal(err)
	}
	if r := mustResult(t, queued); r.Outcome != link.OutcomeRejected || !errors.Is(r.Err, ErrClosed) {
		t.Fatalf("%+v", r.CommandResult)
	}
	if r := mustResult(t, out); r.Outcome != link.OutcomeTimeout || !errors.Is(r.Err, ErrClosed) {
		t.Fatalf("%+v", r.CommandResult)
	}
	if r := mustResult(t, h.m.Send(context.Background(), veh, speed(t, 10), Options{})); !errors.Is(r.Err, ErrClosed) {
		t.Fatalf("%+v", r.CommandResult)
	}
	if len(h.sink.commands()) != 3 {
		t.Fatalf("events %+v", h.sink.commands())
	}
}

func TestHandleRequest(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOnline(veh)
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	bad := []struct {
		name string
		req  link.CommandRequest
		msg  string
	}{
		{"speed out of range", link.CommandRequest{V: 1, ID: "r1", Vehicle: "12AB", Code: 13, Fields: map[string]json.RawMessage{"k": raw("3000")}}, "range"},
		{"unknown field", link.CommandRequest{V: 1, ID: "r2", Vehicle: "12AB", Code: 13, Fields: map[string]json.RawMessage{"k": raw("2020"), "q": raw("1")}}, "field"},
		{"missing field", link.CommandRequest{V: 1, ID: "r3", Vehicle: "12AB", Code: 13}, "missing"},
		{"not a command", link.CommandRequest{V: 1, ID: "r4", Vehicle: "12AB", Code: 14}, "command"},
		{"bad vehicle", link.CommandRequest{V: 1, ID: "r5", Vehicle: "a/b", Code: 15}, "vehicle"},
		{"object value", link.CommandRequest{V: 1, ID: "r6", Vehicle: "12AB", Code: 13, Fields: map[string]json.RawMessage{"k": raw(`{"x":1}`)}}, "number"},
		{"bad version", link.CommandRequest{V: 9, ID: "r7", Vehicle: "12AB", Code: 15}, "version"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			res := h.m.HandleRequest(context.Background(), c.req)
			if res.Outcome != link.OutcomeRejected || !strings.Contains(res.Error, c.msg) || res.ID != c.req.ID {
				t.Fatalf("%+v", res)
			}
		})
	}
	h.pub.waitN(t, 0)

	done := make(chan link.CommandResult)
	go func() {
		done <- h.m.HandleRequest(context.Background(), link.CommandRequest{V: 1, ID: "ok", Vehicle: "12AB", Code: 13,
			Source: "admin:7", Fields: map[string]json.RawMessage{"k": raw("2018")}})
	}()
	got := h.pub.waitN(t, 1)
	if string(got[0].payload) != `{"a":13,"k":2018}` {
		t.Fatalf("published %s", payloads(got))
	}
	h.m.OnReply(veh, speedAck(veh, 0), time.Time{})
	res := <-done
	if res.Outcome != link.OutcomeAcked || res.ID != "ok" || res.Source != "admin:7" || *res.Status != 0 || res.ReplyCode != 14 {
		t.Fatalf("%+v", res)
	}

	// The caller stops waiting; the command goes on and ends as an event.
	ctx, cancel := context.WithCancel(context.Background())
	h.m.VehicleOffline(veh)
	go func() {
		done <- h.m.HandleRequest(ctx, link.CommandRequest{V: 1, ID: "late", Vehicle: "12AB", Code: 15, Source: "admin:7"})
	}()
	waitFor(t, "queued", func() bool { return h.m.Stats().Queued == 1 })
	cancel()
	if res := <-done; res.Outcome != link.OutcomeTimeout || !strings.Contains(res.Error, "goes on") {
		t.Fatalf("%+v", res)
	}
	h.m.VehicleOnline(veh)
	h.pub.waitN(t, 2)
	h.m.OnReply(veh, &protocol.VehicleParams{Header: protocol.Header{From: veh}}, time.Time{})
	waitFor(t, "event", func() bool {
		ev := h.sink.commands()
		return len(ev) > 0 && ev[len(ev)-1].ID == "late" && ev[len(ev)-1].Outcome == link.OutcomeAcked
	})
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, Config{Registerer: reg})
	h.m.VehicleOnline(veh)
	p := h.m.Send(context.Background(), veh, speed(t, 10), Options{})
	h.pub.waitN(t, 1)
	h.clock.Advance(250 * time.Millisecond)
	h.m.OnReply(veh, speedAck(veh, 0), time.Time{})
	mustResult(t, p)
	if v := counterValue(t, h.m.met.outcomes.WithLabelValues("13", "acked")); v != 1 {
		t.Fatalf("outcomes %v", v)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range fams {
		found[f.GetName()] = true
		if f.GetName() == "fleetedge_command_reply_latency_seconds" {
			if h := f.GetMetric()[0].GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() != 0.25 {
				t.Fatalf("latency histogram %v", h)
			}
		}
	}
	for _, name := range []string{"fleetedge_command_reply_latency_seconds", "fleetedge_command_published_total",
		"fleetedge_command_queued", "fleetedge_command_outcomes_total", "fleetedge_firmware_upgrades_running"} {
		if !found[name] {
			t.Fatalf("%s not registered", name)
		}
	}
	if _, err := New(Config{Publisher: h.pub, Registerer: reg}); err == nil {
		t.Fatal("second manager on the same registry must fail, not panic")
	}
}

func TestOpenCommands(t *testing.T) {
	h := newHarness(t, Config{})
	h.m.VehicleOnline(veh)
	h.m.Send(context.Background(), veh, speed(t, 10), Options{ID: "a", Source: "rule"})
	h.m.Send(context.Background(), veh, speed(t, 12), Options{ID: "b"})
	h.pub.waitN(t, 1)
	got := h.m.Open(veh)
	if len(got) != 2 || got[0].ID != "b" || got[0].State != "queued" || got[1].ID != "a" || got[1].State != "awaiting" ||
		got[1].Attempts != 1 || got[1].Source != "rule" || got[1].Code != protocol.CodeSetSpeedLimit {
		t.Fatalf("%+v", got)
	}
	h.clock.Advance(5 * time.Second)
	if got := h.m.Open(veh); len(got) != 1 || got[0].ID != "b" || got[0].State != "awaiting" {
		t.Fatalf("after a's timeout (superseded): %+v", got)
	}
	if h.m.Open("NOPE") != nil {
		t.Fatal("unknown vehicle has open commands")
	}
	if _, ok := h.m.UpgradeOf(veh); ok || len(h.m.Upgrades()) != 0 {
		t.Fatal("no upgrade expected")
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
