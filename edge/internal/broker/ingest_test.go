package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	live "github.com/fleetedge/fleetedge/edge/internal/fleet"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// gate wraps the outbox; while closed, a blocking Append waits before storing
// and the completion of a report's AppendAsync (the durable signal the ingest
// acknowledges on) is held back until release. fail makes AppendAsync of
// reports fail.
type gate struct {
	*outbox.Outbox
	mu       sync.Mutex
	open     chan struct{}
	deferred []func()
	waiting  atomic.Int32
	fail     atomic.Bool
}

var errInjected = errors.New("injected store failure")

func (g *gate) AppendAsync(r outbox.Record, done func(uint64, error)) error {
	if r.Class != outbox.ClassTelemetry || done == nil {
		return g.Outbox.AppendAsync(r, done)
	}
	if g.fail.Load() {
		return errInjected
	}
	g.mu.Lock()
	held := g.open != nil
	g.mu.Unlock()
	if !held {
		return g.Outbox.AppendAsync(r, done)
	}
	g.waiting.Add(1)
	return g.Outbox.AppendAsync(r, func(seq uint64, err error) {
		g.mu.Lock()
		if g.open != nil {
			g.deferred = append(g.deferred, func() { done(seq, err) })
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		done(seq, err)
	})
}

func (g *gate) Append(ctx context.Context, r outbox.Record) (uint64, error) {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	if ch != nil {
		g.waiting.Add(1)
		<-ch
	}
	return g.Outbox.Append(ctx, r)
}

type ingestEnv struct {
	srv     *Server
	ingest  *Ingest
	fleet   *live.Fleet
	out     *outbox.Outbox
	store   *gate
	reg     *prometheus.Registry
	secrets map[string]string
}

func startIngest(t *testing.T, ids ...string) *ingestEnv {
	t.Helper()
	return startIngestWith(t, nil, outbox.Options{}, ids...)
}

func startIngestWith(t *testing.T, presence Presence, obOpts outbox.Options, ids ...string) *ingestEnv {
	t.Helper()
	return startIngestOpts(t, presence, obOpts, nil, ids...)
}

// startIngestOpts is startIngestWith with a hook to adjust the ingest's options.
func startIngestOpts(t *testing.T, presence Presence, obOpts outbox.Options, adjust func(*IngestOptions), ids ...string) *ingestEnv {
	t.Helper()
	creds, secrets := fleet(t, ids...)
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), obOpts)
	if err != nil {
		t.Fatal(err)
	}
	env := &ingestEnv{fleet: live.New(live.Options{}), out: ob, store: &gate{Outbox: ob},
		reg: prometheus.NewRegistry(), secrets: secrets}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := IngestOptions{Store: env.store, Fleet: env.fleet, Logger: log, Registerer: env.reg, Presence: presence}
	if adjust != nil {
		adjust(&opts)
	}
	env.ingest, err = NewIngest(opts)
	if err != nil {
		t.Fatal(err)
	}
	env.srv, err = NewServer(Config{TCPAddr: "127.0.0.1:0"}, log, NewAuthHook(creds), env.ingest)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		env.store.release()
		closeBroker(env.srv)
		_ = env.ingest.Close()
		_ = ob.Close()
	})
	return env
}

func (g *gate) hold() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	if g.open != nil {
		close(g.open)
		g.open = nil
	}
	d := g.deferred
	g.deferred = nil
	g.mu.Unlock()
	for _, f := range d {
		f()
	}
}

func (e *ingestEnv) connect(t *testing.T, id string) paho.Client {
	t.Helper()
	c, err := connect(t, e.srv, id, id, e.secrets[id])
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	return c
}

func publish(t *testing.T, c paho.Client, topic string, qos byte, payload string) {
	t.Helper()
	tok := c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatalf("publish %s: no PUBACK", payload)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("publish %s: %v", payload, err)
	}
}

