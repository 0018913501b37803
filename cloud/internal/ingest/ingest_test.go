package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/natsbus"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/chtest"
)

const (
	city link.CityID    = "testcity"
	gw   link.GatewayID = "gw-1"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

type env struct {
	bus   *natsbus.Bus
	store *chstore.Store
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bus, err := natsbus.Open(ctx, natsbus.Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       natsbus.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()},
		Stream:         natsbus.DefaultStreamConfig(),
	}, testLogger())
	if err != nil {
		t.Fatalf("natsbus: %v", err)
	}
	t.Cleanup(func() {
		if err := bus.Close(); err != nil {
			t.Errorf("bus close: %v", err)
		}
	})
	dsn, _ := chtest.New(t)
	st, err := chstore.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("chstore: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("chstore close: %v", err)
		}
	})
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return &env{bus: bus, store: st}
}

func testConfig() Config {
	return Config{FlushInterval: 50 * time.Millisecond, AckWait: 5 * time.Second, NakDelay: 100 * time.Millisecond,
		WriteTimeout: 3 * time.Second, StopTimeout: 3 * time.Second}
}

// start runs an Ingest on store until the returned stop is called (or the test ends).
func (e *env) start(t testing.TB, cfg Config, store Store) (*Ingest, func()) {
	t.Helper()
	if store == nil {
		store = e.store
	}
	in, err := New(cfg, e.bus.JetStream(), store, nil, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ingest run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return in, stop
}

func ptr[T any](v T) *T { return &v }

// telemetryBatch makes records seq first..last for vehicles round-robin, 1 s apart;
// the first round carries position, battery and status, later rounds one group each.
func telemetryBatch(first, last uint64, vehicles int) *link.TelemetryBatch {
	b := &link.TelemetryBatch{Header: link.Header{V: link.Version, Gateway: gw, City: city}}
	for s := first; s <= last; s++ {
		r := link.Telemetry{Seq: s, Vehicle: fmt.Sprintf("V%03d", s%uint64(vehicles)), Time: t0.Add(time.Duration(s) * time.Second)}
		switch round := (s - first) / uint64(vehicles); {
		case round == 0:
			r.Position = &link.Position{Lat: 48.85 + float64(s)*1e-5, Lon: 2.35}
			r.BatteryPct = ptr(int(50 + s%50))
			r.Status = &link.Status{Powered: true}
		case round%2 == 1:
			r.Position = &link.Position{Lat: 48.85 + float64(s)*1e-5, Lon: 2.35}
		case round%4 == 0:
			r.BatteryPct = ptr(int(50 + s%50))
		default:
			r.SpeedKmh = ptr(12.5)
		}
		b.Records = append(b.Records, r)
	}
	return b
}

func publish(t testing.TB, js jetstream.JetStream, subject string, v any, msgID string) *jetstream.PubAck {
	t.Helper()
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ack, err := js.Publish(ctx, subject, data, opts...)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return ack
}

func publishTelemetry(t testing.TB, js jetstream.JetStream, b *link.TelemetryBatch) *jetstream.PubAck {
	first, last := b.SeqRange()
	return publish(t, js, link.TelemetrySubject(b.City), b, link.MsgID(b.Gateway, first, last))
}

var window = chstore.Window{From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour)}

