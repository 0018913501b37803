package uplink

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/edge/internal/broker"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/protocol/link"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

const (
	testGateway link.GatewayID = "gw-test"
	testCity    link.CityID    = "testcity"
)

// startNATS runs an embedded JetStream server on port (-1 = random) with its
// store in dir, and creates the up stream like the cloud does.
func startNATS(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		ServerName: "uplink-test", Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

func ensureStream(t *testing.T, url string) { ensureStreamB(t, url) }

func ensureStreamB(t testing.TB, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: link.StreamUp, Subjects: []string{link.SubjectsUp}, Storage: jetstream.FileStorage,
		Duplicates: 2 * time.Minute, Discard: jetstream.DiscardNew,
	}); err != nil {
		t.Fatalf("stream: %v", err)
	}
}

// streamContents reads every message of the up stream and counts each record seq.
type streamContents struct {
	telemetry map[uint64]link.Telemetry
	events    map[uint64]link.Event
	dups      int // records seen more than once
	messages  int
}

func readStream(t *testing.T, url string) streamContents {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, link.StreamUp)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := streamContents{telemetry: map[uint64]link.Telemetry{}, events: map[uint64]link.Event{}}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get msg %d: %v", seq, err)
		}
		out.messages++
		switch {
		case strings.HasSuffix(m.Subject, ".telemetry"):
			b, err := link.DecodeTelemetryBatch(m.Data)
			if err != nil {
				t.Fatalf("msg %d: %v", seq, err)
			}
			if got, want := m.Header.Get(jetstream.MsgIDHeader), link.MsgID(b.Gateway, b.Records[0].Seq, b.Records[len(b.Records)-1].Seq); got != want {
				t.Errorf("msg %d: Nats-Msg-Id %q, want %q", seq, got, want)
			}
			for _, r := range b.Records {
				if _, dup := out.telemetry[r.Seq]; dup {
					out.dups++
				}
				out.telemetry[r.Seq] = r
			}
		case strings.HasSuffix(m.Subject, ".events"):
			b, err := link.DecodeEventBatch(m.Data)
			if err != nil {
				t.Fatalf("msg %d: %v", seq, err)
			}
			for _, e := range b.Events {
				if _, dup := out.events[e.Seq]; dup {
					out.dups++
				}
				out.events[e.Seq] = e
			}
		default:
			t.Fatalf("unexpected subject %s", m.Subject)
		}
	}
	return out
}

func openOutbox(t *testing.T) *outbox.Outbox {
	t.Helper()
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ob.Close(); err != nil {
			t.Errorf("outbox close: %v", err)
		}
	})
	return ob
}

// gpsPayload is a code 19 report whose latitude minutes encode n.
func gpsPayload(vehicle string, n int, alarm bool) []byte {
	bt := 0
	if alarm {
		bt = 1
	}
	return fmt.Appendf(nil, `{"a":19,"i":"%s","g":"4024.%04d,00342.5678,%d,0","t":1764057600}`, vehicle, n%10000, bt)
}

func heartbeatPayload(vehicle string, battery, power int) []byte {
	return fmt.Appendf(nil, `{"a":27,"i":"%s","b":%d,"c":%d,"s":0,"r":48.5,"v":25,"x":3}`, vehicle, battery, power)
}

func reportRecord(vehicle string, at time.Time, payload []byte) outbox.Record {
	return outbox.Record{Class: outbox.ClassTelemetry, Time: at, Vehicle: vehicle, Kind: broker.KindReport,
		Payload: broker.EncodeReport("bike", payload)}
}

func eventRecord(t testing.TB, e link.Event) outbox.Record {
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Record{Class: outbox.ClassEvent, Time: e.Time, Vehicle: e.Vehicle, Kind: string(e.Kind), Payload: b}
}

// appendAll appends records concurrently (sharing group commits) and returns their seqs.
func appendAll(t testing.TB, ob *outbox.Outbox, recs []outbox.Record) []uint64 {
	t.Helper()
	seqs := make([]uint64, len(recs))
	var wg sync.WaitGroup
	errs := make(chan error, len(recs))
	for i := range recs {
		for {
			wg.Add(1)
			err := ob.AppendAsync(recs[i], func(seq uint64, err error) {
				seqs[i] = seq
				if err != nil {
					errs <- err
				}
				wg.Done()
			})
			if err == nil {
				break
			}
			wg.Done()
			if err != nil && !strings.Contains(err.Error(), outbox.ErrQueueFull.Error()) {
				t.Fatalf("append: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	return seqs
}

func testLogger(testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runUplink(t *testing.T, u *Uplink) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
