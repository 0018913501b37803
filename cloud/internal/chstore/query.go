package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Every query below counts a record delivered twice (same gateway, seq) once, without relying
// on background merges: see the package documentation.

// Window is a half-open time range [From, To).
type Window struct {
	From, To time.Time
}

func (w Window) check() error {
	if w.From.IsZero() || w.To.IsZero() || !w.From.Before(w.To) {
		return fmt.Errorf("%w: window must have From before To, got %v…%v", ErrInvalidQuery, w.From, w.To)
	}
	if w.From.Before(minTime) || w.To.After(maxTime) {
		return fmt.Errorf("%w: window outside the DateTime range", ErrInvalidQuery)
	}
	return nil
}

// windowCond selects rows whose (time, ms) lies in [From, To); it takes windowArgs. The plain
// range on time lets ClickHouse prune partitions and primary-key granules; the millisecond
// comparison makes the edges exact.
const windowCond = `time >= toDateTime(?) AND time <= toDateTime(?)
 AND toUInt64(time) * 1000 + ms >= ? AND toUInt64(time) * 1000 + ms < ?`

func windowArgs(w Window) []any {
	return []any{
		uint32(w.From.Unix()), uint32(w.To.Unix()),
		uint64(w.From.UnixMilli()), uint64(w.To.UnixMilli()),
	}
}

func checkIdent(what, s string) error {
	if s == "" || len(s) > maxIdentLen {
		return fmt.Errorf("%w: %s must be 1–128 bytes", ErrInvalidQuery, what)
	}
	return nil
}

func toTime(sec time.Time, ms uint16) time.Time {
	return sec.UTC().Add(time.Duration(ms) * time.Millisecond)
}

// VehiclePosition is a vehicle's latest telemetry fix.
type VehiclePosition struct {
	Vehicle    string
	Time       time.Time
	Lat, Lon   float64
	SpeedKmh   float32
	BatteryPct uint8
}

// LatestPositions returns, per vehicle of city with telemetry in w, its latest fix in w,
// ordered by vehicle. argMax is insensitive to identical redelivered copies.
func (s *Store) LatestPositions(ctx context.Context, city string, w Window) ([]VehiclePosition, error) {
	if err := checkIdent("city", city); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	q := `SELECT vehicle, l.1, l.2, l.3, l.4, l.5, l.6 FROM (
 SELECT vehicle, argMax(tuple(time, ms, lat, lon, speed_kmh, battery_pct), toUInt64(time) * 1000 + ms) AS l
 FROM telemetry WHERE city = ? AND ` + windowCond + `
 GROUP BY vehicle) ORDER BY vehicle`
	return collect(ctx, s.conn, "latest positions", q, append([]any{city}, windowArgs(w)...), func(rows driver.Rows) (VehiclePosition, error) {
		var (
			p  VehiclePosition
			t  time.Time
			ms uint16
		)
		if err := rows.Scan(&p.Vehicle, &t, &ms, &p.Lat, &p.Lon, &p.SpeedKmh, &p.BatteryPct); err != nil {
			return p, err
		}
		p.Time = toTime(t, ms)
		return p, nil
	})
}

// VehicleCount is a number of distinct records of one vehicle.
type VehicleCount struct {
	Vehicle string
	Count   uint64
}

// TelemetryCounts returns how many distinct telemetry records each vehicle of city has in w,
// ordered by vehicle.
func (s *Store) TelemetryCounts(ctx context.Context, city string, w Window) ([]VehicleCount, error) {
	if err := checkIdent("city", city); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	q := `SELECT vehicle, uniqExact(gateway, seq) FROM telemetry
 WHERE city = ? AND ` + windowCond + ` GROUP BY vehicle ORDER BY vehicle`
	return collect(ctx, s.conn, "telemetry counts", q, append([]any{city}, windowArgs(w)...), func(rows driver.Rows) (VehicleCount, error) {
		var c VehicleCount
		if err := rows.Scan(&c.Vehicle, &c.Count); err != nil {
			return c, err
		}
		return c, nil
	})
}

// RoutePoint is one fix of a route.
type RoutePoint struct {
	Time     time.Time
	Lat, Lon float64
	SpeedKmh float32
}

// maxRoutePoints caps Route: a day at one fix per 5 s is 17,280 points.
const maxRoutePoints = 100_000

