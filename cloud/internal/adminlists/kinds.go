package adminlists

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ---- rides ----

// RideStates are the states a ride filter accepts (00005 + 00012).
var RideStates = []string{"starting", "active", "paused", "ended", "cancelled"}

// RideFilter selects rides; zero fields do not filter. From/To bound started_at, [From, To).
type RideFilter struct {
	City     string // city code
	RiderID  string // uuid
	Vehicle  string // vehicle number
	State    string
	From, To time.Time
}

// Ride is one ride of a list.
type Ride struct {
	ID         string
	City       string
	Vehicle    string
	RiderID    string
	RiderEmail string
	State      string
	StartedAt  time.Time
	EndedAt    *time.Time
	DistanceM  int64
	FareMinor  *int64 // nil until the ride is billed
	Currency   string
	StartLat   float64
	StartLon   float64
	EndLat     *float64
	EndLon     *float64
}

var rideSpec = listSpec[Ride]{
	name: "rides",
	from: `SELECT r.id::text, c.code, v.number, r.rider_id::text, rd.email, r.state, r.started_at, r.ended_at, r.distance_m,
 r.fare_total_minor, r.currency::text, r.start_lat, r.start_lon, r.end_lat, r.end_lon
 FROM rides r JOIN cities c ON c.id = r.city_id JOIN vehicles v ON v.id = r.vehicle_id JOIN riders rd ON rd.id = r.rider_id`,
	timeCol: "r.started_at", idCol: "r.id",
	scan: func(rows pgx.Rows) (Ride, error) {
		var r Ride
		err := rows.Scan(&r.ID, &r.City, &r.Vehicle, &r.RiderID, &r.RiderEmail, &r.State, &r.StartedAt, &r.EndedAt, &r.DistanceM,
			&r.FareMinor, &r.Currency, &r.StartLat, &r.StartLon, &r.EndLat, &r.EndLon)
		return r, err
	},
	key: func(r Ride) (time.Time, string) { return r.StartedAt, r.ID },
}

func (f RideFilter) conds() conds {
	var c conds
	if f.City != "" {
		if !cityRE.MatchString(f.City) {
			c.fail("city code %q", f.City)
		}
		c.add("c.code = $%d", f.City)
	}
	c.uuid("r.rider_id", "rider", f.RiderID)
	if f.Vehicle != "" {
		if !vehicleRE.MatchString(f.Vehicle) {
			c.fail("vehicle number %q", f.Vehicle)
		}
		c.add("v.number = $%d", f.Vehicle)
	}
	c.oneOf("r.state", "state", f.State, RideStates...)
	c.window("r.started_at", f.From, f.To)
	return c
}

// ListRides returns a page of rides matching f, newest started first.
func ListRides(ctx context.Context, q Querier, f RideFilter, limit int, cursor string) ([]Ride, string, error) {
	return page(ctx, q, rideSpec, f.conds(), limit, cursor)
}

// EachRide passes every ride matching f to fn, newest first, failing with ErrTooMany past max.
func EachRide(ctx context.Context, q Querier, f RideFilter, max int, fn func(Ride) error) (int, error) {
	return each(ctx, q, rideSpec, f.conds(), max, fn)
}

// ---- payments ----

// Payment filter values (00005).
var (
	PaymentStatuses = []string{"pending", "succeeded", "failed", "cancelled", "refunded"}
	PaymentPurposes = []string{"top_up", "ride", "fine", "refund"}
	PaymentMethods  = []string{"card", "wallet", "bank_account", "balance", "cash", "promotion"}
)

// PaymentFilter selects payments; zero fields do not filter. From/To bound created_at.
type PaymentFilter struct {
	RiderID  string
	Status   string
	Purpose  string
	Method   string
	From, To time.Time
}

