package command

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// TestConcurrentInvariants drives Send, replies, connectivity, cancels and
// time from many goroutines at once (run with -race) and checks that every
// command ends exactly once, with exactly one event, and nothing is left.
func TestConcurrentInvariants(t *testing.T) {
	h := newHarness(t, Config{MaxInFlightPerCode: 2})
	vehicles := make([]protocol.VehicleID, 12)
	for i := range vehicles {
		vehicles[i] = protocol.VehicleID(fmt.Sprintf("S%02d", i))
	}
	// A fresh value per Send: protocol.EncodeCommand writes into the command
	// value while encoding, so one value must not be encoded concurrently.
	cmds := []func() protocol.Command{
		func() protocol.Command { return &protocol.SetSpeedLimit{KMH: 10} },
		func() protocol.Command { return &protocol.SetSpeedLimit{KMH: 20} },
		func() protocol.Command { return &protocol.PowerOn{} },
		func() protocol.Command { return &protocol.PowerOff{} },
		func() protocol.Command { return &protocol.Buzzer{} },
		func() protocol.Command { return &protocol.QueryParams{} },
		func() protocol.Command { return protocol.NewSetHeadlight(true) },
	}
	replies := func(v protocol.VehicleID) []protocol.Report {
		hd := protocol.Header{From: v}
		return []protocol.Report{speedAck(v, 0), speedAck(v, 1), &protocol.PowerOnReply{Header: hd},
			&protocol.PowerOffReply{Header: hd}, &protocol.VehicleParams{Header: hd}, &protocol.SetHeadlightReply{Header: hd},
			&protocol.Heartbeat{Header: hd}}
	}
	var (
		mu  sync.Mutex
		all []*Pending
	)
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 400 {
				v := vehicles[r.IntN(len(vehicles))]
				switch k := r.IntN(10); {
				case k < 4:
					ctx := context.Background()
					if r.IntN(5) == 0 {
						c, cancel := context.WithCancel(ctx)
						defer cancel()
						ctx = c
						if r.IntN(2) == 0 {
							cancel()
						}
					}
					p := h.m.Send(ctx, v, cmds[r.IntN(len(cmds))](), Options{})
					if r.IntN(10) == 0 {
						p.Cancel()
					}
					mu.Lock()
					all = append(all, p)
					mu.Unlock()
				case k < 7:
					rs := replies(v)
					h.m.OnReply(v, rs[r.IntN(len(rs))], time.Time{})
				case k == 7:
					h.m.VehicleOnline(v)
				case k == 8:
					h.m.VehicleOffline(v)
				default:
					_ = h.m.Stats()
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			h.clock.Advance(700 * time.Millisecond)
			time.Sleep(50 * time.Microsecond)
		}
	}()
	wg.Wait()
	if err := h.m.Close(); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, ev := range h.sink.commands() {
		ids[ev.ID]++
	}
	for _, p := range all {
		r, ok := p.Result()
		if !ok {
			t.Fatalf("command %s never ended", p.ID())
		}
		if ids[p.ID()] != 1 {
			t.Fatalf("command %s (%s) has %d events", p.ID(), r.Outcome, ids[p.ID()])
		}
		switch r.Outcome {
		case link.OutcomeAcked, link.OutcomeFailed, link.OutcomeTimeout, link.OutcomeRejected, link.OutcomeExpired:
		default:
			t.Fatalf("outcome %q", r.Outcome)
		}
	}
	if len(ids) != len(all) {
		t.Fatalf("%d events for %d commands", len(ids), len(all))
	}
	if s := h.m.Stats(); s.Queued != 0 || s.Awaiting != 0 {
		t.Fatalf("left: %+v", s)
	}
}

// TestSharedCommandValue: rules may hand the same command value to Send for
// many vehicles at once; the manager must not race on it.
func TestSharedCommandValue(t *testing.T) {
	h := newHarness(t, Config{})
	shared := &protocol.SetSpeedLimit{KMH: 15}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := protocol.VehicleID(fmt.Sprintf("SH%d", g))
			h.m.VehicleOnline(v)
			for range 50 {
				h.m.Send(context.Background(), v, shared, Options{})
				h.m.OnReply(v, speedAck(v, 0), time.Time{})
			}
		}()
	}
	wg.Wait()
	h.pub.waitN(t, 200)
}