// Route returns the fixes of one vehicle in w ordered by time, each record once (LIMIT 1 BY
// gateway, seq), at most 100,000 points.
func (s *Store) Route(ctx context.Context, city, vehicle string, w Window) ([]RoutePoint, error) {
	if err := checkVehicleWindow(city, vehicle, w); err != nil {
		return nil, err
	}
	q := `SELECT time, ms, lat, lon, speed_kmh FROM telemetry
 WHERE city = ? AND vehicle = ? AND ` + windowCond + `
 ORDER BY time, ms, gateway, seq LIMIT 1 BY gateway, seq LIMIT ?`
	args := append([]any{city, vehicle}, windowArgs(w)...)
	return collect(ctx, s.conn, "route", q, append(args, maxRoutePoints), func(rows driver.Rows) (RoutePoint, error) {
		var (
			p  RoutePoint
			t  time.Time
			ms uint16
		)
		if err := rows.Scan(&t, &ms, &p.Lat, &p.Lon, &p.SpeedKmh); err != nil {
			return p, err
		}
		p.Time = toTime(t, ms)
		return p, nil
	})
}

// BatteryBucket counts vehicles whose latest battery level lies in [FromPct, FromPct+10),
// the last bucket (FromPct 90) including 100.
type BatteryBucket struct {
	FromPct  uint8
	Vehicles uint64
}

// BatteryDistribution buckets the vehicles of city by their latest battery level in w, in
// steps of 10 %, ascending; empty buckets are omitted.
func (s *Store) BatteryDistribution(ctx context.Context, city string, w Window) ([]BatteryBucket, error) {
	if err := checkIdent("city", city); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	q := `SELECT toUInt8(least(intDiv(battery, 10), 9) * 10) AS bucket, count() FROM (
 SELECT vehicle, argMax(battery_pct, toUInt64(time) * 1000 + ms) AS battery
 FROM telemetry WHERE city = ? AND ` + windowCond + ` GROUP BY vehicle)
 GROUP BY bucket ORDER BY bucket`
	return collect(ctx, s.conn, "battery distribution", q, append([]any{city}, windowArgs(w)...), func(rows driver.Rows) (BatteryBucket, error) {
		var b BatteryBucket
		if err := rows.Scan(&b.FromPct, &b.Vehicles); err != nil {
			return b, err
		}
		return b, nil
	})
}

// KindCount is a number of distinct events of one kind.
type KindCount struct {
	Kind  string
	Count uint64
}

// EventCounts returns how many distinct events of each kind city had in w, by kind.
func (s *Store) EventCounts(ctx context.Context, city string, w Window) ([]KindCount, error) {
	if err := checkIdent("city", city); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	q := `SELECT kind, uniqExact(gateway, seq) FROM events
 WHERE city = ? AND ` + windowCond + ` GROUP BY kind ORDER BY kind`
	return collect(ctx, s.conn, "event counts", q, append([]any{city}, windowArgs(w)...), func(rows driver.Rows) (KindCount, error) {
		var c KindCount
		if err := rows.Scan(&c.Kind, &c.Count); err != nil {
			return c, err
		}
		return c, nil
	})
}

// maxVehicleRecords caps VehicleEvents and VehicleCommands.
const maxVehicleRecords = 10_000

// VehicleEvents returns the events of one vehicle in w ordered by time, each once, at most
// 10,000.
func (s *Store) VehicleEvents(ctx context.Context, city, vehicle string, w Window) ([]EventRow, error) {
	if err := checkVehicleWindow(city, vehicle, w); err != nil {
		return nil, err
	}
	q := `SELECT city, gateway, seq, vehicle, time, ms, kind, code, details FROM events
 WHERE city = ? AND vehicle = ? AND ` + windowCond + `
 ORDER BY time, ms, gateway, seq LIMIT 1 BY gateway, seq LIMIT ?`
	args := append([]any{city, vehicle}, windowArgs(w)...)
	return collect(ctx, s.conn, "vehicle events", q, append(args, maxVehicleRecords), func(rows driver.Rows) (EventRow, error) {
		var (
			e  EventRow
			t  time.Time
			ms uint16
		)
		if err := rows.Scan(&e.City, &e.Gateway, &e.Seq, &e.Vehicle, &t, &ms, &e.Kind, &e.Code, &e.Details); err != nil {
			return e, err
		}
		e.Time = toTime(t, ms)
		return e, nil
	})
}

