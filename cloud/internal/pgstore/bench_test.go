package pgstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

// openRides creates n vehicles with one open ride each (bulk, outside the timer) and returns
// the ride ids with their vehicles.
func openRides(b *testing.B, ctx context.Context, pool *pgxpool.Pool, f fixture, n int) []benchRide {
	b.Helper()
	rows, err := pool.Query(ctx, `
		WITH v AS (
			INSERT INTO vehicles (number, city_id) SELECT 'B' || g, $1 FROM generate_series(1, $2) g RETURNING id)
		INSERT INTO rides (rider_id, vehicle_id, city_id, started_at, start_lat, start_lon, currency)
		SELECT $3, v.id, $1, now() - interval '12 min', 40.4168, -3.7038, 'EUR' FROM v
		RETURNING id::text, vehicle_id`, f.cityID, n, f.riderID)
	if err != nil {
		b.Fatal(err)
	}
	rides, err := pgx.CollectRows(rows, pgx.RowToStructByPos[benchRide])
	if err != nil {
		b.Fatal(err)
	}
	return rides
}

type benchRide struct {
	ID      string
	Vehicle int64
}

// endRide is the end-of-ride business transaction: close the ride with its route and fare,
// free the vehicle, and charge the rider in the ledger (journal row + two entries), committed
// once (the deferred balance check runs at commit).
func endRide(ctx context.Context, pool *pgxpool.Pool, f fixture, r benchRide) error {
	const fare = 370
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE rides SET state = 'ended', ended_at = now(), end_lat = 40.4201, end_lon = -3.7001,
				distance_m = 2140, route = '{"type":"LineString","coordinates":[[-3.7038,40.4168],[-3.7001,40.4201]]}',
				fare_breakdown = '{"unlock_minor":100,"minutes":12,"per_minute_minor":22,"time_minor":264,"surcharges_minor":6}',
				fare_total_minor = $2, updated_at = now()
			WHERE id = $1 AND state IN ('active', 'paused')`, r.ID, fare); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE vehicles SET status = 'available', updated_at = now() WHERE id = $1`, r.Vehicle); err != nil {
			return err
		}
		var txID int64
		if err := tx.QueryRow(ctx, `INSERT INTO ledger_transactions (kind, ride_id) VALUES ('ride_charge', $1) RETURNING id`, r.ID).Scan(&txID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO ledger_entries (transaction_id, account_id, currency, amount_minor)
			VALUES ($1, $2, 'EUR', $4), ($1, $3, 'EUR', -$4)`, txID, f.revenue, f.riderAcct, int64(fare))
		return err
	})
}

// endRidePipelined is endRide in one round trip: the statements go as one pgx batch, which
// the server runs as one implicit transaction (one Sync), deferred balance check included.
func endRidePipelined(ctx context.Context, pool *pgxpool.Pool, f fixture, r benchRide) error {
	const fare = 370
	b := &pgx.Batch{}
	b.Queue(`UPDATE rides SET state = 'ended', ended_at = now(), end_lat = 40.4201, end_lon = -3.7001,
			distance_m = 2140, route = '{"type":"LineString","coordinates":[[-3.7038,40.4168],[-3.7001,40.4201]]}',
			fare_breakdown = '{"unlock_minor":100,"minutes":12,"per_minute_minor":22,"time_minor":264,"surcharges_minor":6}',
			fare_total_minor = $2, updated_at = now()
		WHERE id = $1 AND state IN ('active', 'paused')`, r.ID, fare)
	b.Queue(`UPDATE vehicles SET status = 'available', updated_at = now() WHERE id = $1`, r.Vehicle)
	b.Queue(`WITH t AS (INSERT INTO ledger_transactions (kind, ride_id) VALUES ('ride_charge', $1) RETURNING id)
		INSERT INTO ledger_entries (transaction_id, account_id, currency, amount_minor)
		SELECT t.id, v.account, 'EUR', v.amount FROM t, (VALUES ($2::bigint, $4::bigint), ($3::bigint, -$4::bigint)) AS v(account, amount)`,
		r.ID, f.revenue, f.riderAcct, int64(fare))
	return pool.SendBatch(ctx, b).Close()
}

// BenchmarkEndRide measures end-of-ride transactions per second, statement by statement in an
// explicit transaction and pipelined in one round trip, with 1 and 8 connections. Run: go test -run '^$' -bench EndRide -benchtime 2000x ./cloud/internal/pgstore/
func BenchmarkEndRide(b *testing.B) {
	for _, bc := range []struct {
		name    string
		clients int
		end     func(context.Context, *pgxpool.Pool, fixture, benchRide) error
	}{
		{"tx/clients=1", 1, endRide},
		{"tx/clients=8", 8, endRide},
		{"pipelined/clients=1", 1, endRidePipelined},
		{"pipelined/clients=8", 8, endRidePipelined},
	} {
		clients := bc.clients
		b.Run(bc.name, func(b *testing.B) {
			db := pgstoretest.New(b)
			ctx := context.Background()
			f := newFixture(b, ctx, db.Pool, "b")
			rides := openRides(b, ctx, db.Pool, f, b.N)
			var next atomic.Int64
			// clients×GOMAXPROCS goroutines share a pool of `clients` connections, so the
			// database sees exactly `clients` concurrent transactions.
			b.SetParallelism(clients)
			pool, err := pgxpool.New(ctx, fmt.Sprintf("%s&pool_max_conns=%d", db.AppDSN, clients))
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := rides[next.Add(1)-1]
					if err := bc.end(ctx, pool, f, r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
			var charged int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM ledger_transactions WHERE kind = 'ride_charge'`).Scan(&charged); err != nil || charged != b.N {
				b.Fatalf("ledger holds %d ride charges after %d rides (%v)", charged, b.N, err)
			}
		})
	}
}
