package uplink

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Environment of TestExternalDrain.
const (
	envExternalURL     = "FLEETEDGE_E2E_NATS_URL"
	envExternalRecords = "FLEETEDGE_E2E_RECORDS"
	envExternalCity    = "FLEETEDGE_E2E_CITY"
)

// TestExternalDrain is the gateway half of cloud/internal/ingest's end-to-end
// test and benchmark (edge and cloud packages cannot share a process: both are
// internal to their module). It runs only when FLEETEDGE_E2E_NATS_URL is set:
// it fills a fresh outbox with FLEETEDGE_E2E_RECORDS GPS reports (5,000
// vehicles, every report due) plus one alarm event per 1,000 reports, prints
// "READY <reports> <events>", waits for a line on stdin, drains the outbox to
// the given NATS, and prints "DONE" once everything is acknowledged.
func TestExternalDrain(t *testing.T) {
	url := os.Getenv(envExternalURL)
	if url == "" {
		t.Skip(envExternalURL + " not set: helper of cloud/internal/ingest's end-to-end test")
	}
	n, err := strconv.Atoi(os.Getenv(envExternalRecords))
	if err != nil || n <= 0 {
		t.Fatalf("%s: %v", envExternalRecords, err)
	}
	city, err := link.ParseCityID(os.Getenv(envExternalCity))
	if err != nil {
		t.Fatal(err)
	}
	ob := openOutbox(t)
	const vehicles = 5000
	recs := make([]outbox.Record, 0, 10000)
	events := 0
	for i := range n {
		v, round := i%vehicles, i/vehicles
		id := fmt.Sprintf("E%04d", v)
		at := t0.Add(time.Duration(round) * 5 * time.Second)
		recs = append(recs, reportRecord(id, at, gpsPayload(id, i, false)))
		if i%1000 == 999 {
			recs = append(recs, eventRecord(t, link.Event{Vehicle: id, Time: at, Kind: link.EventAlarm,
				Alarm: &link.AlarmEvent{Reason: "vibration"}}))
			events++
		}
		if len(recs) >= cap(recs)-1 || i == n-1 {
			appendAll(t, ob, recs)
			recs = recs[:0]
		}
	}
	nc, err := Dial(NATSConfig{URL: url, Name: "e2e-gateway"}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	u, err := New(Config{Gateway: "gw-e2e", City: city, Cadence: DefaultCadence()}, ob, nc, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("READY %d %d\n", n, events)
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatalf("waiting for go: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	last := ob.LastSeq()
	eventually(t, 10*time.Minute, "outbox acknowledged", func() bool { return u.Stats().AckedThrough >= last })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := u.Stats()
	fmt.Printf("DONE published=%d telemetry=%d events=%d errors=%d\n", st.Published, st.PublishedTelemetry,
		st.PublishedEvents, st.PublishErrors)
}
