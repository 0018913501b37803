package uplink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/protocol/link"
)

func newTestUplink(t *testing.T, ob Source, nc *nats.Conn, mod func(*Config)) *Uplink {
	t.Helper()
	cfg := Config{Gateway: testGateway, City: testCity, Cadence: DefaultCadence(),
		ReadBatch: 100, Window: 4, AckTimeout: time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	u, err := New(cfg, ob, nc, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func dial(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := Dial(NATSConfig{URL: url, Name: "uplink-test", ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 200 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// fleetRecords makes vehicles × n GPS reports 5 s apart (every one due) and one
// alarm event per vehicle after its first report.
func fleetRecords(t testing.TB, vehicles, n int, start time.Time) (recs []outbox.Record, reports int) {
	for i := range n {
		at := start.Add(time.Duration(i) * 5 * time.Second)
		for v := range vehicles {
			id := vehicleID(v)
			recs = append(recs, reportRecord(id, at, gpsPayload(id, i, false)))
			reports++
			if i == 0 {
				recs = append(recs, eventRecord(t, link.Event{Vehicle: id, Time: at, Kind: link.EventAlarm,
					Alarm: &link.AlarmEvent{Reason: "fallen"}}))
			}
		}
	}
	return recs, reports
}

func vehicleID(v int) string { return "V" + string(rune('A'+v/26%26)) + string(rune('A'+v%26)) }

func TestDrainsEveryRecordOnceAndEmptiesTheOutbox(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	ensureStream(t, srv.ClientURL())
	ob := openOutbox(t)
	recs, reports := fleetRecords(t, 20, 15, t0)
	seqs := appendAll(t, ob, recs)

	u := newTestUplink(t, ob, dial(t, srv.ClientURL()), nil)
	runUplink(t, u)
	// More records while it runs: the loop must wake up for them.
	later, laterReports := fleetRecords(t, 20, 3, t0.Add(time.Hour))
	seqs = append(seqs, appendAll(t, ob, later)...)
	last := ob.LastSeq()
	eventually(t, 20*time.Second, "outbox drained", func() bool {
		return ob.Stats().Records == 0 && u.Stats().DeletedThrough == last
	})

	got := readStream(t, srv.ClientURL())
	if got.dups != 0 {
		t.Errorf("%d records duplicated in the stream without any failure", got.dups)
	}
	if n := len(got.telemetry); n != reports+laterReports {
		t.Errorf("telemetry records in stream = %d, want %d", n, reports+laterReports)
	}
	if n := len(got.events); n != 40 {
		t.Errorf("events in stream = %d, want 40", n)
	}
	for _, s := range seqs {
		_, tel := got.telemetry[s]
		_, ev := got.events[s]
		if !tel && !ev {
			t.Fatalf("seq %d missing from the stream", s)
		}
	}
	st := u.Stats()
	if st.PublishedTelemetry != uint64(reports+laterReports) || st.PublishedEvents != 40 || st.InFlight != 0 {
		t.Errorf("stats = %+v", st)
	}
	if got.messages < len(seqs)/100 || got.messages > len(seqs)/10 {
		t.Errorf("%d messages for %d records with ReadBatch 100: not batched as configured", got.messages, len(seqs))
	}
}

func TestLinkDownOutboxKeepsFillingThenEverythingArrivesOnce(t *testing.T) {
	dir := t.TempDir()
	srv := startNATS(t, dir, -1)
	url := srv.ClientURL()
	port := srv.Addr().(*net.TCPAddr).Port
	ensureStream(t, url)
	ob := openOutbox(t)
	// Acks lost with the connection must not wait for AckTimeout: the loop sees
	// the reconnect and resends at once.
	u := newTestUplink(t, ob, dial(t, url), func(c *Config) { c.AckTimeout = time.Minute })
	runUplink(t, u)

	// An appender that keeps going through the outage.
	stopAppend := make(chan struct{})
	appended := make(chan int)
	go func() {
		n := 0
		for i := 0; ; i++ {
			select {
			case <-stopAppend:
				appended <- n
				return
			default:
			}
			at := t0.Add(time.Duration(i) * 5 * time.Second)
			var wg sync.WaitGroup
			for v := range 5 {
				id := vehicleID(v)
				wg.Add(1)
				if err := ob.AppendAsync(reportRecord(id, at, gpsPayload(id, i, false)), func(_ uint64, err error) {
					if err != nil {
						t.Errorf("append: %v", err)
					}
					wg.Done()
				}); err != nil {
					t.Errorf("append: %v", err)
					wg.Done()
				}
			}
			wg.Wait()
			n += 5
			time.Sleep(2 * time.Millisecond)
		}
	}()

	eventually(t, 10*time.Second, "first records acknowledged", func() bool { return u.Stats().AckedThrough > 50 })
	srv.Shutdown()
	srv.WaitForShutdown()
	before := ob.Stats().Records
	eventually(t, 10*time.Second, "outbox growing while the link is down", func() bool {
		return ob.Stats().Records > before+200
	})
	if u.Stats().Connected {
		t.Error("uplink reports connected while the server is down")
	}

	startNATS(t, dir, port)
	time.Sleep(300 * time.Millisecond)
	close(stopAppend)
	total := <-appended
	last := ob.LastSeq()
	eventually(t, 30*time.Second, "outbox drained after the outage", func() bool {
		return ob.Stats().Records == 0 && u.Stats().AckedThrough == last
	})
	got := readStream(t, url)
	if len(got.telemetry) != total {
		t.Errorf("telemetry records in stream = %d, want %d (all appended)", len(got.telemetry), total)
	}
	for s := uint64(1); s <= last; s++ {
		if _, ok := got.telemetry[s]; !ok {
			t.Fatalf("seq %d lost", s)
		}
	}
	if got.dups != 0 {
		t.Errorf("%d duplicate records in the stream (resends must reuse their Nats-Msg-Id)", got.dups)
	}
	if st := u.Stats(); st.PublishErrors == 0 {
		t.Errorf("no publish error counted through an outage: %+v", st)
	}
}

func TestInvalidRecordsAreDroppedAndDoNotBlock(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	ensureStream(t, srv.ClientURL())
	ob := openOutbox(t)
	bad := []outbox.Record{
		reportRecord("V1", t0, []byte(`{"a":19,"i":"V1","g":"garbage"}`)),
		{Class: outbox.ClassEvent, Time: t0, Vehicle: "V1", Kind: "alarm", Payload: []byte(`{not json`)},
		eventRecord(t, link.Event{Vehicle: "V1", Time: t0, Kind: link.EventAlarm}), // alarm without its payload
		{Class: outbox.ClassTelemetry, Time: t0, Vehicle: "V1", Kind: "unknown", Payload: []byte("x")},
	}
	good := reportRecord("V1", t0, gpsPayload("V1", 1, false))
	appendAll(t, ob, append(bad, good))
	u := newTestUplink(t, ob, dial(t, srv.ClientURL()), nil)
	runUplink(t, u)
	eventually(t, 10*time.Second, "outbox drained", func() bool { return ob.Stats().Records == 0 })
	if st := u.Stats(); st.Invalid != uint64(len(bad)) || st.PublishedTelemetry != 1 {
		t.Errorf("stats = %+v, want %d invalid and 1 telemetry record", st, len(bad))
	}
	if got := readStream(t, srv.ClientURL()); len(got.telemetry) != 1 || len(got.events) != 0 {
		t.Errorf("stream holds %d telemetry records and %d events, want 1 and 0", len(got.telemetry), len(got.events))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"bad gateway", func(c *Config) { c.Gateway = "GW.1" }},
		{"bad city", func(c *Config) { c.City = "" }},
		{"negative cadence", func(c *Config) { c.Cadence.Battery = -time.Second }},
		{"window", func(c *Config) { c.Window = -1 }},
		{"tiny messages", func(c *Config) { c.MaxMessageBytes = 10 }},
		{"retry bounds", func(c *Config) { c.RetryMin, c.RetryMax = time.Second, time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Gateway: testGateway, City: testCity}
			tc.mod(&cfg)
			if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
				t.Errorf("Validate = %v, want ErrConfig", err)
			}
		})
	}
	if err := (Config{Gateway: testGateway, City: testCity}).Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestStartsWhileTheCloudIsDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ob := openOutbox(t)
	nc := dial(t, fmt.Sprintf("nats://127.0.0.1:%d", port)) // nothing listens yet
	u := newTestUplink(t, ob, nc, nil)
	runUplink(t, u)
	recs, reports := fleetRecords(t, 3, 4, t0)
	appendAll(t, ob, recs)
	time.Sleep(100 * time.Millisecond) // let it try and fail at least once
	if st := u.Stats(); st.Connected || st.AckedThrough != 0 {
		t.Fatalf("stats with no server: %+v", st)
	}
	srv := startNATS(t, t.TempDir(), port)
	ensureStream(t, srv.ClientURL())
	last := ob.LastSeq()
	eventually(t, 20*time.Second, "drained once the cloud is up", func() bool {
		return u.Stats().DeletedThrough == last && ob.Stats().Records == 0
	})
	if got := readStream(t, srv.ClientURL()); len(got.telemetry) != reports || len(got.events) != 3 || got.dups != 0 {
		t.Errorf("stream: %d telemetry, %d events, %d dups; want %d, 3, 0", len(got.telemetry), len(got.events), got.dups, reports)
	}
}

// TestDownsampledReportsAreDeletedWithTheirBatch: one vehicle reporting a fix
// every second for a minute sends 13 positions (every 5 s) up; the 48 others
// leave the outbox all the same, and an alarm event in between goes up at once.
func TestDownsampledReportsAreDeletedWithTheirBatch(t *testing.T) {
	srv := startNATS(t, t.TempDir(), -1)
	ensureStream(t, srv.ClientURL())
	ob := openOutbox(t)
	var recs []outbox.Record
	for sec := 0; sec <= 60; sec++ {
		at := t0.Add(time.Duration(sec) * time.Second)
		recs = append(recs, reportRecord("V1", at, gpsPayload("V1", sec, false)))
		if sec == 7 {
			recs = append(recs, eventRecord(t, link.Event{Vehicle: "V1", Time: at, Kind: link.EventAlarm,
				Alarm: &link.AlarmEvent{Reason: "fallen"}}))
		}
	}
	for _, r := range recs { // one by one: seq order is time order
		if _, err := ob.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	u := newTestUplink(t, ob, dial(t, srv.ClientURL()), func(c *Config) { c.ReadBatch = 10 })
	runUplink(t, u)
	last := ob.LastSeq()
	eventually(t, 10*time.Second, "outbox drained", func() bool {
		return ob.Stats().Records == 0 && u.Stats().DeletedThrough == last
	})
	got := readStream(t, srv.ClientURL())
	var secs []int
	for _, r := range got.telemetry {
		secs = append(secs, int(r.Time.Sub(t0)/time.Second))
	}
	slices.Sort(secs)
	if fmt.Sprint(secs) != "[0 5 10 15 20 25 30 35 40 45 50 55 60]" || len(got.events) != 1 {
		t.Errorf("forwarded fixes at %v s and %d events; want every 5 s and 1", secs, len(got.events))
	}
	if st := u.Stats(); st.Downsampled != 48 {
		t.Errorf("downsampled %d reports, want 48", st.Downsampled)
	}
}