// Payment is one payment of a list.
type Payment struct {
	ID                string
	RiderID           string
	RiderEmail        string
	Method            string
	Purpose           string
	RideID            string // "" when none
	AmountMinor       int64
	Currency          string
	Provider          string
	ProviderReference string
	Status            string
	FailureReason     string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

var paymentSpec = listSpec[Payment]{
	name: "payments",
	from: `SELECT p.id::text, p.rider_id::text, rd.email, p.method, p.purpose, coalesce(p.ride_id::text, ''), p.amount_minor,
 p.currency::text, p.provider, coalesce(p.provider_reference, ''), p.status, coalesce(p.failure_reason, ''), p.created_at, p.updated_at
 FROM payments p JOIN riders rd ON rd.id = p.rider_id`,
	timeCol: "p.created_at", idCol: "p.id",
	scan: func(rows pgx.Rows) (Payment, error) {
		var p Payment
		err := rows.Scan(&p.ID, &p.RiderID, &p.RiderEmail, &p.Method, &p.Purpose, &p.RideID, &p.AmountMinor, &p.Currency,
			&p.Provider, &p.ProviderReference, &p.Status, &p.FailureReason, &p.CreatedAt, &p.UpdatedAt)
		return p, err
	},
	key: func(p Payment) (time.Time, string) { return p.CreatedAt, p.ID },
}

func (f PaymentFilter) conds() conds {
	var c conds
	c.uuid("p.rider_id", "rider", f.RiderID)
	c.oneOf("p.status", "status", f.Status, PaymentStatuses...)
	c.oneOf("p.purpose", "purpose", f.Purpose, PaymentPurposes...)
	c.oneOf("p.method", "method", f.Method, PaymentMethods...)
	c.window("p.created_at", f.From, f.To)
	return c
}

// ListPayments returns a page of payments matching f, newest first.
func ListPayments(ctx context.Context, q Querier, f PaymentFilter, limit int, cursor string) ([]Payment, string, error) {
	return page(ctx, q, paymentSpec, f.conds(), limit, cursor)
}

// EachPayment passes every payment matching f to fn, newest first, failing with ErrTooMany past max.
func EachPayment(ctx context.Context, q Querier, f PaymentFilter, max int, fn func(Payment) error) (int, error) {
	return each(ctx, q, paymentSpec, f.conds(), max, fn)
}

// ---- riders ----

// RiderStatuses are the rider statuses (00002).
var RiderStatuses = []string{"active", "suspended"}

// RiderFilter selects riders; zero fields do not filter. Search matches, case-insensitively,
// the start of the email, the first name, the last name or "first last". The phone is
// encrypted at rest and cannot be searched. From/To bound created_at.
type RiderFilter struct {
	Search   string
	Status   string
	From, To time.Time
}

// Balance is a rider's balance in one currency (the sum of the rider's ledger account).
type Balance struct {
	Currency    string
	AmountMinor int64
}

// Rider is one rider of a list.
type Rider struct {
	ID        string
	FirstName string
	LastName  string
	Email     string
	Status    string
	CreatedAt time.Time
	Balances  []Balance // by currency; empty when the rider has no account yet
}

var riderSpec = listSpec[Rider]{
	name: "riders",
	from: `SELECT r.id::text, r.first_name, r.last_name, r.email, r.status, r.created_at,
 coalesce(b.currencies, '{}'), coalesce(b.amounts, '{}')
 FROM riders r LEFT JOIN LATERAL (
  SELECT array_agg(a.currency::text ORDER BY a.currency) AS currencies, array_agg(a.total ORDER BY a.currency) AS amounts
  FROM (SELECT la.currency, coalesce((SELECT sum(e.amount_minor) FROM ledger_entries e WHERE e.account_id = la.id), 0)::bigint AS total
        FROM ledger_accounts la WHERE la.rider_id = r.id) a) b ON true`,
	timeCol: "r.created_at", idCol: "r.id",
	scan: func(rows pgx.Rows) (Rider, error) {
		var (
			r    Rider
			curs []string
			amts []int64
		)
		if err := rows.Scan(&r.ID, &r.FirstName, &r.LastName, &r.Email, &r.Status, &r.CreatedAt, &curs, &amts); err != nil {
			return r, err
		}
		r.Balances = make([]Balance, 0, len(curs))
		for i := range min(len(curs), len(amts)) {
			r.Balances = append(r.Balances, Balance{Currency: curs[i], AmountMinor: amts[i]})
		}
		return r, nil
	},
	key: func(r Rider) (time.Time, string) { return r.CreatedAt, r.ID },
}

// likePrefix escapes LIKE's wildcards and appends %.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(strings.ToLower(s)) + "%"
}

