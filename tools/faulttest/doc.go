// Package faulttest owns fleetedge's fault tests of the edge↔cloud link with real
// processes (issue 5, item 5). It has no code of its own outside its tests: they
// build the cloud, gateway and scooter-sim binaries once, start them as separate
// processes on free ports with their own data directories, break the link the way
// production breaks — the cloud (and its embedded NATS) stopped or SIGKILLed, the
// gateway SIGKILLed in the middle of a drain, ClickHouse stopped — and check in
// ClickHouse that every record the gateway accepted is stored exactly once.
//
// # What "exactly once" is checked against
//
// The gateway numbers every accepted record (scooter report or event) with a
// gateway-local outbox seq. With the uplink's cadence set to 0 every report
// carrying a field group is forwarded, so the expected content of ClickHouse is
// the seq range 1..last_seq of the gateway's outbox (GET /api/v1/status), minus the
// reports the uplink says it dropped (fleetedge_uplink_downsampled_reports_total,
// fleetedge_uplink_invalid_records_total — the tests require both to be 0, so the
// range must be complete). ClickHouse may hold the same (gateway, seq) twice after
// a redelivery; the checks count distinct (gateway, seq) over the telemetry,
// events and commands tables, as chstore's queries do, and report raw copies as
// evidence that the redelivery path ran (background merges of the
// ReplacingMergeTree tables may already have folded them). Independently, a
// probe scooter in the test process publishes QoS 1 GPS reports with a unique
// position each: its distinct records in ClickHouse must number at least the
// reports the gateway PUBACKed and at most the reports sent, and every PUBACKed
// report's own position must be stored exactly once, also after resends and
// redeliveries (this check found an ingest bug: rows were built from the
// vehicle's merged live state, so a record processed after a newer one was stored
// with the newer position).
//
// # Durations
//
// The normal run keeps outages short (NATS down ~20 s, ClickHouse down ~15 s) so
// the package stays within a few minutes on a 2-core machine. `-long` runs the
// brief's durations (NATS down 2 minutes, ClickHouse down 1 minute); -nats-down
// and -ch-down override either.
//
// # Servers
//
// PostgreSQL and ClickHouse are the local development servers of deploy/local
// (fresh databases per test from shared/pgtest and shared/chtest). The
// ClickHouse-down test starts a ClickHouse server of its own (clickhouse.sh with
// its own FLEETEDGE_CH_DIR and free ports) and stops only that one, so tests of
// other packages sharing the local server are never disturbed.
package faulttest
