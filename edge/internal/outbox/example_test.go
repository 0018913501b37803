package outbox_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/outbox"
)

// The ingest side appends and acknowledges only after Append returns; the
// uplink side waits, reads in order, publishes, and deletes after the ack.
func Example() {
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	o, err := outbox.Open(filepath.Join(dir, "gateway.db"), outbox.Options{MaxBytes: 512 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer o.Close()
	ctx := context.Background()

	// Ingest (e.g. from mochi's OnPublish, before the PUBACK).
	for i, kind := range []string{"gps", "ride.end"} {
		class := outbox.ClassTelemetry
		if kind == "ride.end" {
			class = outbox.ClassEvent
		}
		seq, err := o.Append(ctx, outbox.Record{
			Class: class, Time: time.Unix(1_700_000_000+int64(i), 0), Vehicle: "861123456789012",
			Kind: kind, Payload: []byte(`{}`),
		})
		if err != nil {
			log.Fatal(err) // do not PUBACK: the scooter will resend
		}
		fmt.Println("durable", seq, kind)
	}

	// Uplink.
	var after uint64
	if err := o.Wait(ctx, after); err != nil {
		log.Fatal(err)
	}
	recs, err := o.Read(after, 100)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Println("publish", r.Seq, r.Class, r.Kind) // Nats-Msg-Id <gateway>.<seq>
		after = r.Seq
	}
	n, err := o.DeleteThrough(ctx, after) // after JetStream acked them
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deleted", n, "depth", o.Stats().Records)
	// Output:
	// durable 1 gps
	// durable 2 ride.end
	// publish 1 telemetry gps
	// publish 2 event ride.end
	// deleted 2 depth 0
}
