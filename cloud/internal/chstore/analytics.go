package chstore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The analytics queries of the admin API. Every ride is counted once (dedupedRides), every
// telemetry record once (uniqExact of vehicles, argMax of latest states).

// Bucket is the width of a time bucket: one UTC hour or one UTC day.
type Bucket string

// Buckets of RidesPerBucket.
const (
	BucketHour Bucket = "hour"
	BucketDay  Bucket = "day"
)

// RideBucket is the rides of one city that started in one bucket, in one currency.
type RideBucket struct {
	Start          time.Time // UTC start of the bucket
	Currency       string
	Rides          uint64
	FareTotalMinor int64
	DistanceM      uint64
	DurationS      uint64
}

// RidesPerBucket counts the rides of city started in w per UTC hour or day and currency, with
// their fares, distances and durations; ascending; buckets without rides are omitted. A ride
// counts in the bucket it started in (whole seconds).
func (s *Store) RidesPerBucket(ctx context.Context, city string, w Window, b Bucket) ([]RideBucket, error) {
	if err := checkIdent("city", city); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	var fn string
	switch b {
	case BucketHour:
		fn = "toStartOfHour"
	case BucketDay:
		fn = "toStartOfDay"
	default:
		return nil, fmt.Errorf("%w: bucket %q (want hour or day)", ErrInvalidQuery, b)
	}
	// fn is one of two constants: safe to format.
	q := `SELECT toUInt32(` + fn + `(s)) AS b, cur, count(), toInt64(sum(fare)), toUInt64(sum(dist)), toUInt64(sum(dur))
 FROM ` + dedupedRides + ` GROUP BY b, cur ORDER BY b, cur`
	return collect(ctx, s.conn, "rides per bucket", q, secArgs(city, w.From, w.To), func(rows driver.Rows) (RideBucket, error) {
		var (
			r   RideBucket
			sec uint32
		)
		if err := rows.Scan(&sec, &r.Currency, &r.Rides, &r.FareTotalMinor, &r.DistanceM, &r.DurationS); err != nil {
			return r, err
		}
		r.Start = time.Unix(int64(sec), 0).UTC()
		return r, nil
	})
}

// UtilisationHour is the fleet's use in one UTC hour.
type UtilisationHour struct {
	Hour time.Time
	// Fleet: distinct vehicles that sent telemetry in the hour or were on a ride during it.
	Fleet uint64
	// Riding: distinct vehicles on a (synced, ended) ride during some part of the hour.
	Riding uint64
	// RideSeconds: seconds of rides within the hour, summed over rides.
	RideSeconds uint64
}

// MaxRideHours bounds how far back Utilisation looks for rides overlapping its window: rides
// started more than this before the window are not counted (and a ride counts in at most this
// many hours).
const MaxRideHours = 24

// Utilisation returns, per UTC hour of w (From rounded down and To up to whole hours) that has
// any telemetry or ride, the fleet size, the vehicles on a ride and the ride seconds. Only rides
// copied to ClickHouse count, that is ended ones: an hour with rides still running is
// under-counted until they end.
func (s *Store) Utilisation(ctx context.Context, city string, w Window) ([]UtilisationHour, error) {
	if err := checkIdent("city", city); err != nil {
		return nil, err
	}
	w = Window{From: w.From.UTC().Truncate(time.Hour), To: ceilHour(w.To)}
	if err := w.check(); err != nil {
		return nil, err
	}
	from, to := uint32(w.From.Unix()), uint32(w.To.Unix())
	lookback := uint32(0)
	if from > MaxRideHours*3600 {
		lookback = from - MaxRideHours*3600
	}
	q := `SELECT hour, uniqExact(vehicle), uniqExactIf(vehicle, on_ride = 1), toUInt64(sum(ride_s)) FROM (
  SELECT toUInt32(toStartOfHour(time)) AS hour, vehicle, toUInt8(0) AS on_ride, toInt64(0) AS ride_s
  FROM telemetry WHERE city = ? AND time >= toDateTime(?) AND time < toDateTime(?)
  GROUP BY hour, vehicle
 UNION ALL
  SELECT toUInt32(h * 3600) AS hour, vehicle, toUInt8(1) AS on_ride,
   greatest(toInt64(0), least(toInt64(toUInt32(e)), toInt64(h * 3600 + 3600)) - greatest(toInt64(toUInt32(s)), toInt64(h * 3600))) AS ride_s
  FROM (
   SELECT vehicle, s, e, arrayJoin(arrayMap(i -> toUInt32(intDiv(toUInt32(s), 3600) + i),
    range(toUInt64(least(intDiv(toUInt32(e), 3600) - intDiv(toUInt32(s), 3600) + 1, ?))))) AS h
   FROM ` + dedupedRides + ` WHERE e >= toDateTime(?))
  WHERE h * 3600 >= ? AND h * 3600 < ?
) GROUP BY hour ORDER BY hour`
	args := []any{city, from, to, uint32(MaxRideHours), city, lookback, to, from, uint64(from), uint64(to)}
	return collect(ctx, s.conn, "utilisation", q, args, func(rows driver.Rows) (UtilisationHour, error) {
		var (
			u   UtilisationHour
			sec uint32
		)
		if err := rows.Scan(&sec, &u.Fleet, &u.Riding, &u.RideSeconds); err != nil {
			return u, err
		}
		u.Hour = time.Unix(int64(sec), 0).UTC()
		return u, nil
	})
}