// telemetryTotal is the number of distinct (gateway, seq) telemetry records in ClickHouse.
func telemetryTotal(t testing.TB, st *chstore.Store, city link.CityID) uint64 {
	t.Helper()
	counts, err := st.TelemetryCounts(context.Background(), string(city), window)
	if err != nil {
		t.Fatalf("counts: %v", err)
	}
	var n uint64
	for _, c := range counts {
		n += c.Count
	}
	return n
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIngest(t *testing.T) {
	e := newEnv(t) // one ClickHouse database and one NATS for the subtests, each on its own city data
	js := e.bus.JetStream()

	t.Run("telemetry and events land once; duplicates and re-batched resends count once", func(t *testing.T) {
		in, stop := e.start(t, testConfig(), nil)
		defer stop()
		publishTelemetry(t, js, telemetryBatch(1, 100, 10))
		if ack := publishTelemetry(t, js, telemetryBatch(1, 100, 10)); !ack.Duplicate {
			t.Error("the same batch published twice was not dropped by the duplicate window")
		}
		publishTelemetry(t, js, telemetryBatch(101, 200, 10))
		publishTelemetry(t, js, telemetryBatch(50, 150, 10)) // re-batched resend: new Nats-Msg-Id, old seqs
		events := &link.EventBatch{Header: link.Header{V: link.Version, Gateway: gw, City: city}, Events: []link.Event{
			{Seq: 201, Vehicle: "V001", Time: t0.Add(201 * time.Second), Kind: link.EventAlarm, Alarm: &link.AlarmEvent{Reason: "fallen"}},
			{Seq: 202, Vehicle: "V001", Time: t0.Add(202 * time.Second), Kind: link.EventCommand, Command: &link.CommandResult{
				V: 1, ID: "c1", Vehicle: "V001", Code: 13, Source: "admin:1", Outcome: link.OutcomeAcked, ReplyCode: 14,
				Status: ptr(0), LatencyMs: 42}},
			{Seq: 203, Vehicle: "V001", Time: t0.Add(203 * time.Second), Kind: "future_kind"},
			{Seq: 204, Vehicle: "V002", Time: t0.Add(204 * time.Second), Kind: link.EventStateChanged, State: &link.StateEvent{From: "online", To: "lost"}},
		}}
		publish(t, js, link.EventsSubject(city), events, link.MsgID(gw, 201, 204))
		publish(t, js, link.EventsSubject(city), events, "") // a resend the duplicate window cannot catch

		eventually(t, 20*time.Second, "all rows written", func() bool {
			s := in.Stats()
			return s.Telemetry >= 300 && s.Events >= 8
		})
		if n := telemetryTotal(t, e.store, city); n != 200 {
			t.Errorf("distinct telemetry records = %d, want 200", n)
		}
		kinds, err := e.store.EventCounts(context.Background(), string(city), window)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(kinds) != "[{alarm 1} {command_result 1} {future_kind 1} {state_changed 1}]" {
			t.Errorf("event counts %v", kinds)
		}
		cmds, err := e.store.VehicleCommands(context.Background(), string(city), "V001", window)
		if err != nil {
			t.Fatal(err)
		}
		if len(cmds) != 1 || cmds[0].Command != 13 || cmds[0].Outcome != "acked" || cmds[0].ReplyStatus != 0 || cmds[0].LatencyMs != 42 {
			t.Errorf("commands %+v", cmds)
		}
		// Wide rows carry the last known value of groups a record does not carry.
		pos, err := e.store.LatestPositions(context.Background(), string(city), window)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pos {
			if p.Lat == 0 || p.BatteryPct == 0 {
				t.Errorf("latest row of %s lacks carried-forward values: %+v", p.Vehicle, p)
			}
		}
		v, ok := in.Live().Get(city, "V002")
		if !ok || v.Connectivity != "lost" || v.PositionAt.IsZero() || v.BatteryAt.IsZero() {
			t.Errorf("live state of V002: %+v", v)
		}
		if s := in.Stats(); s.DeadLettered != 0 || s.Naks != 0 {
			t.Errorf("stats %+v", s)
		}
	})

	t.Run("event hook sees every event batch before the ack; its errors redeliver", func(t *testing.T) {
		const c6 link.CityID = "hookcity"
		var calls atomic.Int64
		var mu sync.Mutex
		seen := map[uint64]int{}
		cfg := testConfig()
		cfg.Durable = "hook-test" // its own consumer: it sees the whole stream
		cfg.OnEvents = func(_ context.Context, c link.CityID, g link.GatewayID, evs []link.Event) error {
			if c != c6 {
				return nil
			}
			if calls.Add(1) == 1 {
				return errTransient // first delivery fails: must come back
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range evs {
				seen[e.Seq]++
			}
			return nil
		}
		in, stop := e.start(t, cfg, nil)
		defer stop()
		evs := &link.EventBatch{Header: link.Header{V: link.Version, Gateway: gw, City: c6}, Events: []link.Event{
			{Seq: 1, Vehicle: "V1", Time: t0, Kind: link.EventRideEnded, Ride: &link.RideEvent{RideID: "r1", EndedBy: "gateway"}},
			{Seq: 2, Vehicle: "V1", Time: t0, Kind: link.EventAlarm, Alarm: &link.AlarmEvent{Reason: "fallen"}},
		}}
		publish(t, js, link.EventsSubject(c6), evs, link.MsgID(gw, 1, 2))
		eventually(t, 10*time.Second, "hook called again after its failure", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return seen[1] == 1 && seen[2] == 1
		})
		if s := in.Stats(); s.Naks == 0 || s.DeadLettered != 0 {
			t.Errorf("stats %+v: want a nak and no dead letter", s)
		}
	})

	t.Run("poison messages go to the dead-letter subject and good ones still flow", func(t *testing.T) {
		const c2 link.CityID = "poisoncity"
		dead := make(chan *nats.Msg, 10)
		sub, err := e.bus.Conn().ChanSubscribe(link.DeadLetterSubject(c2), dead)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := sub.Unsubscribe(); err != nil {
				t.Error(err)
			}
		}()
		in, stop := e.start(t, testConfig(), nil)
		defer stop()
		before := in.Stats()
		wrongVersion := telemetryBatch(1, 3, 1)
		wrongVersion.City, wrongVersion.V = c2, 99
		wrongCity := telemetryBatch(1, 3, 1) // city testcity on poisoncity's subject
		badRange := telemetryBatch(1, 3, 1)
		badRange.City = c2
		badRange.Records[1].BatteryPct = ptr(250)
		publish(t, js, link.TelemetrySubject(c2), []byte(`{"v":1,"gateway":`), "p1")
		publish(t, js, link.TelemetrySubject(c2), wrongVersion, "p2")
		publish(t, js, link.TelemetrySubject(c2), wrongCity, "p3")
		publish(t, js, link.TelemetrySubject(c2), badRange, "p4")
		good := telemetryBatch(1000, 1009, 2)
		good.City = c2
		publishTelemetry(t, js, good)

		reasons := map[string]string{}
		for range 4 {
			select {
			case m := <-dead:
				reasons[m.Header.Get(HeaderDeadMsgID)] = m.Header.Get(HeaderDeadReason)
				if m.Header.Get(HeaderDeadSubject) != link.TelemetrySubject(c2) || len(m.Data) == 0 {
					t.Errorf("dead letter headers %v, %d bytes", m.Header, len(m.Data))
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("dead letters received: %v", reasons)
			}
		}
		for id, want := range map[string]string{"p1": "telemetry batch", "p2": "unsupported message version",
			"p3": "on the subject of", "p4": "battery 250"} {
			if !contains(reasons[id], want) {
				t.Errorf("dead letter %s reason %q, want it to mention %q", id, reasons[id], want)
			}
		}
		// Kept in the dead-letter stream, not only published.
		ds, err := js.Stream(t.Context(), link.StreamDead)
		if err != nil {
			t.Fatal(err)
		}
		info, err := ds.Info(t.Context(), jetstream.WithSubjectFilter(link.DeadLetterSubject(c2)))
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Subjects[link.DeadLetterSubject(c2)]; n != 4 {
			t.Errorf("%s holds %d dead letters of %s, want 4", link.StreamDead, n, c2)
		}
		eventually(t, 10*time.Second, "the good batch", func() bool { return in.Stats().Telemetry-before.Telemetry >= 10 })
		counts, err := e.store.TelemetryCounts(context.Background(), string(c2), window)
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) != 2 || counts[0].Count+counts[1].Count != 10 {
			t.Errorf("poisoncity counts %v, want 10 records of 2 vehicles", counts)
		}
		eventually(t, 10*time.Second, "nothing pending on the consumer", func() bool {
			info, err := js.Consumer(context.Background(), link.StreamUp, DefaultDurable)
			if err != nil {
				t.Fatal(err)
			}
			ci, err := info.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return ci.NumPending == 0 && ci.NumAckPending == 0
		})
	})

	t.Run("transient write errors nak and retry, never dead-letter", func(t *testing.T) {
		const c3 link.CityID = "flakycity"
		flaky := &flakyStore{Store: e.store, failFirst: 3}
		in, stop := e.start(t, testConfig(), flaky)
		defer stop()
		b := telemetryBatch(1, 50, 5)
		b.City = c3
		publishTelemetry(t, js, b)
		eventually(t, 20*time.Second, "rows after the failures", func() bool { return in.Stats().Telemetry >= 50 })
		if s := in.Stats(); s.DeadLettered != 0 || s.Naks == 0 || s.WriteErrors < 3 {
			t.Errorf("stats %+v: want naks and write errors, no dead letters", s)
		}
		counts, err := e.store.TelemetryCounts(context.Background(), string(c3), window)
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range counts {
			n += c.Count
		}
		if n != 50 {
			t.Errorf("flakycity records = %d, want 50", n)
		}
	})

	t.Run("written but not acknowledged: redelivered, still counted once", func(t *testing.T) {
		const c4 link.CityID = "lostackcity"
		lost := &flakyStore{Store: e.store, failAfterWrite: 2}
		in, stop := e.start(t, testConfig(), lost)
		defer stop()
		b := telemetryBatch(1, 40, 4)
		b.City = c4
		publishTelemetry(t, js, b)
		eventually(t, 20*time.Second, "acknowledged write", func() bool { return in.Stats().Telemetry >= 40 })
		if lost.writes.Load() < 3 {
			t.Errorf("%d writes, want the batch written 3 times", lost.writes.Load())
		}
		counts, err := e.store.TelemetryCounts(context.Background(), string(c4), window)
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, c := range counts {
			n += c.Count
		}
		if n != 40 {
			t.Errorf("lostackcity distinct records = %d, want 40 after 3 writes", n)
		}
	})

	t.Run("ingest stopped mid-stream and restarted: no loss, no double count", func(t *testing.T) {
		const c5 link.CityID = "restartcity"
		cfg := testConfig()
		cfg.FlushMessages = 3
		in, stop := e.start(t, cfg, nil)
		var published atomic.Uint64
		pubDone := make(chan struct{})
		go func() {
			defer close(pubDone)
			for k := range 60 {
				b := telemetryBatch(uint64(k*20+1), uint64(k*20+20), 7)
				b.City = c5
				data, _ := json.Marshal(b)
				first, last := b.SeqRange()
				if _, err := js.Publish(context.Background(), link.TelemetrySubject(c5), data,
					jetstream.WithMsgID(link.MsgID(gw, first, last))); err != nil {
					t.Errorf("publish: %v", err)
					return
				}
				published.Add(20)
				time.Sleep(2 * time.Millisecond)
			}
		}()
		eventually(t, 10*time.Second, "some rows", func() bool { return in.Stats().Telemetry > 100 })
		stop() // mid-stream: it flushes and acks what it holds
		in2, _ := e.start(t, cfg, nil)
		<-pubDone
		eventually(t, 20*time.Second, "every record", func() bool {
			counts, err := e.store.TelemetryCounts(context.Background(), string(c5), window)
			if err != nil {
				t.Fatal(err)
			}
			var n uint64
			for _, c := range counts {
				n += c.Count
			}
			return n == published.Load()
		})
		if got := in.Stats().Telemetry + in2.Stats().Telemetry; got < 1200 {
			t.Errorf("rows written %d < 1200", got)
		}
	})
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// errTransient stands for ClickHouse being unreachable.
var errTransient = errors.New("connection refused (test)")

// flakyStore fails the first failFirst telemetry writes before writing, and the
// first failAfterWrite ones after writing (a crash between write and ack).
type flakyStore struct {
	Store
	failFirst, failAfterWrite int64
	calls, writes             atomic.Int64
}

func (f *flakyStore) InsertTelemetry(ctx context.Context, rows []chstore.TelemetryRow) error {
	n := f.calls.Add(1)
	if n <= f.failFirst {
		return errTransient
	}
	if err := f.Store.InsertTelemetry(ctx, rows); err != nil {
		return err
	}
	f.writes.Add(1)
	if n-f.failFirst <= f.failAfterWrite {
		return errTransient
	}
	return nil
}
