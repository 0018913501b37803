package command

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

type discardPublisher struct{ n atomic.Uint64 }

func (d *discardPublisher) Publish(string, []byte, byte) error { d.n.Add(1); return nil }

// BenchmarkSendAck measures one command's round trip through the manager
// (Send, publish hand-off, OnReply matching, outcome, event) over 10,000
// online vehicles, without the network.
func BenchmarkSendAck(b *testing.B) {
	m, err := New(Config{Publisher: &discardPublisher{}, Events: recSinkDiscard{}})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	const n = 10_000
	ids := make([]protocol.VehicleID, n)
	for i := range ids {
		ids[i] = protocol.VehicleID(fmt.Sprintf("V%05d", i))
		m.VehicleOnline(ids[i])
	}
	cmd, _ := protocol.NewSetSpeedLimit(15)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		v := ids[i%n]
		i++
		p := m.Send(ctx, v, cmd, Options{Source: "rule"})
		m.OnReply(v, speedAck(v, 0), time.Time{})
		if _, ok := p.Result(); !ok {
			b.Fatal("not matched")
		}
	}
}

// BenchmarkSendAckParallel is BenchmarkSendAck from GOMAXPROCS goroutines
// (the ingest calls OnReply from every scooter connection's goroutine).
func BenchmarkSendAckParallel(b *testing.B) {
	m, err := New(Config{Publisher: &discardPublisher{}, Events: recSinkDiscard{}})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		cmd, _ := protocol.NewSetSpeedLimit(15)
		v := protocol.VehicleID(fmt.Sprintf("P%05d", next.Add(1)))
		m.VehicleOnline(v)
		ctx := context.Background()
		for pb.Next() {
			p := m.Send(ctx, v, cmd, Options{Source: "rule"})
			m.OnReply(v, speedAck(v, 0), time.Time{})
			if _, ok := p.Result(); !ok {
				b.Fatal("not matched")
			}
		}
	})
}

// BenchmarkOnReplyHeartbeat is the cost for reports no command waits for.
func BenchmarkOnReplyHeartbeat(b *testing.B) {
	m, err := New(Config{Publisher: &discardPublisher{}})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	hb := &protocol.Heartbeat{Header: protocol.Header{From: "V1"}}
	b.ReportAllocs()
	for b.Loop() {
		m.OnReply("V1", hb, time.Time{})
	}
}

type recSinkDiscard struct{}

func (recSinkDiscard) Emit(link.Event) {}

// BenchmarkBrokerRoundTrip: Send a 13 → mochi → paho scooter decodes it and
// acks on "bike" → ingest hook → OnReply → outcome, one at a time on loopback.
func BenchmarkBrokerRoundTrip(b *testing.B) {
	w := newWorld(b, Config{}, "A1")
	w.scooter("A1", func(s *scooter, c protocol.Command) {
		s.reply(&protocol.SetSpeedLimitReply{Header: hdr(s)}, "")
	})
	waitFor(b, "online", func() bool { return w.m.Stats().Vehicles == 1 })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		cmd, _ := protocol.NewSetSpeedLimit(15)
		if r := mustResult(b, w.m.Send(ctx, "A1", cmd, Options{})); r.Outcome != link.OutcomeAcked {
			b.Fatal(r.CommandResult)
		}
	}
}
