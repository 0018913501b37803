package chstore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The rides table holds a copy of every ended ride of PostgreSQL (the system of record), made
// by the cloud's ride sync (cloud/internal/analytics), for analytics next to the telemetry.
//
// Exactly-once counting: the sync may insert a ride again (a retry, an overlap re-read, a
// corrected ride with a newer version). The table is ReplacingMergeTree(version) ordered by
// (city, started_at, id), so merges eventually keep the newest version of each ride, but no
// query relies on them: every query first reduces the rows of a window to one per id with
// argMax(…, version) GROUP BY id. started_at never changes for a ride, so all copies of a ride
// fall in the same monthly partition and the same query window.
//
// version is the ride's change time in PostgreSQL, greatest(updated_at, ended_at), in
// microseconds since the epoch; the highest version stored is the sync's watermark.
const createRides = `
CREATE TABLE IF NOT EXISTS rides (
    id               String,
    city             String,
    vehicle          String,
    rider            String,
    started_at       DateTime('UTC'),
    ended_at         DateTime('UTC'),
    duration_s       UInt32,
    distance_m       UInt64,
    fare_total_minor Int64,
    currency         String,
    start_lat        Float64,
    start_lon        Float64,
    has_end          UInt8,
    end_lat          Float64,
    end_lon          Float64,
    version          UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (city, started_at, id)`

const insertRides = `INSERT INTO rides (id, city, vehicle, rider, started_at, ended_at, duration_s, distance_m,
 fare_total_minor, currency, start_lat, start_lon, has_end, end_lat, end_lon, version)`

// RideRow is one ended ride as copied to ClickHouse. Times are stored in whole seconds.
type RideRow struct {
	ID      string // the ride's uuid
	City    string // city code
	Vehicle string // vehicle number
	Rider   string // rider uuid

	StartedAt, EndedAt time.Time
	DistanceM          uint64
	FareTotalMinor     int64  // fare in minor units of Currency
	Currency           string // ISO 4217

	StartLat, StartLon float64
	HasEnd             bool // false when the ride has no end position
	EndLat, EndLon     float64

	// Version orders copies of the same ride: the newest wins (microseconds of the change time).
	Version uint64
}

func validateRide(i int, r *RideRow) error {
	v := validator{table: "rides", index: i}
	v.ident("ID", r.ID)
	v.ident("City", r.City)
	v.ident("Vehicle", r.Vehicle)
	v.ident("Rider", r.Rider)
	if len(r.Currency) != 3 {
		v.fail("Currency", "not a 3-letter code")
	}
	for _, t := range []struct {
		f string
		t time.Time
	}{{"StartedAt", r.StartedAt}, {"EndedAt", r.EndedAt}} {
		if t.t.IsZero() || t.t.Before(minTime) || !t.t.Before(maxTime) {
			v.fail(t.f, "outside 1970-01-01…2106-02-07 (ClickHouse DateTime)")
		}
	}
	if r.EndedAt.Before(r.StartedAt) {
		v.fail("EndedAt", "before StartedAt")
	}
	if r.EndedAt.Sub(r.StartedAt) > math.MaxUint32*time.Second {
		v.fail("EndedAt", "ride longer than 136 years")
	}
	if r.FareTotalMinor < 0 {
		v.fail("FareTotalMinor", "negative")
	}
	checkPos := func(f string, lat, lon float64) {
		if math.IsNaN(lat) || lat < -90 || lat > 90 || math.IsNaN(lon) || lon < -180 || lon > 180 {
			v.fail(f, "position outside -90…90 / -180…180")
		}
	}
	checkPos("StartLat", r.StartLat, r.StartLon)
	if r.HasEnd {
		checkPos("EndLat", r.EndLat, r.EndLon)
	}
	return v.result()
}

