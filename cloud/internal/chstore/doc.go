// Package chstore owns fleetedge's ClickHouse schema and every read and write the cloud does
// against ClickHouse: the time series of telemetry, vehicle events and the command log, and
// the copy of ended rides the analytics read (rides.go; PostgreSQL stays the system of record).
//
// What it owns:
//   - the schema, as versioned migrations applied by Store.Migrate and recorded in the
//     schema_migrations table (a small runner of its own; every statement is idempotent so two
//     cloud replicas migrating at once are harmless);
//   - batch writers (InsertTelemetry, InsertEvents, InsertCommands) taking chstore's own row
//     structs, validated before anything is sent;
//   - the typical queries the admin API and tests run;
//   - retention (DropPartitionsBefore), since ClickHouse 18.16 has no TTL.
//
// Invariants:
//   - Exactly-once counting. Delivery from the gateways is at-least-once, so the same record
//     (same gateway, seq) can be inserted twice, in separate INSERTs. The tables are
//     ReplacingMergeTree whose sorting key ends in (gateway, seq), so background merges
//     eventually keep one copy — but merges may never happen for a part, so no query relies on
//     them: every query dedupes on (gateway, seq) itself (uniqExact, LIMIT 1 BY, or argMax,
//     which is insensitive to identical copies). A duplicate always carries the same time, so
//     it falls in the same daily partition and the same query window as the original.
//   - Portable SQL: the schema and queries run on ClickHouse 18.16 (Debian bookworm) and on
//     current ClickHouse — no DateTime64, TTL, CODEC, LowCardinality, WITH FILL,
//     toStartOfInterval or JSONExtract. Times are DateTime('UTC') seconds plus a UInt16
//     millisecond column. Every INSERT lists its columns.
//   - Partitioned by UTC day (toYYYYMMDD(time)), ordered by (city, vehicle, time, ms, gateway,
//     seq): per-vehicle and per-city scans read few granules, retention drops whole days.
//   - Only the native protocol is used (clickhouse-go's HTTP transport fails against 18.16).
package chstore
