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
// or the stream on an external cluster) and the FLEET_UP ingest; role api connects to an
// external NATS when its URL is set (commands and configuration to the gateways, and an ordered
// consumer of FLEET_UP for the live state). Roles api and all serve the rider API (/v1/) and the
// admin API (/admin/v1/). Every role builds the API areas (areas.go: rides, payments, city
// configuration, technicians, fleet operations, analytics), so role ingest runs their event
// hooks and background tasks where the events arrive.
//
// Shutdown order (each step bounded by shutdown_timeout overall):
//  1. /readyz turns 503 "stopping"; wait drain_delay so load balancers stop routing here.
//  2. HTTP server: stop accepting, finish in-flight requests (APIs still have their databases).
//  3. The areas' background tasks, then the ingest consumer (or the live-state follower): stop
//     fetching, finish and ack the current batch.
//  4. NATS: drain the connection, shut the embedded server down (flushes its store).
//  5. ClickHouse pool, then PostgreSQL pool.
package cloudsvc
