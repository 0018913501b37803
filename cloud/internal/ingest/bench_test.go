package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// BenchmarkIngest measures records/s from FLEET_UP (prefilled with telemetry
// batches of 2000 records, as the uplink sends them) to rows committed in
// ClickHouse and messages acknowledged. Run with a fixed count, e.g.
// -benchtime=200000x. INGEST_BENCH_CPUPROFILE=path profiles the drain only.
func BenchmarkIngest(b *testing.B) {
	e := newEnv(b)
	js := e.bus.JetStream()
	const perBatch = 2000
	ctx := context.Background()
	var futs []jetstream.PubAckFuture
	for first := 1; first <= b.N; first += perBatch {
		last := min(first+perBatch-1, b.N)
		batch := &link.TelemetryBatch{Header: link.Header{V: link.Version, Gateway: gw, City: city}}
		for s := first; s <= last; s++ {
			batch.Records = append(batch.Records, link.Telemetry{Seq: uint64(s), Vehicle: fmt.Sprintf("V%04d", s%5000),
				Time:     t0.Add(time.Duration(s/5000) * 5 * time.Second),
				Position: &link.Position{Lat: 48.85 + float64(s%1000)*1e-5, Lon: 2.35}})
		}
		data, err := json.Marshal(batch)
		if err != nil {
			b.Fatal(err)
		}
		f, err := js.PublishAsync(link.TelemetrySubject(city), data, jetstream.WithMsgID(link.MsgID(gw, uint64(first), uint64(last))))
		if err != nil {
			b.Fatal(err)
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
	cfg := Config{}
	if w := os.Getenv("INGEST_BENCH_WRITERS"); w != "" {
		fmt.Sscan(w, &cfg.Writers)
	}
	if r := os.Getenv("INGEST_BENCH_FLUSH_ROWS"); r != "" {
		fmt.Sscan(r, &cfg.FlushRows)
	}
	in, err := New(cfg, js, e.store, nil, testLogger())
	if err != nil {
		b.Fatal(err)
	}
	if path := os.Getenv("INGEST_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	b.ResetTimer()
	go func() { done <- in.Run(rctx) }()
	for in.Stats().Telemetry < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if n := telemetryTotal(b, e.store, city); n != uint64(b.N) {
		b.Fatalf("ClickHouse holds %d records, want %d", n, b.N)
	}
	st := in.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/float64(st.Flushes), "rows/flush")
	b.ReportMetric(st.FlushTime.Seconds()/b.Elapsed().Seconds()*100, "%write")
}
