package chstore

import (
	"context"
	"fmt"
	"time"
)

// migration is one schema step. Its statements must be idempotent (IF NOT EXISTS…): ClickHouse
// has no transactional DDL, so a crash between a statement and its schema_migrations row, or
// two replicas migrating at once, simply re-runs them.
type migration struct {
	version uint32
	name    string
	stmts   []string
}

// migrations lists the schema in order. Append only; never edit an applied step.
//
// Column notes: time is DateTime('UTC') (whole seconds) and ms the milliseconds within it,
// because DateTime64 does not exist in 18.16. Flags are UInt8 0/1 (no Bool type in 18.16).
// city, kind, outcome and source are plain String: LowCardinality needs an experimental
// setting in 18.16.
func migrations() []migration {
	return []migration{
		{1, "telemetry", []string{`
CREATE TABLE IF NOT EXISTS telemetry (
    city            String,
    gateway         String,
    seq             UInt64,
    vehicle         String,
    time            DateTime('UTC'),
    ms              UInt16,
    lat             Float64,
    lon             Float64,
    speed_kmh       Float32,
    speed_limit_kmh UInt8,
    battery_pct     UInt8,
    voltage_v       Float32,
    signal          UInt8,
    powered         UInt8,
    locked          UInt8,
    paused          UInt8,
    fallen          UInt8,
    at_station      UInt8,
    error_code      UInt16
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (city, vehicle, time, ms, gateway, seq)`}},
		{2, "events", []string{`
CREATE TABLE IF NOT EXISTS events (
    city    String,
    gateway String,
    seq     UInt64,
    vehicle String,
    time    DateTime('UTC'),
    ms      UInt16,
    kind    String,
    code    UInt16,
    details String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (city, vehicle, time, ms, gateway, seq)`}},
		{3, "commands", []string{`
CREATE TABLE IF NOT EXISTS commands (
    city         String,
    gateway      String,
    seq          UInt64,
    vehicle      String,
    time         DateTime('UTC'),
    ms           UInt16,
    command      UInt16,
    fields       String,
    outcome      String,
    reply_code   UInt16,
    reply_status Int16,
    latency_ms   UInt32,
    source       String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (city, vehicle, time, ms, gateway, seq)`}},
		{4, "rides", []string{createRides}}, // rides.go
	}
}

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    UInt32,
    name       String,
    applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree
ORDER BY version`

// Migrate brings the DSN's database to the latest schema version. It is idempotent: versions
// already recorded in schema_migrations are skipped. It fails with ErrSchemaTooNew when the
// database records a version this binary does not know.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.conn.Exec(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("chstore: migrate: create schema_migrations: %w", err)
	}
	applied, err := s.AppliedVersions(ctx)
	if err != nil {
		return fmt.Errorf("chstore: migrate: %w", err)
	}
	steps := migrations()
	latest := steps[len(steps)-1].version
	done := make(map[uint32]bool, len(applied))
	for _, v := range applied {
		if v > latest {
			return fmt.Errorf("%w: database has version %d, this binary knows up to %d", ErrSchemaTooNew, v, latest)
		}
		done[v] = true
	}
	for _, m := range steps {
		if done[m.version] {
			continue
		}
		for i, stmt := range m.stmts {
			if err := s.conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("chstore: migrate: version %d (%s) statement %d: %w", m.version, m.name, i+1, err)
			}
		}
		if err := s.recordMigration(ctx, m); err != nil {
			return fmt.Errorf("chstore: migrate: record version %d: %w", m.version, err)
		}
		s.log.Info("migration applied", "version", m.version, "name", m.name)
	}
	return nil
}

// recordMigration inserts m's row into schema_migrations. It goes through a batch: an
// INSERT … VALUES sent with Exec makes ClickHouse 18.16 wait for a data block that
// clickhouse-go never sends, until the read timeout.
func (s *Store) recordMigration(ctx context.Context, m migration) (err error) {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeBatch(batch); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := batch.Append(m.version, m.name, time.Now().UTC()); err != nil {
		return err
	}
	return batch.Send()
}

// AppliedVersions returns the schema versions recorded in schema_migrations, ascending.
func (s *Store) AppliedVersions(ctx context.Context) ([]uint32, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT version FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("chstore: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var versions []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("chstore: scan schema_migrations: %w", err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chstore: read schema_migrations: %w", err)
	}
	return versions, nil
}
