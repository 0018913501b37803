package outbox

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestCollector(t *testing.T) {
	o, _ := openTest(t, Options{MaxRecords: 3})
	reg := prometheus.NewRegistry()
	if err := reg.Register(o.Collector()); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustAppend(t, o, rec(ClassTelemetry, "v", i))
	}
	mustAppend(t, o, rec(ClassEvent, "v", 9))
	if _, err := o.Delete(context.Background(), 6); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	value := func(name, class string) float64 {
		t.Helper()
		mf := got[name]
		if mf == nil {
			t.Fatalf("metric %s missing", name)
		}
		for _, m := range mf.GetMetric() {
			if class != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != class) {
				continue
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		t.Fatalf("metric %s{class=%q} missing", name, class)
		return 0
	}
	checks := []struct {
		name, class string
		want        float64
	}{
		{"fleetedge_outbox_records", "telemetry", 2},
		{"fleetedge_outbox_records", "event", 0},
		{"fleetedge_outbox_appended_total", "telemetry", 5},
		{"fleetedge_outbox_appended_total", "event", 1},
		{"fleetedge_outbox_dropped_telemetry_total", "", 3},
		{"fleetedge_outbox_deleted_total", "", 1},
		{"fleetedge_outbox_last_seq", "", 6},
		{"fleetedge_outbox_commit_seconds", "", 7},
		{"fleetedge_outbox_batch_requests", "", 7},
	}
	for _, c := range checks {
		if v := value(c.name, c.class); v != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.class, v, c.want)
		}
	}
}
