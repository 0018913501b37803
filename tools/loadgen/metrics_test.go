package loadgen

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const sample = `# HELP fleetedge_ingest_messages_total x
# TYPE fleetedge_ingest_messages_total counter
fleetedge_ingest_messages_total{code="19"} 100
fleetedge_ingest_messages_total{code="27"} 20
fleetedge_vehicles_connected 15000
h_bucket{le="0.001"} 10
h_bucket{le="0.01"} 90
h_bucket{le="+Inf"} 100
h_sum 0.5 1700000000000
h_count 100
`

func TestParseMetrics(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Get("fleetedge_ingest_messages_total"); got != 120 {
		t.Errorf("sum %v, want 120", got)
	}
	if got := m.Match("fleetedge_ingest_messages_total", `code="27"`); got != 20 {
		t.Errorf("match %v, want 20", got)
	}
	if got := m.Get("fleetedge_vehicles_connected"); got != 15000 {
		t.Errorf("gauge %v", got)
	}
	if got := m.Get("h_sum"); got != 0.5 {
		t.Errorf("value with timestamp %v", got)
	}
	zero := Metrics{Series: map[string]float64{}, Sum: map[string]float64{}}
	if q := HistQuantile(zero, m, "h", 0.5); math.Abs(q-0.0055) > 1e-9 {
		t.Errorf("p50 %v, want 0.0055 (linear in the 1-10 ms bucket)", q)
	}
	if q := HistQuantile(zero, m, "h", 0.05); math.Abs(q-0.0005) > 1e-9 {
		t.Errorf("p5 %v, want 0.0005", q)
	}
	if q := HistQuantile(zero, m, "h", 0.99); q != 0.01 {
		t.Errorf("p99 in +Inf: %v, want the last finite bound", q)
	}
	if q := HistQuantile(m, m, "h", 0.5); q != 0 {
		t.Errorf("no observations: %v", q)
	}
	for _, bad := range []string{"x{a=\"1\"}\n", "x notanumber\n"} {
		if _, err := ParseMetrics(strings.NewReader(bad)); !errors.Is(err, ErrMetrics) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}
