package chstore

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// DroppedPartition names one partition removed by DropPartitionsBefore.
type DroppedPartition struct {
	Table string
	Day   string // partition id, YYYYMMDD (UTC)
}

// DropPartitionsBefore deletes every daily partition of telemetry, events and commands whose
// UTC day is before day's UTC date (ClickHouse 18.16 has no TTL, so retention is this call,
// run periodically by the cloud). Dropping a partition is instant and frees its disk space.
// It returns what was dropped, ordered by table and day.
func (s *Store) DropPartitionsBefore(ctx context.Context, day time.Time) ([]DroppedPartition, error) {
	if day.IsZero() {
		return nil, fmt.Errorf("%w: retention day is zero", ErrInvalidQuery)
	}
	cut, err := strconv.ParseUint(day.UTC().Format("20060102"), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: retention day %v: %w", ErrInvalidQuery, day, err)
	}
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT table, partition_id FROM system.parts
 WHERE database = currentDatabase() AND active AND table IN ('telemetry', 'events', 'commands')
 AND match(partition_id, '^[0-9]{8}$') AND toUInt32(partition_id) < ?
 ORDER BY table, partition_id`, uint32(cut))
	if err != nil {
		return nil, fmt.Errorf("chstore: retention: list partitions: %w", err)
	}
	var parts []DroppedPartition
	for rows.Next() {
		var p DroppedPartition
		if err := rows.Scan(&p.Table, &p.Day); err != nil {
			rows.Close()
			return nil, fmt.Errorf("chstore: retention: scan: %w", err)
		}
		parts = append(parts, p)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("chstore: retention: list partitions: %w", err)
	}

	var dropped []DroppedPartition
	for _, p := range parts {
		if !isDay(p.Day) {
			return dropped, fmt.Errorf("chstore: retention: unexpected partition id %q in %s", p.Day, p.Table)
		}
		// The table is one of the three listed above and the id matched ^[0-9]{8}$: safe to format.
		if err := s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION ID '%s'", p.Table, p.Day)); err != nil {
			return dropped, fmt.Errorf("chstore: retention: drop %s partition %s: %w", p.Table, p.Day, err)
		}
		s.log.Info("partition dropped", "table", p.Table, "day", p.Day)
		dropped = append(dropped, p)
	}
	return dropped, nil
}

// isDay reports whether id is eight ASCII digits (a toYYYYMMDD partition id).
func isDay(id string) bool {
	if len(id) != 8 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}