func ceilHour(t time.Time) time.Time {
	t = t.UTC()
	if c := t.Truncate(time.Hour); !c.Equal(t) {
		return c.Add(time.Hour)
	}
	return t
}

// VehicleState is a vehicle's latest telemetry record.
type VehicleState struct {
	Vehicle    string
	Time       time.Time
	Lat, Lon   float64
	SpeedKmh   float32
	BatteryPct uint8
	Powered    bool
	Locked     bool
	Fallen     bool
	ErrorCode  uint16
}

// MaxVehicleStates bounds LatestStates.
const MaxVehicleStates = 200_000

// LatestStates returns the latest telemetry record in w of every vehicle of city (at most
// MaxVehicleStates), ordered by vehicle.
func (s *Store) LatestStates(ctx context.Context, city string, w Window) ([]VehicleState, error) {
	if err := checkIdent("city", city); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	q := `SELECT vehicle, l.1, l.2, l.3, l.4, l.5, l.6, l.7, l.8, l.9, l.10 FROM (
 SELECT vehicle, argMax(tuple(time, ms, lat, lon, speed_kmh, battery_pct, powered, locked, fallen, error_code),
  toUInt64(time) * 1000 + ms) AS l
 FROM telemetry WHERE city = ? AND ` + windowCond + `
 GROUP BY vehicle) ORDER BY vehicle LIMIT ?`
	args := append(append([]any{city}, windowArgs(w)...), MaxVehicleStates)
	return collect(ctx, s.conn, "latest states", q, args, func(rows driver.Rows) (VehicleState, error) {
		var (
			v                       VehicleState
			t                       time.Time
			ms                      uint16
			powered, locked, fallen uint8
		)
		if err := rows.Scan(&v.Vehicle, &t, &ms, &v.Lat, &v.Lon, &v.SpeedKmh, &v.BatteryPct, &powered, &locked, &fallen, &v.ErrorCode); err != nil {
			return v, err
		}
		v.Time = toTime(t, ms)
		v.Powered, v.Locked, v.Fallen = powered == 1, locked == 1, fallen == 1
		return v, nil
	})
}

// HeatCell is one cell of a ride heatmap. Row and Col index the grid: the cell spans latitudes
// [Row·CellLat, (Row+1)·CellLat) and longitudes [Col·CellLon, (Col+1)·CellLon).
type HeatCell struct {
	Row, Col       int64
	MinLat, MinLon float64
	MaxLat, MaxLon float64
	Starts, Ends   uint64
}

// Heatmap is a grid of ride starts and ends.
type Heatmap struct {
	CellLat, CellLon float64 // cell size in degrees
	Cells            []HeatCell
	Truncated        bool // more cells had rides than the limit
}

