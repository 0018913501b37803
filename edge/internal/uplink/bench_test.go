package uplink

import (
	"context"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetedge/fleetedge/edge/internal/outbox"
)

// BenchmarkDrain measures records/s from a prefilled outbox to JetStream
// acknowledgements (every report due, so every record is published), with the
// JetStream store fsyncing every write like the cloud's embedded server.
// Run with a fixed count, e.g. -benchtime=200000x.
func BenchmarkDrain(b *testing.B) {
	srv, err := server.NewServer(&server.Options{
		ServerName: "uplink-bench", Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: b.TempDir(),
		NoSigs: true, NoLog: true, SyncAlways: os.Getenv("UPLINK_BENCH_NOSYNC") == "", MaxPayload: 8 << 20,
	})
	if err != nil {
		b.Fatal(err)
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		b.Fatal("not ready")
	}
	ensureStreamB(b, srv.ClientURL())

	ob, err := outbox.Open(b.TempDir()+"/outbox.db", outbox.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	const vehicles = 5000
	recs := make([]outbox.Record, 0, 10000)
	for i := 0; i < b.N; i++ {
		v, round := i%vehicles, i/vehicles
		id := vehicleID(v % 676)
		if v >= 676 {
			id += string(rune('A' + v/676))
		}
		recs = append(recs, reportRecord(id, t0.Add(time.Duration(round)*5*time.Second), gpsPayload(id, i, false)))
		if len(recs) == cap(recs) || i == b.N-1 {
			appendAll(b, ob, recs)
			recs = recs[:0]
		}
	}
	nc, err := Dial(NATSConfig{URL: srv.ClientURL()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	u, err := New(Config{Gateway: testGateway, City: testCity, Cadence: DefaultCadence()}, ob, nc, nil)
	if err != nil {
		b.Fatal(err)
	}
	last := ob.LastSeq()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	if path := os.Getenv("UPLINK_BENCH_CPUPROFILE"); path != "" {
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
	b.ResetTimer()
	go func() { done <- u.Run(ctx) }()
	for u.Stats().AckedThrough < last {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	st := u.Stats()
	if st.PublishedTelemetry != uint64(b.N) {
		b.Fatalf("published %d records, want %d (stats %+v)", st.PublishedTelemetry, b.N, st)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(st.PublishedBytes)/float64(b.N), "bytes/record")
	b.ReportMetric(float64(b.N)/float64(st.Published), "records/msg")
}
