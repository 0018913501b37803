// Package configstore owns the gateway's local copy of its configuration —
// the last zones (GBFS geofencing document), vehicle credential hashes,
// normal speed limits and tariffs pushed down from the cloud — so the
// gateway starts and works from it while the cloud is unreachable.
//
// # Model
//
// A Document is a named, versioned, opaque blob. Names are free-form UTF-8
// without control characters; a "/" hierarchy ("vehicles/861123…") makes
// sets that List and ReplacePrefix address by prefix. The version normally
// is the source's revision (JetStream KV); Put refuses to go backwards
// (ErrStaleVersion) and treats a replay of the stored version with the same
// data as a no-op, so a resync after reconnect is harmless. ReplacePrefix
// installs a full snapshot of a set in one transaction (create, replace,
// delete), accepting any version because the snapshot is authoritative.
//
// Every write returns the changes it made ([]Change; empty for a no-op) for
// the caller to apply, and Subscribe delivers the same changes to hooks.
//
// # Storage and invariants
//
// Documents live in the bbolt bucket "configstore.docs" (key = name, value =
// format byte, version, updated time, data, CRC-32C). The store works on its
// own file (Open) or on a *bbolt.DB shared with other packages (New) — the
// gateway shares one file with the outbox, each package staying in its own
// buckets. Each write is one bbolt transaction: durable (fsync) when it
// returns, and all-or-nothing (a ReplacePrefix that fails leaves the old set
// intact). A value that fails its checksum surfaces as ErrCorrupt.
//
// # Concurrency
//
// All methods are safe for concurrent use; the Store starts no goroutine.
// Writes are serialised by a mutex that is held through the commit and the
// subscriber callbacks, so callbacks see changes in commit order. Callbacks
// run synchronously in the writing goroutine; they may read the Store but
// must not write to it (that would deadlock) and should be quick. Subscribe
// returns the current documents under its prefix atomically with the
// registration, so "apply current, then apply changes" misses nothing.
// Close makes later calls fail with ErrClosed, drops the subscriptions and
// closes the file if Open created it; a *bbolt.DB given to New stays open.
package configstore