func (f RiderFilter) conds() conds {
	var c conds
	if s := strings.TrimSpace(f.Search); s != "" {
		if len(s) > 254 {
			c.fail("search longer than 254 bytes")
		}
		c.add(`(lower(r.email) LIKE $%[1]d OR lower(r.first_name) LIKE $%[1]d OR lower(r.last_name) LIKE $%[1]d
 OR lower(r.first_name || ' ' || r.last_name) LIKE $%[1]d)`, likePrefix(s))
	}
	c.oneOf("r.status", "status", f.Status, RiderStatuses...)
	c.window("r.created_at", f.From, f.To)
	return c
}

// ListRiders returns a page of riders matching f, newest first.
func ListRiders(ctx context.Context, q Querier, f RiderFilter, limit int, cursor string) ([]Rider, string, error) {
	return page(ctx, q, riderSpec, f.conds(), limit, cursor)
}

// EachRider passes every rider matching f to fn, newest first, failing with ErrTooMany past max.
func EachRider(ctx context.Context, q Querier, f RiderFilter, max int, fn func(Rider) error) (int, error) {
	return each(ctx, q, riderSpec, f.conds(), max, fn)
}

// ---- vehicles ----

// VehicleStatuses are the registry statuses (00004).
var VehicleStatuses = []string{"available", "reserved", "in_ride", "maintenance", "charging", "lost", "retired"}

// VehicleFilter selects registry vehicles; zero fields do not filter.
type VehicleFilter struct {
	City   string
	Status string
}

// Vehicle is one registry vehicle.
type Vehicle struct {
	Number          string
	Model           string
	City            string
	Gateway         string // gateway code, "" when none
	Status          string
	FirmwareVersion string
	SpeedLimitKmh   int
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

var vehicleSpec = listSpec[Vehicle]{
	name: "vehicles",
	from: `SELECT v.number, v.model, c.code, coalesce(g.code, ''), v.status, coalesce(v.firmware_version, ''),
 v.normal_speed_limit_kmh, v.created_at, v.updated_at
 FROM vehicles v JOIN cities c ON c.id = v.city_id LEFT JOIN gateways g ON g.id = v.gateway_id`,
	orderSQL: "v.number",
	scan: func(rows pgx.Rows) (Vehicle, error) {
		var v Vehicle
		err := rows.Scan(&v.Number, &v.Model, &v.City, &v.Gateway, &v.Status, &v.FirmwareVersion, &v.SpeedLimitKmh, &v.CreatedAt, &v.UpdatedAt)
		return v, err
	},
}

func (f VehicleFilter) conds() conds {
	var c conds
	if f.City != "" {
		if !cityRE.MatchString(f.City) {
			c.fail("city code %q", f.City)
		}
		c.add("c.code = $%d", f.City)
	}
	c.oneOf("v.status", "status", f.Status, VehicleStatuses...)
	return c
}

// EachVehicle passes every vehicle matching f to fn by number, failing with ErrTooMany past max.
func EachVehicle(ctx context.Context, q Querier, f VehicleFilter, max int, fn func(Vehicle) error) (int, error) {
	return each(ctx, q, vehicleSpec, f.conds(), max, fn)
}
