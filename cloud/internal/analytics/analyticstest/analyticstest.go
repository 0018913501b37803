// Package analyticstest inserts known cities, vehicles, riders, rides and payments into a test
// database (as the app role), for the tests of analytics, admin lists and exports.
package analyticstest

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// City inserts a city and returns its id.
func City(t testing.TB, pool *pgxpool.Pool, code, currency string) int64 {
	t.Helper()
	var id int64
	if err := pool.QueryRow(t.Context(), `INSERT INTO cities (code, name, currency) VALUES ($1, $1, $2) RETURNING id`,
		code, currency).Scan(&id); err != nil {
		t.Fatalf("analyticstest: city %s: %v", code, err)
	}
	return id
}

// Vehicle inserts a vehicle of city with status and returns its id.
func Vehicle(t testing.TB, pool *pgxpool.Pool, cityID int64, number, status string) int64 {
	t.Helper()
	var id int64
	if err := pool.QueryRow(t.Context(), `INSERT INTO vehicles (number, model, city_id, status) VALUES ($1, 'ES4', $2, $3) RETURNING id`,
		number, cityID, status).Scan(&id); err != nil {
		t.Fatalf("analyticstest: vehicle %s: %v", number, err)
	}
	return id
}

// Rider inserts a rider (no password: an OAuth-only account) and returns its id.
func Rider(t testing.TB, pool *pgxpool.Pool, first, last, email, status string, created time.Time) string {
	t.Helper()
	var id string
	if err := pool.QueryRow(t.Context(), `INSERT INTO riders (first_name, last_name, email, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) RETURNING id::text`, first, last, email, status, created).Scan(&id); err != nil {
		t.Fatalf("analyticstest: rider %s: %v", email, err)
	}
	return id
}

// Ride is a ride to insert. State ended needs End and Fare; End zero leaves it open.
type Ride struct {
	Rider     string
	Vehicle   int64
	City      int64
	State     string // default ended (or active without End)
	Start     time.Time
	End       time.Time
	DistanceM int64
	Fare      int64
	Currency  string // default EUR
	StartLat  float64
	StartLon  float64
	EndLat    float64
	EndLon    float64
	NoEndPos  bool
	Updated   time.Time // default End (or Start)
}

// InsertRide inserts r and returns its id.
func InsertRide(t testing.TB, pool *pgxpool.Pool, r Ride) string {
	t.Helper()
	if r.Currency == "" {
		r.Currency = "EUR"
	}
	var end *time.Time
	var fare *int64
	var elat, elon *float64
	if !r.End.IsZero() {
		end, fare = &r.End, &r.Fare
		if !r.NoEndPos {
			elat, elon = &r.EndLat, &r.EndLon
		}
	}
	if r.State == "" {
		r.State = "active"
		if end != nil {
			r.State = "ended"
		}
	}
	if r.Updated.IsZero() {
		r.Updated = r.Start
		if end != nil {
			r.Updated = r.End
		}
	}
	var id string
	if err := pool.QueryRow(t.Context(), `INSERT INTO rides (rider_id, vehicle_id, city_id, state, started_at, ended_at,
		start_lat, start_lon, end_lat, end_lon, distance_m, fare_total_minor, currency, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $5, $14) RETURNING id::text`,
		r.Rider, r.Vehicle, r.City, r.State, r.Start, end, r.StartLat, r.StartLon, elat, elon, r.DistanceM, fare,
		r.Currency, r.Updated).Scan(&id); err != nil {
		t.Fatalf("analyticstest: ride: %v", err)
	}
	return id
}

// Payment is a payment to insert.
type Payment struct {
	Rider    string
	Method   string // default card
	Purpose  string // default top_up
	Status   string // default succeeded
	Amount   int64
	Currency string // default EUR
	RideID   string // optional
	Created  time.Time
}

// InsertPayment inserts p (provider sandbox) and returns its id.
func InsertPayment(t testing.TB, pool *pgxpool.Pool, p Payment) string {
	t.Helper()
	if p.Method == "" {
		p.Method = "card"
	}
	if p.Purpose == "" {
		p.Purpose = "top_up"
	}
	if p.Status == "" {
		p.Status = "succeeded"
	}
	if p.Currency == "" {
		p.Currency = "EUR"
	}
	var ride *string
	if p.RideID != "" {
		ride = &p.RideID
	}
	var id string
	if err := pool.QueryRow(t.Context(), `INSERT INTO payments (rider_id, method, purpose, ride_id, amount_minor, currency,
		provider, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'sandbox', $7, $8, $8) RETURNING id::text`,
		p.Rider, p.Method, p.Purpose, ride, p.Amount, p.Currency, p.Status, p.Created).Scan(&id); err != nil {
		t.Fatalf("analyticstest: payment: %v", err)
	}
	return id
}
