// Package fleet owns the gateway's live state of every vehicle: last position
// (with the LBS flag and fix time), speed and speed limit, battery, voltage,
// power / motor lock / chain lock / pause, posture (fallen), at-station,
// signal, controller error code, firmware and IMEI, last seen, and the
// connectivity state online / offline / lost.
//
// # Updates
//
// Apply folds one decoded scooter report (protocol.Report) into the vehicle's
// state and returns an Update: the state after the report and a Change set
// saying what the report changed (a new fix, power on/off, fell/upright, …),
// so rules and event generation can react without diffing. Only fields the
// report carried (protocol.Header.Present) are applied; an ack with a failure
// status changes nothing. Connect and Disconnect come from the broker's
// session events; Sweep marks vehicles "lost" after Options.LostAfter without
// any message or connection (default 20 min) — RunSweeper calls it
// periodically until its context ends.
//
// # Concurrency
//
// All methods are safe for concurrent use. Vehicles are spread over a fixed
// number of shards by a hash of their number; a shard's mutex guards its map
// and the vehicles in it and is held only for the in-memory update (no I/O,
// no callbacks), so thousands of updates per second from different
// connection goroutines rarely contend. Readers (Get, List) copy values out
// under the shard lock; the returned Vehicle values are snapshots owned by
// the caller. Per-state counts are kept in atomics for metrics.
//
// Time comes from the caller (Apply, Connect, Sweep take now) or from the
// injected Clock (RunSweeper), never from the wall clock directly.
package fleet
