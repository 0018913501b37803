// Package outbox owns the gateway's durable store-and-forward queue: every
// report and event the gateway takes from a scooter (or produces itself) is
// appended here, fsync'd, and only then acknowledged (the MQTT ingest hook
// PUBACKs after Append returns); the NATS uplink reads records in seq order
// and deletes them only after JetStream has acknowledged them.
//
// # Storage
//
// The outbox lives in a bbolt file, either its own (Open) or one shared with
// other packages (New with an open *bbolt.DB); it touches only the buckets
// "outbox.telemetry", "outbox.events" and "outbox.meta". Keys are the 8-byte
// big-endian Seq; values use the package's own versioned binary encoding
// (format byte, class, times, vehicle, kind, payload, CRC-32C) described in
// record.go. Telemetry and events are kept in separate buckets so that the
// oldest telemetry can be found without scanning events; Read merges the two
// by seq.
//
// When the file is shared, open it with BoltOptions() (the freelist is not
// written at each commit; bbolt rebuilds it on open) and close the outbox
// before the *bbolt.DB.
//
// # Invariants
//
//   - Durability: Append returns nil only after the bbolt transaction holding
//     the record has committed (fsync). Delete/DeleteThrough likewise return
//     after their removal is durable. A SIGKILL at any instant loses no
//     acknowledged record and duplicates none (TestKill9).
//   - Seq: assigned at commit, strictly increasing, gap-free within a
//     transaction, never reused — the next seq is persisted in the same
//     transaction as the records, so it survives deletions, drops and
//     restarts. (Gaps appear only where records were dropped or deleted.)
//   - Order: Read returns records in seq order, which is commit order.
//     Appends from one goroutine get increasing seqs in call order.
//   - Exactly once in the file: a record is written by exactly one
//     transaction; a failed transaction writes nothing and every caller in it
//     gets the error.
//   - Append's outcome is never unknown: if its ctx ends while the record is
//     still queued, the record is withdrawn and ctx's error returned; if the
//     committer has already taken it, Append waits for that commit and
//     returns its real result. err == nil ⇔ stored.
//
// # Size bound and drop policy
//
// Size is accounted as 8 bytes of key plus the encoded value per record
// (Stats.Bytes; the bbolt file is larger because of pages and free space,
// and never shrinks). Options.MaxBytes and Options.MaxRecords are soft
// bounds checked at the end of every commit:
//
//  1. While above a bound, the oldest telemetry record is dropped (in the
//     same transaction), then the next oldest, until within bounds or no
//     telemetry is left. Stats.DroppedTelemetry counts them. A telemetry
//     record appended while only events fill the outbox is itself the oldest
//     telemetry and is dropped at once; its Append still returns its seq and
//     nil (accepted, then dropped by policy, as telemetry may be).
//  2. Events are never dropped. If the bound is exceeded with only events
//     left, events keep being accepted beyond it, Stats.OverBound is true
//     and a warning is logged once per transition; it clears when deletes
//     bring the outbox back within bounds. Nothing accepted is ever removed
//     except by Delete/DeleteThrough.
//  3. Optionally Options.MaxEventBytes is a hard cap for events: an event
//     Append that would exceed it fails with ErrFull before anything is
//     stored (Stats.RejectedFull), so the ingest hook does not PUBACK and the
//     scooter keeps and resends it. Off by default: the disk is the limit.
//
// # Concurrency
//
// All methods are safe for concurrent use. New/Open start one committer
// goroutine, owned by the Outbox; it is the only writer of the outbox
// buckets. Append, AppendAsync, Delete and DeleteThrough put a request on a
// queue and wake the committer, which takes everything queued (up to
// Options.MaxBatch requests and Options.MaxBatchBytes), runs it in one bbolt
// transaction (deletes, then appends in queue order, then the drop policy),
// commits it once (bbolt syncs the data pages, then the meta page), and
// completes the requests. A batch closes when the committer is free: an idle
// outbox commits a lone record at once, a busy one gathers everything that
// arrived during the previous commit — no timer, no added latency.
// AppendAsync callbacks and Options.OnCommit run on the committer goroutine
// and must be quick and must not call the Outbox.
//
// Read and Stats run in the caller's goroutine (Read in a bbolt read
// transaction, concurrent with commits). Wait blocks until a seq above a
// given one has been committed; it is how the uplink sleeps when caught up.
//
// Close marks the outbox closed (every later call fails with ErrClosed),
// lets the committer commit all requests already queued, waits for it to
// exit, wakes Wait callers with ErrClosed, and closes the bbolt file if Open
// created it. A *bbolt.DB passed to New is left open for its owner.
//
// # Metrics
//
// Stats returns plain values (depth, bytes, oldest age, cumulative
// appended/dropped/deleted/rejected counters, last batch and commit time);
// Options.OnCommit reports every transaction; Collector exposes all of it,
// with commit-latency and batch-size histograms, as a prometheus.Collector
// to register on the binary's own registry (no global registry).
package outbox
