package rides

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// Ride states (rides.state).
const (
	StateStarting  = "starting"
	StateActive    = "active"
	StatePaused    = "paused"
	StateEnded     = "ended"
	StateCancelled = "cancelled"
)

// Ride is a ride as stored.
type Ride struct {
	ID        string
	RiderID   string
	VehicleID int64
	Vehicle   string // vehicle number
	CityID    int64
	City      string // city code
	TariffID  int64
	State     string
	CreatedAt time.Time
	StartedAt time.Time
	EndedAt   time.Time // zero while open
	StartLat  float64
	StartLon  float64
	HasEnd    bool
	EndLat    float64
	EndLon    float64
	DistanceM int64
	// FareTotalMinor is the fare once ended.
	FareTotalMinor int64
	Currency       string
	EndReason      string
	CancelReason   string
	FineAccepted   bool
	EndUnconfirmed bool
}

// Open reports whether the ride holds its vehicle.
func (r Ride) Open() bool {
	return r.State == StateStarting || r.State == StateActive || r.State == StatePaused
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type execQuerier interface {
	querier
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

const rideCols = `r.id::text, r.rider_id::text, r.vehicle_id, v.number, r.city_id, c.code, coalesce(r.tariff_id, 0),
	r.state, r.created_at, r.started_at, r.ended_at, r.start_lat, r.start_lon, r.end_lat, r.end_lon, r.distance_m,
	r.fare_total_minor, r.currency, coalesce(r.end_reason, ''), coalesce(r.cancel_reason, ''), r.fine_accepted,
	r.end_unconfirmed
	FROM rides r JOIN vehicles v ON v.id = r.vehicle_id JOIN cities c ON c.id = r.city_id`

func scanRide(row pgx.Row) (Ride, error) {
	var (
		r              Ride
		ended          *time.Time
		endLat, endLon *float64
		total          *int64
	)
	err := row.Scan(&r.ID, &r.RiderID, &r.VehicleID, &r.Vehicle, &r.CityID, &r.City, &r.TariffID, &r.State,
		&r.CreatedAt, &r.StartedAt, &ended, &r.StartLat, &r.StartLon, &endLat, &endLon, &r.DistanceM, &total,
		&r.Currency, &r.EndReason, &r.CancelReason, &r.FineAccepted, &r.EndUnconfirmed)
	if err != nil {
		return Ride{}, err
	}
	if ended != nil {
		r.EndedAt = *ended
	}
	if endLat != nil && endLon != nil {
		r.HasEnd, r.EndLat, r.EndLon = true, *endLat, *endLon
	}
	if total != nil {
		r.FareTotalMinor = *total
	}
	return r, nil
}

// validUUID reports whether s is a canonical uuid (what the database stores and prints).
func validUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && len(s) == 36 && u.String() == s
}

// loadRide reads one ride; ErrRideNotFound when missing (or not a uuid).
func loadRide(ctx context.Context, q querier, id string, lock bool) (Ride, error) {
	if !validUUID(id) {
		return Ride{}, ErrRideNotFound
	}
	sql := `SELECT ` + rideCols + ` WHERE r.id = $1`
	if lock {
		sql += ` FOR UPDATE OF r`
	}
	r, err := scanRide(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Ride{}, ErrRideNotFound
	}
	if err != nil {
		return Ride{}, fmt.Errorf("rides: load ride: %w", err)
	}
	return r, nil
}

// Pause is one pause of a ride; To is zero while it lasts.
type Pause struct {
	N        int
	From, To time.Time
}

func loadPauses(ctx context.Context, q execQuerier, rideID string) ([]Pause, error) {
	rows, err := q.Query(ctx, `SELECT n, started_at, ended_at FROM ride_pauses WHERE ride_id = $1 ORDER BY n`, rideID)
	if err != nil {
		return nil, fmt.Errorf("rides: pauses: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Pause, error) {
		var (
			p  Pause
			to *time.Time
		)
		err := r.Scan(&p.N, &p.From, &to)
		if to != nil {
			p.To = *to
		}
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("rides: pauses: %w", err)
	}
	return ps, nil
}

// tariffRow is the tariff a ride was started under.
type tariffRow struct {
	ID             int64
	Currency       string
	UnlockFee      int64
	PerMinute      int64
	PerKm          int64
	PausePerMinute int64
	Surcharges     []surchargeRow
	Fine           int64
	MinimumBalance int64
}

type surchargeRow struct {
	Zone      string `json:"zone"`
	PerMinute int64  `json:"per_minute_minor"`
	Fixed     int64  `json:"fixed_minor"`
}

const tariffCols = `id, currency, unlock_fee_minor, per_minute_minor, coalesce(per_km_minor, 0), pause_per_minute_minor,
	zone_surcharges::text, parking_outside_zone_fine_minor, minimum_balance_minor FROM tariffs`

func scanTariff(row pgx.Row) (tariffRow, error) {
	var (
		t   tariffRow
		raw string
	)
	if err := row.Scan(&t.ID, &t.Currency, &t.UnlockFee, &t.PerMinute, &t.PerKm, &t.PausePerMinute, &raw, &t.Fine, &t.MinimumBalance); err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(raw), &t.Surcharges); err != nil {
		return t, fmt.Errorf("rides: tariff %d zone_surcharges: %w", t.ID, err)
	}
	return t, nil
}

func tariffByID(ctx context.Context, q querier, id int64) (tariffRow, error) {
	tr, err := scanTariff(q.QueryRow(ctx, `SELECT `+tariffCols+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return tariffRow{}, ErrNoTariff
	}
	if err != nil {
		return tariffRow{}, fmt.Errorf("rides: tariff: %w", err)
	}
	return tr, nil
}

func linkCity(code string) link.CityID { return link.CityID(code) }

func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}
