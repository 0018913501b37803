// Package cloudsvc is the cloud binary as a type: App wires configuration, logging, metrics,
// PostgreSQL, ClickHouse and NATS JetStream into one process that tests start in-process on
// :0 ports and cmd/cloud runs for real. It also owns the cloud's typed configuration (Config,
// Default, LoadConfig: defaults < JSON file < environment < flags).
//
// Lifecycle: New validates the configuration and binds the HTTP listener (so /healthz answers
// while the process is still starting); Run starts the components for the configured role,
// marks the process ready, waits for its context to end, then shuts down in the reverse order
// of dependence; Close releases whatever Run did not (or everything, when Run never ran).
//
// Roles: every role serves /healthz, /readyz and /metrics and connects to PostgreSQL and
// ClickHouse (applying migrations when enabled). Roles ingest and all also run NATS (embedded,
// or the stream on an external cluster). The APIs (role api/all) and the ingest consumer
// (role ingest/all) plug in at the places marked "later issues" in app.go.
//
// Shutdown order (each step bounded by shutdown_timeout overall):
//  1. /readyz turns 503 "stopping"; wait drain_delay so load balancers stop routing here.
//  2. HTTP server: stop accepting, finish in-flight requests (APIs still have their databases).
//  3. Ingest consumer (later issue): stop fetching, finish and ack the current batch.
//  4. NATS: drain the connection, shut the embedded server down (flushes its store).
//  5. ClickHouse pool, then PostgreSQL pool.
package cloudsvc
