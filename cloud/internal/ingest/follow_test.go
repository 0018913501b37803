package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// TestFollowKeepsLiveState: a replica without ingest learns the vehicles sent before it
// started (within since) and after, skipping garbage, and stores nothing.
func TestFollowKeepsLiveState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	js := e.bus.JetStream()
	publishTelemetry(t, js, telemetryBatch(1, 4, 4)) // V001…V003, V000, before the follower
	publish(t, js, link.TelemetrySubject(city), []byte(`{"v":1,"gateway":`), "garbage-1")

	live := livestate.New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, js, live, time.Minute, testLogger()) }()
	eventually(t, 10*time.Second, "vehicles published before the follower started", func() bool { return live.Len() == 4 })

	publishTelemetry(t, js, telemetryBatch(10, 14, 5)) // adds V004
	eventually(t, 10*time.Second, "a vehicle published after", func() bool {
		v, ok := live.Get(city, "V004")
		return ok && v.LastSeq == 14
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not return after its context ended")
	}
	// Nothing was acknowledged or stored: the durable ingest consumer has not seen these.
	if n, err := e.store.TelemetryCounts(context.Background(), string(city), window); err != nil || len(n) != 0 {
		t.Fatalf("follower stored telemetry: %v %v", n, err)
	}
}
