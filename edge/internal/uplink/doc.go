// Package uplink owns the gateway's path to the cloud for everything that
// goes up: it drains the outbox (edge/internal/outbox) in seq order, turns
// records into link.TelemetryBatch / link.EventBatch messages and publishes
// them to JetStream (stream link.StreamUp), deleting records from the outbox
// only after JetStream acknowledged them.
//
// # Downsampling
//
// The outbox holds every accepted scooter report raw (Kind broker.KindReport,
// payload broker.EncodeReport(topic, raw)). The uplink decodes each report and
// folds it into a private shadow of the fleet state (edge/internal/fleet, the
// same rules as the live state), then decides per vehicle and per field group
// whether the group is due: position (GPS fix), speed, battery (percent and
// voltage), signal and status each have a cadence (Cadence; MISSION.md: 5 s,
// 5 s, 20 s, 15 s, 30 s). A group is due when the report carries it and the
// cadence has elapsed since the group was last forwarded for that vehicle,
// measured on the records' own receive times (so replaying a backlog after an
// outage samples exactly as live traffic would). Urgent data skips the
// cadence: a fix flagged as alarm (business_type 1) and any status change
// (power, fall, station, pause, lock-independent error code). Events (Class
// event: rides, alarms, command results, state changes, security) are never
// downsampled. A report that yields no due group produces no record; it is
// deleted with the batch it falls in. The shadow state starts empty at each
// start, so after a restart the first report of each group is forwarded.
//
// # Delivery
//
// Records are read in chunks (Config.ReadBatch); a chunk becomes up to a few
// messages (telemetry and events, split at Config.MaxMessageBytes), each
// published asynchronously with Nats-Msg-Id = link.MsgID(gateway, first seq,
// last seq) of the records it carries. Up to Config.Window messages are in
// flight. Chunks complete in order: when every message of the oldest chunks
// is acknowledged, the outbox is trimmed with DeleteThrough(highest seq of
// those chunks) — a record leaves the outbox only after the ack of the
// message that carries it (or, when it carries nothing, of every message
// before it). On a publish error, an ack timeout, or a lost connection (seen
// within 250 ms while messages are in flight: their acks will never come, so
// it does not wait for AckTimeout) the uplink waits (backoff
// with jitter, Config.RetryMin..RetryMax, and until the connection is up),
// then resends every unacknowledged in-flight message with the same bytes and
// the same Nats-Msg-Id, so JetStream's duplicate window drops what had in
// fact arrived; beyond that window the cloud deduplicates on (gateway, seq).
// The outbox keeps accepting records while the link is down.
//
// A record that cannot be turned into a message (a report that no longer
// decodes, an event that is not a valid link.Event, a single record larger
// than MaxMessageBytes, a corrupt stored value) is logged, counted
// (Stats.Invalid) and deleted with its chunk: it would otherwise block the
// queue forever.
//
// # Concurrency
//
// Run owns one goroutine for the publish loop plus one that applies outbox
// deletions (so a bbolt commit never stalls publishing) and, while the window
// has room, one waiting for new records. All stop when Run's context ends;
// Run returns after a last bounded DeleteThrough of what was acknowledged.
// Stats and Collector are safe to call concurrently with Run.
package uplink
