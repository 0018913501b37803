package exports_test

import (
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/analytics/analyticstest"
	"github.com/fleetedge/fleetedge/cloud/internal/exports"
)

// BenchmarkExportRides exports 10,000 and 100,000 rides over HTTP (PostgreSQL query → excelize
// StreamWriter → zip → response, body discarded) and reports rows/s, the workbook size and the
// process's peak Go heap (sampled every 5 ms, garbage included) above the heap before the
// export: about the same for both sizes, memory does not grow with the rows.
func BenchmarkExportRides(b *testing.B) {
	env := adminapitest.New(b)
	pool := env.DB.Pool
	rider := analyticstest.Rider(b, pool, "Ana", "Ruiz", "ana@example.com", "active", time.Now())
	for _, c := range []struct {
		code string
		n    int
	}{{"small", 10_000}, {"large", 100_000}} {
		city := analyticstest.City(b, pool, c.code, "EUR")
		veh := analyticstest.Vehicle(b, pool, city, "V"+c.code, "available")
		if _, err := pool.Exec(b.Context(), `INSERT INTO rides (rider_id, vehicle_id, city_id, state, started_at, ended_at,
		start_lat, start_lon, end_lat, end_lon, distance_m, fare_total_minor, currency)
		SELECT $1, $2, $3, 'ended', t, t + interval '12 minutes', 41.38 + i * 1e-7, 2.17, 41.39, 2.18 - i * 1e-7, i % 5000, 100 + i % 900, 'EUR'
		FROM generate_series(1, $4) AS i, LATERAL (SELECT timestamptz '2026-01-01' + i * interval '1 minute' AS t) x`,
			rider, veh, city, c.n); err != nil {
			b.Fatal(err)
		}
	}
	if err := exports.Register(env.API, exports.Deps{PG: pool, TmpDir: b.TempDir()}); err != nil {
		b.Fatal(err)
	}
	token, _ := env.TokenWith("exports.create")
	b.Run("rows=10000", func(b *testing.B) { benchExport(b, env, token, "small", 10_000) })
	b.Run("rows=100000", func(b *testing.B) { benchExport(b, env, token, "large", 100_000) })
}

func benchExport(b *testing.B, env *adminapitest.Env, token, city string, n int) {

	var size int64
	var peak uint64
	for b.Loop() {
		runtime.GC()
		base := heapBytes()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var max uint64
		wg.Go(func() {
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				if h := heapBytes(); h > max {
					max = h
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		})
		req, err := http.NewRequestWithContext(b.Context(), "GET", env.URL+adminapi.Prefix+"/exports/rides?city="+city, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		size, err = io.Copy(io.Discard, resp.Body)
		if cerr := resp.Body.Close(); err == nil {
			err = cerr
		}
		close(stop)
		wg.Wait()
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Export-Rows") != strconv.Itoa(n) {
			b.Fatalf("export: %v %d rows=%s", err, resp.StatusCode, resp.Header.Get("X-Export-Rows"))
		}
		if max > base && max-base > peak {
			peak = max - base
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/(1<<20), "xlsx-MiB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
