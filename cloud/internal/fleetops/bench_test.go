package fleetops

import (
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// BenchmarkLiveMap: the live map of a 15,000-vehicle city (all registered in PostgreSQL, all
// with a live state): "build" is the registry query + live state copy + merge; "http" the
// whole admin request (session check, build, JSON of ~5 MB) over loopback.
func BenchmarkLiveMap(b *testing.B) {
	const n = 15_000
	e := newTestEnv(b, Config{})
	numbers := make([]string, n)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("BCN%05d", i)
	}
	e.seedCity("barcelona", numbers...)
	at := time.Now().UTC()
	for i, v := range numbers {
		e.live.Apply("barcelona", "gw1", &link.Telemetry{Seq: uint64(i + 1), Vehicle: v, Time: at,
			Position:   &link.Position{Lat: 41.38 + float64(i%100)/1000, Lon: 2.17 + float64(i/100)/1000},
			BatteryPct: ptr(i % 101), SpeedKmh: ptr(float64(i % 25)), Status: &link.Status{Powered: i%7 == 0}})
		e.live.ApplyEvent("barcelona", "gw1", &link.Event{Seq: uint64(n + i + 1), Vehicle: v, Time: at, Kind: link.EventStateChanged,
			State: &link.StateEvent{From: "offline", To: "online"}})
	}
	b.Run("build", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			m, err := e.svc.LiveMap(b.Context(), "barcelona", LiveFilter{})
			if err != nil || m.Count != n {
				b.Fatalf("%d vehicles, %v", m.Count, err)
			}
		}
		b.ReportMetric(float64(n), "vehicles/op")
	})
	b.Run("http", func(b *testing.B) {
		tok, _ := e.TokenWith(admin.PermVehiclesRead)
		var size int64
		defer cpuPerOp(b)()
		for b.Loop() {
			req, err := http.NewRequestWithContext(b.Context(), "GET", e.URL+adminapi.Prefix+"/fleet/cities/barcelona/live", nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			size, err = io.Copy(io.Discard, resp.Body)
			if cerr := resp.Body.Close(); err != nil || cerr != nil || resp.StatusCode != 200 {
				b.Fatalf("%d %v %v", resp.StatusCode, err, cerr)
			}
		}
		b.ReportMetric(float64(size)/1e6, "MB/response")
	})
}

// cpuPerOp reports this process's CPU time (user + system) per operation: on a shared machine
// wall time mostly measures the other processes.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}
