package outbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchRecord is a typical GPS report: ~100 bytes of payload.
func benchRecord(i int) Record {
	return Record{
		Class:   ClassTelemetry,
		Time:    time.Unix(1_700_000_000, int64(i)),
		Vehicle: "861123456789012",
		Kind:    "gps",
		Payload: []byte(`{"a":1,"i":"861123456789012","t":1700000000,"la":41.3874,"lo":2.1686,"s":17,"b":83,"g":12}`),
	}
}

// BenchmarkAppendDurable measures durable Append throughput (each call
// returns after fsync) with a fixed number of concurrent appenders.
func BenchmarkAppendDurable(b *testing.B) {
	for _, appenders := range []int{1, 64, 1000} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			o, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range appenders {
				wg.Go(func() {
					for {
						i := int(next.Add(1))
						if i > b.N {
							return
						}
						if _, err := o.Append(ctx, benchRecord(i)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			s := o.Stats()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			if s.Commits > 0 {
				b.ReportMetric(float64(s.Appended)/float64(s.Commits), "records/commit")
				b.ReportMetric(float64(s.CommitTime.Microseconds())/float64(s.Commits), "µs/commit")
			}
		})
	}
}

// BenchmarkAppendAsync measures throughput when callers do not wait.
func BenchmarkAppendAsync(b *testing.B) {
	o, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{MaxPending: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	var wg sync.WaitGroup
	wg.Add(b.N)
	done := func(_ uint64, err error) {
		if err != nil {
			b.Error(err)
		}
		wg.Done()
	}
	b.ResetTimer()
	for i := range b.N {
		for {
			err := o.AppendAsync(benchRecord(i), done)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrQueueFull) {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Microsecond) // ErrQueueFull: let the committer catch up
		}
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkReadDelete measures the uplink side: Read a page, then
// DeleteThrough its last seq (one durable commit per page).
func BenchmarkReadDelete(b *testing.B) {
	for _, page := range []int{100, 1000} {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			o, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{MaxPending: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			var wg sync.WaitGroup
			wg.Add(b.N)
			for i := range b.N {
				for {
					err := o.AppendAsync(benchRecord(i), func(uint64, error) { wg.Done() })
					if err == nil {
						break
					}
					if !errors.Is(err, ErrQueueFull) {
						b.Fatal(err)
					}
					time.Sleep(100 * time.Microsecond)
				}
			}
			wg.Wait()
			ctx := context.Background()
			b.ResetTimer()
			var after uint64
			n := 0
			for n < b.N {
				rs, err := o.Read(after, page)
				if err != nil || len(rs) == 0 {
					b.Fatalf("Read = %d records, %v", len(rs), err)
				}
				after = rs[len(rs)-1].Seq
				if _, err := o.DeleteThrough(ctx, after); err != nil {
					b.Fatal(err)
				}
				n += len(rs)
			}
			b.StopTimer()
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
