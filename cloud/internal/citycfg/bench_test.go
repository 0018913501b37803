package citycfg

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
)

// BenchmarkPutZones: one admin PUT of the Barcelona demo document (22 KB, 14 zones) that
// makes a new version: HTTP, validation (shared/zone), the transaction with its audit
// entry, and the synchronous push to the city's KV bucket on embedded NATS.
func BenchmarkPutZones(b *testing.B) {
	demo, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "demo", "barcelona", "geofencing_zones.json"))
	if err != nil {
		b.Fatal(err)
	}
	e := newBenchEnv(b)
	docs := [2]string{string(demo), strings.Replace(string(demo), `"ttl": 60`, `"ttl": 61`, 1)}
	i := 0
	for b.Loop() {
		r := e.Do("PUT", "/admin/v1/cities/bcn/zones", e.SuperToken, docs[i%2])
		if r.Status != 200 || !strings.Contains(string(r.Body), `"created":true`) || strings.Contains(string(r.Body), `"pending":true`) {
			b.Fatalf("%d %s", r.Status, abbrev(r.Body))
		}
		i++
	}
}

// BenchmarkImportVehicles: one import request of 1,000 new vehicles with credential hashes
// (one transaction, one audit entry) and the push of the city's whole vehicles document,
// which grows by 1,000 vehicles per iteration.
func BenchmarkImportVehicles(b *testing.B) {
	e := newBenchEnv(b)
	const n = 1000
	next := 0
	for b.Loop() {
		vs := make([]map[string]any, n)
		for j := range vs {
			next++
			vs[j] = map[string]any{"number": fmt.Sprintf("V%07d", next), "credential_hash": hashOf(next)}
		}
		r := e.Do("POST", "/admin/v1/cities/bcn/vehicles/import", e.SuperToken, map[string]any{"vehicles": vs})
		if r.Status != 200 {
			b.Fatalf("%d %s", r.Status, abbrev(r.Body))
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "vehicles/s")
}

func newBenchEnv(b *testing.B) *env {
	b.Helper()
	bus := openBusTB(b, 64<<20)
	d := newDownlinkTB(b, bus)
	ae := adminapitest.New(b)
	svc, err := New(Config{DB: ae.DB.Pool, Downlink: func() Publisher { return d }, Now: ae.Clock.Now, Log: ae.Log})
	if err != nil {
		b.Fatal(err)
	}
	Register(ae.API, svc)
	e := &env{Env: ae, svc: svc}
	if r := e.Do("POST", "/admin/v1/cities", e.SuperToken, map[string]any{"code": "bcn", "name": "Barcelona", "currency": "EUR"}); r.Status != 201 {
		b.Fatal(r.Status)
	}
	return e
}
