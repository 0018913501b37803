package obs

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// InstrumentHTTP wraps h (normally a *http.ServeMux) so every request is observed in
// fleetedge_http_request_duration_seconds{method,route,code}. route is the ServeMux pattern
// that matched ("GET /readyz"), "unmatched" otherwise, so label values stay bounded whatever
// paths clients send; methods outside the standard set count as "OTHER".
func InstrumentHTTP(reg prometheus.Registerer, h http.Handler) (http.Handler, error) {
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fleetedge_http_request_duration_seconds",
		Help:    "HTTP request latency by method, matched route and status code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"method", "route", "code"})
	if err := reg.Register(hist); err != nil {
		return nil, fmt.Errorf("http metrics: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		// ServeMux records the matched pattern on the request it was given.
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		hist.WithLabelValues(method(r.Method), route, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	}), nil
}

func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// statusWriter remembers the status code; Unwrap lets http.ResponseController reach the
// underlying writer's Flush, Hijack and deadlines.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
