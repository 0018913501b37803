// Package ingest owns the cloud's consumer of the FLEET_UP stream: it reads the
// telemetry and event batches gateways publish (protocol/link), writes them to
// ClickHouse in batches and keeps the live fleet state (cloud/internal/livestate).
//
// # Flow
//
// One durable pull consumer (Config.Durable, shared by every ingest replica)
// delivers messages; each is decoded and validated (link.DecodeTelemetryBatch /
// DecodeEventBatch, the subject's city must match the batch's) and turned into
// rows. Rows accumulate until Config.FlushRows rows or Config.FlushMessages
// messages are pending, or the oldest pending message waited Config.FlushInterval;
// then telemetry, events and command results are written (chstore.InsertTelemetry,
// InsertEvents, InsertCommands), the optional Config.OnEvents hook runs, and only
// then are the messages acknowledged.
//
// # Failures
//
//   - A message that cannot be processed — bad JSON, a failed Validate, an
//     unknown version, a city that does not match its subject, a value out of
//     range — is stored in the link.StreamDead stream on link.DeadLetterSubject(city)
//     with the reason in the HeaderDeadReason header (and the original subject and
//     Nats-Msg-Id), then terminated, so it is never redelivered and never blocks
//     the stream. If the dead letter cannot be stored, the message is nak'ed
//     instead (kept, retried later).
//   - A write error is transient (ClickHouse down, timeout): every pending
//     message is nak'ed with Config.NakDelay and redelivered later; nothing is
//     dead-lettered for it. If ClickHouse rejects rows as invalid, the pending
//     messages are written one by one to find the culprit, which is dead-lettered.
//
// # Exactly once
//
// Delivery is at least once: a message written but not acknowledged (crash,
// lost ack, ack wait expired) is delivered again and written again. ClickHouse
// tables are keyed by (gateway, seq) and every chstore query counts a record
// once; JetStream's duplicate window drops the gateway's resends of the same
// batch. There is no PostgreSQL write here: the schema has no table for vehicle
// events, and rides belong to the ride service, which can subscribe through
// Config.OnEvents (it must be idempotent on (gateway, seq) itself).
//
// # Live state and the wide telemetry row
//
// A link.Telemetry record carries only the field groups that were due at the
// gateway; ClickHouse's telemetry row is wide (every column, no presence mask).
// Each record is folded into the live state first and the row is written from
// the vehicle's merged state, so a row carries the latest known value of every
// group (e.g. the battery reported 15 s earlier) instead of zeros that would
// corrupt argMax queries. Until a group was ever seen since the process started,
// its columns are 0.
//
// # Concurrency and shutdown
//
// Run owns the consume loop (pull, decode, fold into the live state, build a
// batch) and Config.Writers writer goroutines that write and acknowledge
// batches meanwhile (one batch queued between them), so decoding and ClickHouse
// INSERTs overlap; several writers hide the fixed latency of an INSERT (about
// 40 ms on the local ClickHouse 18.16 even for one row). Batches may be
// acknowledged out of order; nothing depends on ack order. The live state is
// safe for concurrent readers.
// When Run's context ends it stops pulling, takes the messages already
// prefetched, lets the writer write and acknowledge everything handed to it
// (bounded by Config.StopTimeout; on failure the messages are nak'ed) and returns.
package ingest
