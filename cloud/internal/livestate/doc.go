// Package livestate owns the cloud's in-memory view of every vehicle's latest
// known state (position, speed, battery, signal, status flags, connectivity),
// fed by the FLEET_UP ingest from the telemetry and events gateways send up,
// so the APIs answer "where is everything now" without a ClickHouse query.
//
// Invariants:
//   - Telemetry records carry optional field groups (link.Telemetry). Each group
//     of a vehicle is replaced only by a value at least as recent as the one held
//     (per-group times), so redeliveries and out-of-order batches never move a
//     vehicle back in time, and a record without a group keeps the last value.
//   - Readers get copies (Vehicle is a plain value); nothing returned aliases the
//     state.
//   - The state is per process and starts empty: after a restart a vehicle
//     appears with its next record. With several ingest replicas each holds the
//     vehicles of the messages it consumed (API replicas should ask an ingest
//     replica, or the replicas should consume the full stream each — a later issue).
//
// Concurrency: all methods are safe for concurrent use; vehicles are spread
// over 64 shards, each guarded by its own RWMutex.
package livestate
