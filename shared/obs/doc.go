// Package obs owns the observability setup shared by the fleetedge binaries (cloud and gateway):
// the slog logger built from configuration, one Prometheus registry per process, the
// operational HTTP endpoints /healthz (liveness), /readyz (readiness from named checks) and
// /metrics, an HTTP server whose listener is bound before it serves (":0" in tests), and
// request metrics by matched route (InstrumentHTTP).
//
// Invariants:
//   - Nothing here touches process-global state: no slog.SetDefault, no prometheus.DefaultRegisterer,
//     no http.DefaultServeMux. Two binaries started in one test process never collide.
//   - /healthz answers 200 as long as the process serves HTTP; it never calls a dependency, so a
//     slow database cannot get a healthy process killed by its orchestrator.
//   - /readyz answers 200 only between Health.SetReady(true) and SetReady(false) and when every
//     registered check passed within its timeout; the body names every check and its error.
package obs