// records returns the outbox contents split into reports and events.
func (e *ingestEnv) records(t *testing.T) (reports []string, events []link.Event) {
	t.Helper()
	recs, err := e.out.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		switch r.Class {
		case outbox.ClassTelemetry:
			topic, p, err := DecodeReport(r.Payload)
			if err != nil || r.Kind != KindReport || r.Vehicle == "" {
				t.Fatalf("bad report record %+v: %v", r, err)
			}
			reports = append(reports, topic+" "+string(p))
		case outbox.ClassEvent:
			var ev link.Event
			if err := json.Unmarshal(r.Payload, &ev); err != nil || string(ev.Kind) != r.Kind {
				t.Fatalf("bad event record %+v: %v", r, err)
			}
			events = append(events, ev)
		}
	}
	return reports, events
}

func TestIngestUpdatesLiveState(t *testing.T) {
	env := startIngest(t, "A1")
	a := env.connect(t, "A1")
	waitFor(t, "online", func() bool { v, ok := env.fleet.Get("A1"); return ok && v.State == live.StateOnline })

	// The scooter subscribes to its own topic: its reports must not come back.
	var echo inbox
	if tok := a.Subscribe("A1", 1, echo.add); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("subscribe own topic")
	}
	gps := `{"a":19,"i":"A1","g":"4123.4567,210.1234,0,0","t":1764072000}`
	hb := `{"a":27,"i":"A1","b":77,"c":0,"s":0,"r":37.5,"v":25,"x":3}`
	logReply := `{"a":78,"t":1,"b":"x","c":"","d":"","e":"","f":"","g":""}`
	publish(t, a, "bike", 1, gps)
	// PUBACK comes after Apply, so the state is visible at once.
	v, _ := env.fleet.Get("A1")
	if !v.Known.Has(live.FieldPosition) || v.Position.Lat < 41.39 || v.Position.Lat > 41.40 {
		t.Fatalf("position not applied: %+v", v.Position)
	}
	publish(t, a, "bike", 1, hb)
	publish(t, a, "A1", 1, logReply)
	publish(t, a, "bike", 0, `{"a":98,"i":"A1","t":1,"x":21}`)
	waitFor(t, "qos 0 applied", func() bool { v, _ := env.fleet.Get("A1"); return v.Signal == 21 })
	v, _ = env.fleet.Get("A1")
	if v.BatteryPct != 77 || !v.Powered || v.VoltageV != 37.5 || v.Messages != 4 {
		t.Fatalf("heartbeat not applied: %+v", v)
	}
	waitFor(t, "4 reports stored", func() bool { r, _ := env.records(t); return len(r) == 4 })
	reports, events := env.records(t)
	want := []string{"bike " + gps, "bike " + hb, "A1 " + logReply, "bike " + `{"a":98,"i":"A1","t":1,"x":21}`}
	for i := range want {
		if reports[i] != want[i] {
			t.Errorf("report %d = %s, want %s", i, reports[i], want[i])
		}
	}
	var states []string
	for _, e := range events {
		if e.Kind == link.EventStateChanged {
			states = append(states, e.State.From+">"+e.State.To)
		}
	}
	if strings.Join(states, " ") != "offline>online powered_off>powered_on" {
		t.Errorf("state events %v", states)
	}
	if got := metricValue(env.ingest.m.byCode[protocol.CodeGPSReport]); got != 1 {
		t.Errorf("messages{code=19} = %v", got)
	}
	if got := metricValue(env.ingest.m.connected); got != 1 {
		t.Errorf("connected = %v", got)
	}
	if n := len(echo.list()); n != 0 {
		t.Fatalf("reports were delivered to a subscriber: %v", echo.list())
	}

	a.Disconnect(100)
	waitFor(t, "offline", func() bool { v, _ := env.fleet.Get("A1"); return v.State == live.StateOffline })
	waitFor(t, "gauge 0", func() bool { return metricValue(env.ingest.m.connected) == 0 })
	waitFor(t, "offline event", func() bool {
		_, ev := env.records(t)
		last := ev[len(ev)-1]
		return last.State != nil && last.State.To == "offline"
	})
}

