package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// A vehicle's history for the admin API's vehicle detail and route replay. Like every query
// of the package, each (gateway, seq) counts once whatever the merges did (LIMIT 1 BY).

// MaxRecentTelemetry caps RecentTelemetry's limit.
const MaxRecentTelemetry = 10_000

// RecentTelemetry returns the newest telemetry records of one vehicle in w, newest first, at
// most limit (1 to MaxRecentTelemetry) of them. Rows are wide: a record carries the groups
// it was sent with and the vehicle's latest known value of the others (see ingest).
func (s *Store) RecentTelemetry(ctx context.Context, city, vehicle string, w Window, limit int) ([]TelemetryRow, error) {
	if err := checkVehicleWindow(city, vehicle, w); err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxRecentTelemetry {
		return nil, fmt.Errorf("%w: limit %d outside 1–%d", ErrInvalidQuery, limit, MaxRecentTelemetry)
	}
	q := `SELECT gateway, seq, time, ms, lat, lon, speed_kmh, speed_limit_kmh, battery_pct, voltage_v, signal,
 powered, locked, paused, fallen, at_station, error_code
 FROM telemetry WHERE city = ? AND vehicle = ? AND ` + windowCond + `
 ORDER BY time DESC, ms DESC, gateway, seq LIMIT 1 BY gateway, seq LIMIT ?`
	args := append([]any{city, vehicle}, windowArgs(w)...)
	return collect(ctx, s.conn, "recent telemetry", q, append(args, uint64(limit)), func(rows driver.Rows) (TelemetryRow, error) {
		var (
			r                                          TelemetryRow
			t                                          time.Time
			ms                                         uint16
			powered, locked, paused, fallen, atStation uint8
		)
		if err := rows.Scan(&r.Gateway, &r.Seq, &t, &ms, &r.Lat, &r.Lon, &r.SpeedKmh, &r.SpeedLimitKmh, &r.BatteryPct,
			&r.VoltageV, &r.Signal, &powered, &locked, &paused, &fallen, &atStation, &r.ErrorCode); err != nil {
			return r, err
		}
		r.City, r.Vehicle, r.Time = city, vehicle, toTime(t, ms)
		r.Powered, r.Locked, r.Paused, r.Fallen, r.AtStation = powered == 1, locked == 1, paused == 1, fallen == 1, atStation == 1
		return r, nil
	})
}

// RouteFixes returns the positions one vehicle reported in w, ordered by time, for a route
// replay: each record once, records without a position ((0, 0): the vehicle had never sent
// one) left out, and a record repeating the previous position (a wide row of a record that
// carried only other groups) folded into the first. At most 100,000 records are read.
func (s *Store) RouteFixes(ctx context.Context, city, vehicle string, w Window) ([]RoutePoint, error) {
	if err := checkVehicleWindow(city, vehicle, w); err != nil {
		return nil, err
	}
	q := `SELECT time, ms, lat, lon, speed_kmh FROM telemetry
 WHERE city = ? AND vehicle = ? AND ` + windowCond + ` AND NOT (lat = 0 AND lon = 0)
 ORDER BY time, ms, gateway, seq LIMIT 1 BY gateway, seq LIMIT ?`
	args := append([]any{city, vehicle}, windowArgs(w)...)
	pts, err := collect(ctx, s.conn, "route fixes", q, append(args, maxRoutePoints), func(rows driver.Rows) (RoutePoint, error) {
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
	if err != nil {
		return nil, err
	}
	out := pts[:0]
	for _, p := range pts {
		if n := len(out); n > 0 && out[n-1].Lat == p.Lat && out[n-1].Lon == p.Lon {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