// InsertRides writes rows in one INSERT after validating all of them (one invalid row rejects
// the batch with a *RowError). Inserting a ride again is harmless: queries keep its highest
// version.
func (s *Store) InsertRides(ctx context.Context, rows []RideRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	var (
		id, city, vehicle, rider, currency = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		started, ended                     = make([]time.Time, n), make([]time.Time, n)
		duration                           = make([]uint32, n)
		distance, version                  = make([]uint64, n), make([]uint64, n)
		fare                               = make([]int64, n)
		slat, slon, elat, elon             = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		hasEnd                             = make([]uint8, n)
	)
	for i := range rows {
		r := &rows[i]
		if err := validateRide(i, r); err != nil {
			return err
		}
		id[i], city[i], vehicle[i], rider[i], currency[i] = r.ID, r.City, r.Vehicle, r.Rider, r.Currency
		started[i], ended[i] = r.StartedAt.UTC().Truncate(time.Second), r.EndedAt.UTC().Truncate(time.Second)
		duration[i] = uint32(ended[i].Sub(started[i]) / time.Second)
		distance[i], fare[i], version[i] = r.DistanceM, r.FareTotalMinor, r.Version
		slat[i], slon[i], hasEnd[i] = r.StartLat, r.StartLon, flag(r.HasEnd)
		if r.HasEnd {
			elat[i], elon[i] = r.EndLat, r.EndLon
		}
	}
	return s.sendColumns(ctx, "rides", insertRides, n,
		id, city, vehicle, rider, started, ended, duration, distance,
		fare, currency, slat, slon, hasEnd, elat, elon, version)
}

// RideVersion is the newest stored version of one ride.
type RideVersion struct {
	ID      string
	Version uint64
}

// RideWatermark returns the highest version stored, 0 for an empty table: the ride sync's
// watermark.
func (s *Store) RideWatermark(ctx context.Context) (uint64, error) {
	var wm uint64
	if err := s.conn.QueryRow(ctx, "SELECT max(version) FROM rides").Scan(&wm); err != nil {
		return 0, fmt.Errorf("chstore: ride watermark: %w", err)
	}
	return wm, nil
}

// RideVersionsSince returns the newest stored version of every ride whose version is at least
// since (what the sync need not send again), ordered by id.
func (s *Store) RideVersionsSince(ctx context.Context, since uint64) ([]RideVersion, error) {
	return collect(ctx, s.conn, "ride versions", `SELECT id, max(version) FROM rides WHERE version >= ? GROUP BY id ORDER BY id`,
		[]any{since}, func(rows driver.Rows) (RideVersion, error) {
			var v RideVersion
			return v, rows.Scan(&v.ID, &v.Version)
		})
}

// dedupedRides is the rides of one city started in [From, To), one row per ride (its newest
// version); it takes city and two DateTime seconds. Columns: id, vehicle, rider, s (started_at),
// e (ended_at), dur, dist, fare, cur, slat, slon, has_end, elat, elon.
const dedupedRides = `(SELECT id, r.1 AS vehicle, r.2 AS rider, r.3 AS s, r.4 AS e, r.5 AS dur, r.6 AS dist,
 r.7 AS fare, r.8 AS cur, r.9 AS slat, r.10 AS slon, r.11 AS has_end, r.12 AS elat, r.13 AS elon FROM (
 SELECT id, argMax(tuple(vehicle, rider, started_at, ended_at, duration_s, distance_m, fare_total_minor, currency,
  start_lat, start_lon, has_end, end_lat, end_lon), version) AS r
 FROM rides WHERE city = ? AND started_at >= toDateTime(?) AND started_at < toDateTime(?) GROUP BY id))`

func secArgs(city string, from, to time.Time) []any {
	return []any{city, uint32(from.Unix()), uint32(to.Unix())}
}

// RideTotals are the rides stored for one city in a window, each ride once (for tests and
// reconciliation with PostgreSQL).
type RideTotals struct {
	Rides          uint64
	FareTotalMinor int64
	DistanceM      uint64
}

// RideTotals sums the rides of city started in w (whole seconds), each ride once.
func (s *Store) RideTotals(ctx context.Context, city string, w Window) (RideTotals, error) {
	if err := checkIdent("city", city); err != nil {
		return RideTotals{}, err
	}
	if err := w.check(); err != nil {
		return RideTotals{}, err
	}
	var t RideTotals
	q := `SELECT count(), toInt64(sum(fare)), toUInt64(sum(dist)) FROM ` + dedupedRides
	if err := s.conn.QueryRow(ctx, q, secArgs(city, w.From, w.To)...).Scan(&t.Rides, &t.FareTotalMinor, &t.DistanceM); err != nil {
		return RideTotals{}, fmt.Errorf("chstore: ride totals: %w", err)
	}
	return t, nil
}