// VehicleCommands returns the command log of one vehicle in w ordered by time, each once, at
// most 10,000.
func (s *Store) VehicleCommands(ctx context.Context, city, vehicle string, w Window) ([]CommandRow, error) {
	if err := checkVehicleWindow(city, vehicle, w); err != nil {
		return nil, err
	}
	q := `SELECT city, gateway, seq, vehicle, time, ms, command, fields, outcome, reply_code,
 reply_status, latency_ms, source FROM commands
 WHERE city = ? AND vehicle = ? AND ` + windowCond + `
 ORDER BY time, ms, gateway, seq LIMIT 1 BY gateway, seq LIMIT ?`
	args := append([]any{city, vehicle}, windowArgs(w)...)
	return collect(ctx, s.conn, "vehicle commands", q, append(args, maxVehicleRecords), func(rows driver.Rows) (CommandRow, error) {
		var (
			c  CommandRow
			t  time.Time
			ms uint16
		)
		if err := rows.Scan(&c.City, &c.Gateway, &c.Seq, &c.Vehicle, &t, &ms, &c.Command, &c.Fields,
			&c.Outcome, &c.ReplyCode, &c.ReplyStatus, &c.LatencyMs, &c.Source); err != nil {
			return c, err
		}
		c.Time = toTime(t, ms)
		return c, nil
	})
}

// CommandStat summarises one (command, outcome) pair: how many distinct commands and their
// latency median and 95th percentile in milliseconds.
type CommandStat struct {
	Command      uint16
	Outcome      string
	Count        uint64
	LatencyP50Ms float64
	LatencyP95Ms float64
}

// CommandStats summarises the command log of city in w by command and outcome. Records are
// deduplicated before the quantiles so a redelivered command does not weigh twice.
func (s *Store) CommandStats(ctx context.Context, city string, w Window) ([]CommandStat, error) {
	if err := checkIdent("city", city); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	q := `SELECT command, outcome, count(), quantilesExact(0.5, 0.95)(toFloat64(latency_ms)) AS q FROM (
  SELECT command, outcome, latency_ms FROM commands
  WHERE city = ? AND ` + windowCond + ` LIMIT 1 BY gateway, seq)
 GROUP BY command, outcome ORDER BY command, outcome`
	return collect(ctx, s.conn, "command stats", q, append([]any{city}, windowArgs(w)...), func(rows driver.Rows) (CommandStat, error) {
		var (
			c CommandStat
			q []float64
		)
		if err := rows.Scan(&c.Command, &c.Outcome, &c.Count, &q); err != nil {
			return c, err
		}
		if len(q) == 2 {
			c.LatencyP50Ms, c.LatencyP95Ms = q[0], q[1]
		}
		return c, nil
	})
}

// HourCount is a number of distinct vehicles in one UTC hour.
type HourCount struct {
	Hour     time.Time
	Vehicles uint64
}

// MovingVehiclesPerHour returns, per UTC hour of w with any movement, how many distinct vehicles
// of city reported a speed above zero: the fleet's utilisation curve. Counting distinct
// vehicles is insensitive to redelivered records.
func (s *Store) MovingVehiclesPerHour(ctx context.Context, city string, w Window) ([]HourCount, error) {
	if err := checkIdent("city", city); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	q := `SELECT toStartOfHour(time) AS hour, uniqExact(vehicle) FROM telemetry
 WHERE city = ? AND ` + windowCond + ` AND speed_kmh > 0
 GROUP BY hour ORDER BY hour`
	return collect(ctx, s.conn, "moving vehicles per hour", q, append([]any{city}, windowArgs(w)...), func(rows driver.Rows) (HourCount, error) {
		var h HourCount
		if err := rows.Scan(&h.Hour, &h.Vehicles); err != nil {
			return h, err
		}
		h.Hour = h.Hour.UTC()
		return h, nil
	})
}

// collect runs q and scans every row with scan; errors name the query (op).
func collect[T any](ctx context.Context, conn driver.Conn, op, q string, args []any, scan func(driver.Rows) (T, error)) ([]T, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("chstore: %s: %w", op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("chstore: %s: scan: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chstore: %s: %w", op, err)
	}
	return out, nil
}

// checkVehicleWindow validates the arguments of the one-vehicle queries.
func checkVehicleWindow(city, vehicle string, w Window) error {
	if err := checkIdent("city", city); err != nil {
		return err
	}
	if err := checkIdent("vehicle", vehicle); err != nil {
		return err
	}
	return w.check()
}
