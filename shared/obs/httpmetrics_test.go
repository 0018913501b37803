package obs

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestInstrumentHTTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	h, err := InstrumentHTTP(reg, mux)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct{ method, path string }{
		{"GET", "/items/1"}, {"GET", "/items/2"}, {"GET", "/items/missing"}, {"GET", "/x/y/z"}, {"BREW", "/items/1"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += l.GetName() + "=" + l.GetValue() + " "
			}
			got[key] = m.GetHistogram().GetSampleCount()
		}
	}
	want := map[string]uint64{
		"code=200 method=GET route=GET /items/{id} ": 2,
		"code=404 method=GET route=GET /items/{id} ": 1,
		"code=404 method=GET route=unmatched ":       1,
		// The mux answers 405 for a method no pattern allows; no pattern matched.
		"code=405 method=OTHER route=unmatched ": 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q: got %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series: %v", got)
	}
	// Registering twice in one registry is an error, not a panic.
	if _, err := InstrumentHTTP(reg, mux); err == nil {
		t.Error("second registration must fail")
	}
}