func TestIngestBadMessages(t *testing.T) {
	env := startIngest(t, "A1", "B2")
	a := env.connect(t, "A1")
	b := env.connect(t, "B2")
	bad := []struct {
		name, topic, payload, kind string
	}{
		{"garbage", "bike", "\x00\xffnot json at all", "syntax"},
		{"oversize", "bike", `{"a":27,"i":"A1","z":"` + strings.Repeat("x", protocol.MaxPayload) + `"}`, "too_large"},
		{"unknown code", "bike", `{"a":999,"i":"A1"}`, "unknown_code"},
		{"no vehicle", "bike", `{"a":27,"b":50}`, "missing_field"},
		{"command from a scooter", "A1", `{"a":13,"k":2020}`, "direction"},
		{"bad gps", "bike", `{"a":19,"i":"A1","g":"9999.0000,0.0,0,0","t":1}`, "range"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := env.ingest.m.decodeErrors[kindByLabel(t, tc.kind)]
			before := metricValue(c)
			// QoS 1: still PUBACKed, so the scooter does not resend it forever.
			publish(t, a, tc.topic, 1, tc.payload)
			if got := metricValue(c); got != before+1 {
				t.Fatalf("decode errors{kind=%s} = %v, want %v", tc.kind, got, before+1)
			}
			// The other scooter is not blocked, and A is still connected.
			publish(t, b, "bike", 1, `{"a":27,"i":"B2","b":60,"c":1}`)
			if !a.IsConnectionOpen() {
				t.Fatal("a bad message disconnected the scooter")
			}
		})
	}
	publish(t, a, "bike", 1, `{"a":27,"i":"A1","b":61,"c":1}`)
	if v, _ := env.fleet.Get("A1"); v.BatteryPct != 61 {
		t.Fatalf("A's good report after the bad ones was not applied: %+v", v)
	}
	reports, _ := env.records(t)
	if len(reports) != len(bad)+1 {
		t.Fatalf("stored %d reports, want only the %d good ones: %v", len(reports), len(bad)+1, reports)
	}
	for _, r := range reports {
		if strings.Contains(r, `"i":"A1"`) && !strings.Contains(r, `"b":61`) {
			t.Fatalf("a bad message was stored: %s", r)
		}
	}
	if s := env.ingest.Stats(); s.DecodeErrors != uint64(len(bad)) || s.Accepted != uint64(len(bad)+1) {
		t.Fatalf("stats %+v", s)
	}
}

func kindByLabel(t *testing.T, label string) protocol.ErrorKind {
	for k, l := range decodeKindLabels {
		if l == label {
			return k
		}
	}
	t.Fatalf("no kind %q", label)
	return 0
}

func TestIngestSpoof(t *testing.T) {
	env := startIngest(t, "A1", "B2")
	a := env.connect(t, "A1")
	// Shared topic with B's number, and A's own topic with B's number.
	publish(t, a, "bike", 1, `{"a":27,"i":"B2","b":5,"c":0,"s":1}`)
	publish(t, a, "A1", 1, `{"a":84,"i":"B2","s":1}`)
	if got := env.ingest.Stats().Spoofed; got != 2 {
		t.Fatalf("spoofed = %d, want 2", got)
	}
	if _, ok := env.fleet.Get("B2"); ok {
		t.Fatal("a spoofed report created state for B2")
	}
	waitFor(t, "security events", func() bool {
		_, ev := env.records(t)
		n := 0
		for _, e := range ev {
			if e.Kind == link.EventSecurity && e.Security.ClientID == "A1" && e.Vehicle == "A1" {
				n++
			}
		}
		return n == 2
	})
	if reports, _ := env.records(t); len(reports) != 0 {
		t.Fatalf("spoofed reports stored: %v", reports)
	}
	if !a.IsConnectionOpen() {
		t.Fatal("spoofing client was disconnected (it should only be dropped and counted)")
	}
}

// TestPubackAfterDurable holds the outbox append and checks that the scooter
// gets no PUBACK until the record is stored.
func TestPubackAfterDurable(t *testing.T) {
	env := startIngest(t, "A1")
	a := env.connect(t, "A1")
	env.store.hold()
	payload := `{"a":27,"i":"A1","b":42,"c":1}`
	tok := a.Publish("bike", 1, false, payload)
	waitFor(t, "append in progress", func() bool { return env.store.waiting.Load() == 1 })
	if tok.WaitTimeout(200 * time.Millisecond) {
		t.Fatal("PUBACK before the record was stored")
	}
	if r, _ := env.records(t); len(r) != 0 {
		t.Fatalf("unexpected records %v", r)
	}
	env.store.release()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("no PUBACK after the append: %v", tok.Error())
	}
	if r, _ := env.records(t); len(r) != 1 || r[0] != "bike "+payload {
		t.Fatalf("records after PUBACK: %v", r)
	}
}