// Heatmap bins the start and end positions of the rides of city started in w on a grid of
// roughly cellM × cellM metres (the longitude step is scaled at the mean start latitude of the
// rides), and returns the busiest maxCells cells, by starts + ends descending.
func (s *Store) Heatmap(ctx context.Context, city string, w Window, cellM float64, maxCells int) (Heatmap, error) {
	if err := checkIdent("city", city); err != nil {
		return Heatmap{}, err
	}
	if err := w.check(); err != nil {
		return Heatmap{}, err
	}
	if math.IsNaN(cellM) || cellM < 1 || cellM > 100_000 {
		return Heatmap{}, fmt.Errorf("%w: cell size %v m (want 1…100000)", ErrInvalidQuery, cellM)
	}
	if maxCells < 1 || maxCells > 1_000_000 {
		return Heatmap{}, fmt.Errorf("%w: max cells %d", ErrInvalidQuery, maxCells)
	}
	args := secArgs(city, w.From, w.To)
	var (
		n      uint64
		latSum float64
	)
	if err := s.conn.QueryRow(ctx, `SELECT count(), sum(slat) FROM `+dedupedRides, args...).Scan(&n, &latSum); err != nil {
		return Heatmap{}, fmt.Errorf("chstore: heatmap: mean latitude: %w", err)
	}
	const mPerDegLat = 111_320.0
	h := Heatmap{CellLat: cellM / mPerDegLat, CellLon: cellM / mPerDegLat}
	if n == 0 {
		return h, nil
	}
	// Near the poles the longitude step would explode: keep cos ≥ 0.01.
	h.CellLon = cellM / (mPerDegLat * math.Max(math.Cos(latSum/float64(n)*math.Pi/180), 0.01))
	q := `SELECT iy, ix, toUInt64(sum(k = 0)) AS st, toUInt64(sum(k = 1)) AS en FROM (
  SELECT p.1 AS k, toInt64(floor(p.2 / ?)) AS iy, toInt64(floor(p.3 / ?)) AS ix FROM (
   SELECT arrayJoin(if(has_end = 1, [(toUInt8(0), slat, slon), (toUInt8(1), elat, elon)], [(toUInt8(0), slat, slon)])) AS p
   FROM ` + dedupedRides + `))
 GROUP BY iy, ix ORDER BY st + en DESC, iy, ix LIMIT ?`
	cells, err := collect(ctx, s.conn, "heatmap", q, append([]any{h.CellLat, h.CellLon}, append(args, uint64(maxCells)+1)...),
		func(rows driver.Rows) (HeatCell, error) {
			var c HeatCell
			if err := rows.Scan(&c.Row, &c.Col, &c.Starts, &c.Ends); err != nil {
				return c, err
			}
			c.MinLat, c.MaxLat = float64(c.Row)*h.CellLat, float64(c.Row+1)*h.CellLat
			c.MinLon, c.MaxLon = float64(c.Col)*h.CellLon, float64(c.Col+1)*h.CellLon
			return c, nil
		})
	if err != nil {
		return Heatmap{}, err
	}
	if len(cells) > maxCells {
		cells, h.Truncated = cells[:maxCells], true
	}
	h.Cells = cells
	return h, nil
}

// VehicleEventCount is how many distinct events of one kind a vehicle had, and the latest one's time.
type VehicleEventCount struct {
	Vehicle string
	Count   uint64
	Last    time.Time
}

// EventCountsByVehicle counts the distinct events of kind per vehicle of city in w (each
// (gateway, seq) once), ordered by vehicle, at most MaxVehicleStates vehicles.
func (s *Store) EventCountsByVehicle(ctx context.Context, city, kind string, w Window) ([]VehicleEventCount, error) {
	if err := checkIdent("city", city); err != nil {
		return nil, err
	}
	if err := checkIdent("kind", kind); err != nil {
		return nil, err
	}
	if err := w.check(); err != nil {
		return nil, err
	}
	q := `SELECT vehicle, uniqExact(gateway, seq), max(toUInt64(time) * 1000 + ms) FROM events
 WHERE city = ? AND kind = ? AND ` + windowCond + ` GROUP BY vehicle ORDER BY vehicle LIMIT ?`
	args := append(append([]any{city, kind}, windowArgs(w)...), MaxVehicleStates)
	return collect(ctx, s.conn, "event counts by vehicle", q, args, func(rows driver.Rows) (VehicleEventCount, error) {
		var (
			c    VehicleEventCount
			last uint64
		)
		if err := rows.Scan(&c.Vehicle, &c.Count, &last); err != nil {
			return c, err
		}
		c.Last = time.UnixMilli(int64(last)).UTC()
		return c, nil
	})
}
