// Package analytics owns the admin API's analytics (permission analytics.read) and the copy of
// ended rides from PostgreSQL to ClickHouse that they read.
//
// Ride sync (RideSync): PostgreSQL's rides table is the system of record. A background task
// copies every ride in state ended — with its city code, vehicle number, rider, times, distance,
// fare total, currency and start/end positions — to ClickHouse's rides table (chstore). Each
// copy carries a version, the ride's change time greatest(updated_at, ended_at) in
// microseconds; the highest version in ClickHouse is the watermark, so the sync keeps no state
// of its own and resumes after any restart. A pass reads the rides whose version is at least
// watermark − Overlap (transactions commit after their now(), so a ride can appear in
// PostgreSQL with a version just below the watermark), skips those already stored with the
// same version, and inserts the rest. Re-inserting is harmless: ClickHouse queries keep one
// row per ride id (argMax by version), never relying on merges. Once per ReconcileEvery a pass
// uses the longer ReconcileOverlap to catch anything a slow transaction hid from the normal
// overlap. Passes run in a PostgreSQL transaction holding an advisory lock, so of several API
// replicas one copies at a time. The read is keyset on (greatest(updated_at, ended_at), id)
// WHERE state = 'ended'; an index on exactly that expression
// (CREATE INDEX … ON rides ((greatest(updated_at, ended_at)), id) WHERE state = 'ended')
// turns each pass into an index range scan (checked with EXPLAIN); without it a pass scans
// the rides table.
//
// Analytics (all per city, bounded windows, UTC buckets):
//   - rides and revenue per hour or day: rides counted in the bucket they started in, fare
//     totals in minor units per currency;
//   - utilisation per hour: fleet = distinct vehicles that sent telemetry in the hour or were on
//     a ride during it; riding = distinct vehicles on a ride during some part of the hour;
//     share = riding / fleet; time share = ride seconds in the hour / (fleet × 3600). Only
//     ended (synced) rides count, so the current hour is under-counted until its rides end;
//   - battery distribution: the latest battery level of every vehicle that reported in the last
//     hours, in 10 % buckets (all ten returned, empty ones as zero);
//   - vehicles needing attention: from the latest telemetry of each vehicle (low battery, fallen,
//     error code), the registry (no telemetry for lost_after: lost; registry status lost) and
//     recent alarm events (theft, zone alarms: alarm);
//   - heatmap: ride starts and ends on a grid of about cell_m × cell_m metres.
//
// Errors become problems in one place (problemFor): invalid input 422 invalid_request, unknown
// city 404 not_found, ClickHouse not connected 503 unavailable.
package analytics
