package loadgen

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetedge/fleetedge/tools/sim"
)

// countHook counts the QoS 1 publishes the broker saw.
type countHook struct {
	mochi.HookBase
	n chan struct{}
}

func (h *countHook) ID() string { return "count" }
func (h *countHook) Provides(b byte) bool {
	return b == mochi.OnPublish
}
func (h *countHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Qos == 1 {
		select {
		case h.n <- struct{}{}:
		default:
		}
	}
	return pk, nil
}

func startBroker(t *testing.T, ledger *auth.Ledger) (string, *countHook) {
	t.Helper()
	s := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := s.AddHook(new(auth.Hook), &auth.Options{Ledger: ledger}); err != nil {
		t.Fatal(err)
	}
	h := &countHook{n: make(chan struct{}, 1)}
	if err := s.AddHook(h, nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := s.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return tcp.Address(), h
}

func TestFloodCountsPubacks(t *testing.T) {
	vs := []sim.Credential{{ID: "BCN00001", Secret: "s1"}, {ID: "BCN00002", Secret: "s2"}}
	ledger := &auth.Ledger{Auth: auth.AuthRules{{Username: "BCN00001", Password: "s1", Allow: true}, {Username: "BCN00002", Password: "s2", Allow: true}},
		ACL: auth.ACLRules{{Filters: auth.Filters{"#": auth.ReadWrite}}}}
	addr, h := startBroker(t, ledger)
	res, err := Flood(context.Background(), FloodConfig{Broker: addr, Vehicles: vs, Window: 8, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.n:
	default:
		t.Fatal("the broker saw no QoS 1 publish")
	}
	if res.Connected != 2 || res.Errors != 0 || res.Acked == 0 || res.Rate <= 0 {
		t.Fatalf("%+v", res)
	}
}

func TestFloodRefused(t *testing.T) {
	ledger := &auth.Ledger{Auth: auth.AuthRules{{Username: "BCN00001", Password: "right", Allow: true}}}
	addr, _ := startBroker(t, ledger)
	res, err := Flood(context.Background(), FloodConfig{Broker: addr, Vehicles: []sim.Credential{{ID: "BCN00001", Secret: "wrong"}},
		Duration: 100 * time.Millisecond})
	if !errors.Is(err, ErrFlood) || res.Errors != 1 || res.Connected != 0 {
		t.Fatalf("res %+v err %v", res, err)
	}
}

func TestPackets(t *testing.T) {
	// CONNECT for id "a", user "a", password "p": fixed header, remaining length 19.
	c := connectPacket("a", "a", "p", 60)
	want := []byte{0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xC2, 0, 60, 0, 1, 'a', 0, 1, 'a', 0, 1, 'p'}
	if !bytes.Equal(c, want) {
		t.Fatalf("connect % x\nwant    % x", c, want)
	}
	p := publishPacket(nil, "bike", 7, make([]byte, 200))
	if p[0] != 0x32 || p[1] != 0x80|((2+4+2+200)%128) || p[2] != (2+4+2+200)/128 {
		t.Fatalf("publish header % x", p[:3])
	}
}
