package chstore

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkInsertTelemetry measures batch inserts of 10,000 telemetry rows (1,000 vehicles,
// 10 fixes each) into the local server; rows/s is the figure to compare.
//
//	go test -run '^$' -bench InsertTelemetry -benchtime 20x ./cloud/internal/chstore/
func BenchmarkInsertTelemetry(b *testing.B) {
	const batchSize = 10_000
	dsn := benchDSN(b)
	ctx := b.Context()
	s, err := Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	}()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	rows := make([]TelemetryRow, batchSize)
	for i := range rows {
		rows[i] = fix("gw-bench", uint64(i), fmt.Sprintf("V%06d", i%1000),
			time.Duration(i/1000)*5*time.Second, 40.4+float64(i%1000)*1e-4, -3.7, uint8(i%101))
	}
	b.ResetTimer()
	start := time.Now()
	for n := 0; b.Loop(); n++ {
		for i := range rows {
			rows[i].Seq = uint64(n*batchSize + i)
		}
		if err := s.InsertTelemetry(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/time.Since(start).Seconds(), "rows/s")
}
