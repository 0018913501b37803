package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/tools/citymap"
	"github.com/fleetedge/fleetedge/tools/democity"
)

// msg is one publish seen by the test broker.
type msg struct {
	at      time.Time
	client  string // the publishing client's id
	topic   string
	payload []byte
}

// testBroker is an in-process mochi broker with an allow-all auth hook (the
// simulator's tests only check the scooter side) and an inline client that
// records every publish on bike, o and vehicle topics.
type testBroker struct {
	srv  *mochi.Server
	addr string
	mu   sync.Mutex
	msgs []msg
}

// recorder is a mochi hook recording every publish with its sender.
type recorder struct {
	mochi.HookBase
	b *testBroker
}

func (r *recorder) ID() string { return "recorder" }

func (r *recorder) Provides(b byte) bool { return b == mochi.OnPublish }

func (r *recorder) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	r.b.mu.Lock()
	r.b.msgs = append(r.b.msgs, msg{at: time.Now(), client: cl.ID, topic: pk.TopicName, payload: append([]byte(nil), pk.Payload...)})
	r.b.mu.Unlock()
	return pk, nil
}

func startBroker(t *testing.T) *testBroker {
	t.Helper()
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := srv.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	b := &testBroker{srv: srv, addr: tcp.Address()}
	if err := srv.AddHook(&recorder{b: b}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("broker close: %v", err)
		}
	})
	return b
}

// command publishes cmd to vehicle v as the gateway would.
func (b *testBroker) command(t *testing.T, v string, cmd protocol.Command) {
	t.Helper()
	pkt, err := protocol.EncodeCommand(protocol.VehicleID(v), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Publish(pkt.Topic, pkt.Payload, false, pkt.QoS); err != nil {
		t.Fatal(err)
	}
}

// wait polls the recorded messages until pred holds for one published after
// index from, and returns it with its index.
func (b *testBroker) wait(t *testing.T, from int, what string, pred func(m msg) bool) (msg, int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		all := b.all()
		for i := from; i < len(all); i++ {
			if pred(all[i]) {
				return all[i], i
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
	return msg{}, 0
}

func (b *testBroker) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

func (b *testBroker) all() []msg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]msg(nil), b.msgs...)
}

// replyFrom matches a decodable report with code c from vehicle v.
func replyFrom(v string, c protocol.Code) func(m msg) bool {
	return func(m msg) bool {
		if m.client != v {
			return false
		}
		r, err := protocol.Decode(m.topic, m.payload)
		if err != nil {
			return false
		}
		rep, ok := r.(protocol.Report)
		return ok && r.Code() == c && string(rep.Vehicle()) == v
	}
}

var (
	graphOnce sync.Once
	graph     *citymap.Graph
	graphErr  error
)

// barcelona is the demo street graph (built once per test binary).
func barcelona(t *testing.T) *citymap.Graph { return barcelonaB(t) }

func barcelonaB(t testing.TB) *citymap.Graph {
	t.Helper()
	graphOnce.Do(func() {
		graph, graphErr = democity.Graph()
	})
	if graphErr != nil {
		t.Fatal(graphErr)
	}
	return graph
}

func creds(n int) []Credential {
	out := make([]Credential, n)
	for i := range out {
		out[i] = Credential{ID: VehicleID("T", i), Secret: fmt.Sprintf("secret-%d", i)}
	}
	return out
}

// startFleet starts a fleet against b with fast cadences; cfg fields set by
// the caller win.
func startFleet(t *testing.T, b *testBroker, cfg Config) *Fleet {
	t.Helper()
	if cfg.Graph == nil {
		cfg.Graph = barcelona(t)
	}
	if b != nil {
		cfg.Broker = b.addr
	}
	if cfg.Tick == 0 {
		cfg.Tick = 10 * time.Millisecond
	}
	if cfg.GPSInterval == 0 {
		cfg.GPSInterval = 100 * time.Millisecond
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 200 * time.Millisecond
	}
	if cfg.ReconnectDelay == 0 {
		cfg.ReconnectDelay = 100 * time.Millisecond
	}
	if cfg.RebootDelay == 0 {
		cfg.RebootDelay = 100 * time.Millisecond
	}
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("fleet close: %v", err)
		}
	})
	if b == nil {
		return f
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitConnected(ctx, len(cfg.Vehicles)); err != nil {
		t.Fatal(err)
	}
	return f
}

// waitState polls a scooter's state until pred holds.
func waitState(t *testing.T, f *Fleet, id, what string, pred func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := f.State(id)
		if err != nil {
			t.Fatal(err)
		}
		if pred(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; state %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