// TestSessionTakeover: a reconnect with the same client id must not leave the
// vehicle offline when the old session ends.
func TestSessionTakeover(t *testing.T) {
	env := startIngest(t, "A1")
	first := env.connect(t, "A1")
	env.connect(t, "A1") // takes over the first session
	waitFor(t, "second session", func() bool { return metricValue(env.ingest.m.sessions) == 2 })
	waitFor(t, "first session closed", func() bool { return !first.IsConnectionOpen() })
	// The old session's OnDisconnect runs after its socket closed; give it a moment.
	time.Sleep(50 * time.Millisecond)
	waitFor(t, "online", func() bool { v, _ := env.fleet.Get("A1"); return v.State == live.StateOnline })
	if got := metricValue(env.ingest.m.connected); got != 1 {
		t.Fatalf("connected = %v after a takeover", got)
	}
}

func TestReportRecordRoundTrip(t *testing.T) {
	topic, p, err := DecodeReport(EncodeReport("bike", []byte("{\"a\":1}\n")))
	if err != nil || topic != "bike" || string(p) != "{\"a\":1}\n" {
		t.Fatalf("round trip: %q %q %v", topic, p, err)
	}
	for _, bad := range []string{"", "\n{}", "bike"} {
		if _, _, err := DecodeReport([]byte(bad)); err == nil {
			t.Errorf("DecodeReport(%q) accepted", bad)
		}
	}
}

func TestLogLimiter(t *testing.T) {
	l := &logLimiter{perSecond: 2}
	now := time.Unix(100, 0)
	for i, want := range []bool{true, true, false, false} {
		if _, ok := l.allow(now); ok != want {
			t.Fatalf("call %d: %v", i, ok)
		}
	}
	if n, ok := l.allow(now.Add(time.Second)); !ok || n != 2 {
		t.Fatalf("next second: suppressed %d ok %v", n, ok)
	}
}

// metricValue reads a counter or gauge.
func metricValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

type presenceLog struct {
	mu  sync.Mutex
	log []string
}

func (p *presenceLog) VehicleOnline(v protocol.VehicleID)  { p.add("online " + string(v)) }
func (p *presenceLog) VehicleOffline(v protocol.VehicleID) { p.add("offline " + string(v)) }
func (p *presenceLog) add(s string)                        { p.mu.Lock(); p.log = append(p.log, s); p.mu.Unlock() }
func (p *presenceLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, ",")
}

// TestIngestPresence: the command queue learns that a vehicle listens when it
// subscribes to its own topic, and that it left when its session ends.
func TestIngestPresence(t *testing.T) {
	var p presenceLog
	env := startIngestWith(t, &p, outbox.Options{}, "A1")
	a := env.connect(t, "A1")
	if got := p.String(); got != "" {
		t.Fatalf("online before subscribing: %q", got)
	}
	if tok := a.Subscribe("A1", 1, func(paho.Client, paho.Message) {}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("subscribe")
	}
	waitFor(t, "online", func() bool { return p.String() == "online A1" })
	a.Disconnect(100)
	waitFor(t, "offline", func() bool { return p.String() == "online A1,offline A1" })
}

// TestEventsFullNoPuback: with a hard cap on stored events (outbox
// MaxEventBytes), a QoS 1 report whose event cannot be stored is neither
// stored nor acknowledged (the scooter keeps it), while reports without
// events still are.
func TestEventsFullNoPuback(t *testing.T) {
	env := startIngestWith(t, nil, outbox.Options{MaxEventBytes: 1}, "A1")
	a := env.connect(t, "A1") // its "online" event is refused: counted, nothing else
	waitFor(t, "online event refused", func() bool { return env.ingest.Stats().StoreErrors == 1 })
	publish(t, a, "bike", 1, `{"a":98,"i":"A1","t":1,"x":20}`)           // no event: stored and acked
	tok := a.Publish("bike", 1, false, `{"a":27,"i":"A1","b":50,"c":0}`) // powered on → event → refused
	if tok.WaitTimeout(2*time.Second) && tok.Error() == nil {
		t.Fatal("PUBACK for a report whose event could not be stored")
	}
	waitFor(t, "client disconnected", func() bool { return !a.IsConnectionOpen() })
	reports, events := env.records(t)
	if len(reports) != 1 || len(events) != 0 {
		t.Fatalf("stored reports %v events %v", reports, events)
	}
}

