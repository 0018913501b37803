package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Column lists of the INSERTs. Listing them is required by ClickHouse 18.16 with
// clickhouse-go and keeps inserts correct when columns are added later.
const (
	insertTelemetry = `INSERT INTO telemetry (city, gateway, seq, vehicle, time, ms, lat, lon, speed_kmh,
 speed_limit_kmh, battery_pct, voltage_v, signal, powered, locked, paused, fallen, at_station, error_code)`
	insertEvents   = `INSERT INTO events (city, gateway, seq, vehicle, time, ms, kind, code, details)`
	insertCommands = `INSERT INTO commands (city, gateway, seq, vehicle, time, ms, command, fields, outcome,
 reply_code, reply_status, latency_ms, source)`
)

// InsertTelemetry writes rows in one INSERT (one part on the server). The batch is validated
// first: one invalid row rejects the whole batch with a *RowError and nothing is written.
// Rows already stored (same gateway, seq) may be inserted again: queries count them once.
// Prefer large batches (thousands of rows): each INSERT creates a part.
func (s *Store) InsertTelemetry(ctx context.Context, rows []TelemetryRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	var (
		city, gateway, vehicle                     = make([]string, n), make([]string, n), make([]string, n)
		seq                                        = make([]uint64, n)
		ts                                         = make([]time.Time, n)
		ms, errCode                                = make([]uint16, n), make([]uint16, n)
		lat, lon                                   = make([]float64, n), make([]float64, n)
		speed, volt                                = make([]float32, n), make([]float32, n)
		limit, battery, signal                     = make([]uint8, n), make([]uint8, n), make([]uint8, n)
		powered, locked, paused, fallen, atStation = make([]uint8, n), make([]uint8, n), make([]uint8, n), make([]uint8, n), make([]uint8, n)
	)
	for i := range rows {
		r := &rows[i]
		if err := validateTelemetry(i, r); err != nil {
			return err
		}
		city[i], gateway[i], seq[i], vehicle[i] = r.City, r.Gateway, r.Seq, r.Vehicle
		ts[i], ms[i] = splitTime(r.Time)
		lat[i], lon[i], speed[i], limit[i] = r.Lat, r.Lon, r.SpeedKmh, r.SpeedLimitKmh
		battery[i], volt[i], signal[i] = r.BatteryPct, r.VoltageV, r.Signal
		powered[i], locked[i], paused[i] = flag(r.Powered), flag(r.Locked), flag(r.Paused)
		fallen[i], atStation[i], errCode[i] = flag(r.Fallen), flag(r.AtStation), r.ErrorCode
	}
	return s.sendColumns(ctx, "telemetry", insertTelemetry, n,
		city, gateway, seq, vehicle, ts, ms, lat, lon, speed,
		limit, battery, volt, signal, powered, locked, paused, fallen, atStation, errCode)
}

// InsertEvents writes rows in one INSERT; validation and redelivery as for InsertTelemetry.
func (s *Store) InsertEvents(ctx context.Context, rows []EventRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	var (
		city, gateway, vehicle = make([]string, n), make([]string, n), make([]string, n)
		seq                    = make([]uint64, n)
		ts                     = make([]time.Time, n)
		ms, code               = make([]uint16, n), make([]uint16, n)
		kind, details          = make([]string, n), make([]string, n)
	)
	for i := range rows {
		r := &rows[i]
		if err := validateEvent(i, r); err != nil {
			return err
		}
		city[i], gateway[i], seq[i], vehicle[i] = r.City, r.Gateway, r.Seq, r.Vehicle
		ts[i], ms[i] = splitTime(r.Time)
		kind[i], code[i], details[i] = r.Kind, r.Code, orEmptyObject(r.Details)
	}
	return s.sendColumns(ctx, "events", insertEvents, n,
		city, gateway, seq, vehicle, ts, ms, kind, code, details)
}

// InsertCommands writes rows in one INSERT; validation and redelivery as for InsertTelemetry.
func (s *Store) InsertCommands(ctx context.Context, rows []CommandRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	var (
		city, gateway, vehicle  = make([]string, n), make([]string, n), make([]string, n)
		seq                     = make([]uint64, n)
		ts                      = make([]time.Time, n)
		ms, command, replyCode  = make([]uint16, n), make([]uint16, n), make([]uint16, n)
		fields, outcome, source = make([]string, n), make([]string, n), make([]string, n)
		replyStatus             = make([]int16, n)
		latency                 = make([]uint32, n)
	)
	for i := range rows {
		r := &rows[i]
		if err := validateCommand(i, r); err != nil {
			return err
		}
		city[i], gateway[i], seq[i], vehicle[i] = r.City, r.Gateway, r.Seq, r.Vehicle
		ts[i], ms[i] = splitTime(r.Time)
		command[i], fields[i], outcome[i] = r.Command, orEmptyObject(r.Fields), r.Outcome
		replyCode[i], replyStatus[i], latency[i], source[i] = r.ReplyCode, r.ReplyStatus, r.LatencyMs, r.Source
	}
	return s.sendColumns(ctx, "commands", insertCommands, n,
		city, gateway, seq, vehicle, ts, ms, command, fields, outcome,
		replyCode, replyStatus, latency, source)
}

// sendColumns sends one INSERT built column by column (the driver's fastest path).
func (s *Store) sendColumns(ctx context.Context, table, query string, n int, cols ...any) (err error) {
	batch, err := s.conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("chstore: insert %s: prepare: %w", table, err)
	}
	defer func() {
		if cerr := closeBatch(batch); cerr != nil && err == nil {
			err = fmt.Errorf("chstore: insert %s: close: %w", table, cerr)
		}
	}()
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("chstore: insert %s: column %d: %w", table, i, err)
		}
	}
	if got := batch.Rows(); got != n {
		return fmt.Errorf("chstore: insert %s: batch holds %d rows, want %d", table, got, n)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("chstore: insert %s: send %d rows: %w", table, n, err)
	}
	return nil
}

// closeBatch releases a batch; after a successful Send it is already closed.
func closeBatch(b driver.Batch) error {
	if b.IsSent() {
		return nil
	}
	return b.Close()
}