// TestReportToCommandLatency: a command written to a vehicle after one of its
// reports is timed from that report; commands before any report and
// publishes from the gateway's own client are not.
func TestReportToCommandLatency(t *testing.T) {
	env := startIngest(t, "A1")
	a := env.connect(t, "A1")
	var in inbox
	if tok := a.Subscribe("A1", 1, in.add); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("subscribe own topic")
	}
	count := func() uint64 {
		var m dto.Metric
		if err := env.ingest.m.toCommand.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	if err := env.srv.Publish("A1", []byte(`{"a":13,"k":2010}`), 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first command", func() bool { return len(in.list()) == 1 })
	if n := count(); n != 0 {
		t.Fatalf("%d samples before any report", n)
	}
	publish(t, a, "bike", 1, `{"a":19,"i":"A1","g":"4123.4567,210.1234,0,0","t":1764072000}`)
	if err := env.srv.Publish("A1", []byte(`{"a":13,"k":2015}`), 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second command", func() bool { return len(in.list()) == 2 })
	waitFor(t, "one sample", func() bool { return count() == 1 })
}

// TestPubackAfterDurablePipelined: QoS 1 reports without events do not hold
// the connection's goroutine, but each PUBACK still waits for its record's
// durable signal; several reports of one scooter wait at once and are all
// acknowledged, in order, once durable.
func TestPubackAfterDurablePipelined(t *testing.T) {
	env := startIngest(t, "A1")
	a := env.connect(t, "A1")
	env.store.hold()
	var toks []paho.Token
	var want []string
	for i := range 5 {
		p := fmt.Sprintf(`{"a":98,"i":"A1","t":%d,"x":%d}`, i+1, 10+i)
		want = append(want, "bike "+p)
		toks = append(toks, a.Publish("bike", 1, false, p))
	}
	// All five reach the store: the connection was not blocked by the first.
	waitFor(t, "five appends waiting", func() bool { return env.store.waiting.Load() == 5 })
	// A QoS 1 message the ingest drops is acknowledged, but after the
	// reports before it (MQTT: PUBACKs in PUBLISH order).
	toks = append(toks, a.Publish("bike", 1, false, `{"a":`))
	for i, tok := range toks {
		if tok.WaitTimeout(50 * time.Millisecond) {
			t.Fatalf("PUBACK %d before its record was durable", i)
		}
	}
	env.store.release()
	for i, tok := range toks {
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("no PUBACK %d after durable: %v", i, tok.Error())
		}
	}
	reports, _ := env.records(t)
	if strings.Join(reports, "|") != strings.Join(want, "|") {
		t.Fatalf("records %v, want %v", reports, want)
	}
	if got := metricValue(env.ingest.m.byCode[protocol.CodeSignalReply]); got != 5 {
		t.Fatalf("messages{code=98} = %v", got)
	}
	// A report with an event after pipelined ones takes the waiting path.
	publish(t, a, "bike", 1, `{"a":27,"i":"A1","b":42,"c":1}`)
}

// TestPipelinedStoreFailure: a pipelined report the store refuses is not
// acknowledged and the scooter is disconnected (it resends after reconnecting).
func TestPipelinedStoreFailure(t *testing.T) {
	env := startIngest(t, "A1")
	a := env.connect(t, "A1")
	publish(t, a, "bike", 1, `{"a":98,"i":"A1","t":1,"x":20}`)
	env.store.fail.Store(true)
	tok := a.Publish("bike", 1, false, `{"a":98,"i":"A1","t":2,"x":21}`)
	if tok.WaitTimeout(500*time.Millisecond) && tok.Error() == nil {
		t.Fatal("PUBACK for a report the store refused")
	}
	waitFor(t, "client disconnected", func() bool { return !a.IsConnectionOpen() })
	if got := env.ingest.Stats().StoreErrors; got != 1 {
		t.Fatalf("store errors %d", got)
	}
}
