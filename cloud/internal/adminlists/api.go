package adminlists

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
)

// RideQuery are the ride filters as query parameters (shared with the rides export).
type RideQuery struct {
	City    string    `query:"city" pattern:"^[a-z0-9_-]{1,64}$" doc:"Only rides in this city (code)"`
	Rider   string    `query:"rider" format:"uuid" doc:"Only rides of this rider id"`
	Vehicle string    `query:"vehicle" pattern:"^[A-Za-z0-9_-]{1,32}$" doc:"Only rides of this vehicle number"`
	State   string    `query:"state" enum:"starting,active,paused,ended,cancelled" doc:"Only rides in this state"`
	From    time.Time `query:"from" doc:"Only rides started at or after this time (RFC 3339)"`
	To      time.Time `query:"to" doc:"Only rides started before this time (RFC 3339)"`
}

// Filter converts the parameters.
func (q RideQuery) Filter() RideFilter {
	return RideFilter{City: q.City, RiderID: q.Rider, Vehicle: q.Vehicle, State: q.State, From: q.From, To: q.To}
}

// PaymentQuery are the payment filters as query parameters.
type PaymentQuery struct {
	Rider   string    `query:"rider" format:"uuid" doc:"Only payments of this rider id"`
	Status  string    `query:"status" enum:"pending,succeeded,failed,cancelled,refunded" doc:"Only payments in this status"`
	Purpose string    `query:"purpose" enum:"top_up,ride,fine,refund" doc:"Only payments for this purpose"`
	Method  string    `query:"method" enum:"card,wallet,bank_account,balance,cash,promotion" doc:"Only payments by this method"`
	From    time.Time `query:"from" doc:"Only payments created at or after this time (RFC 3339)"`
	To      time.Time `query:"to" doc:"Only payments created before this time (RFC 3339)"`
}

// Filter converts the parameters.
func (q PaymentQuery) Filter() PaymentFilter {
	return PaymentFilter{RiderID: q.Rider, Status: q.Status, Purpose: q.Purpose, Method: q.Method, From: q.From, To: q.To}
}

// RiderQuery are the rider filters as query parameters.
type RiderQuery struct {
	Search string    `query:"q" maxLength:"254" doc:"Case-insensitive prefix of the email, first name, last name or \"first last\" (the phone is encrypted and not searchable)"`
	Status string    `query:"status" enum:"active,suspended" doc:"Only riders in this status"`
	From   time.Time `query:"from" doc:"Only riders created at or after this time (RFC 3339)"`
	To     time.Time `query:"to" doc:"Only riders created before this time (RFC 3339)"`
}

// Filter converts the parameters.
func (q RiderQuery) Filter() RiderFilter {
	return RiderFilter{Search: q.Search, Status: q.Status, From: q.From, To: q.To}
}

// VehicleQuery are the vehicle filters as query parameters.
type VehicleQuery struct {
	City   string `query:"city" pattern:"^[a-z0-9_-]{1,64}$" doc:"Only vehicles of this city (code)"`
	Status string `query:"status" enum:"available,reserved,in_ride,maintenance,charging,lost,retired" doc:"Only vehicles in this status"`
}

// Filter converts the parameters.
func (q VehicleQuery) Filter() VehicleFilter { return VehicleFilter{City: q.City, Status: q.Status} }

// PageQuery are the paging parameters.
type PageQuery struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Page size"`
	Cursor string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
}

// RideItem is one ride of the admin list.
type RideItem struct {
	ID         string     `json:"id" format:"uuid" doc:"Ride id"`
	City       string     `json:"city" doc:"City code"`
	Vehicle    string     `json:"vehicle" doc:"Vehicle number"`
	RiderID    string     `json:"rider_id" format:"uuid" doc:"Rider id"`
	RiderEmail string     `json:"rider_email" doc:"Rider email"`
	State      string     `json:"state" enum:"starting,active,paused,ended,cancelled" doc:"Ride state"`
	StartedAt  time.Time  `json:"started_at" doc:"Start (reservation time while starting)"`
	EndedAt    *time.Time `json:"ended_at,omitempty" doc:"End; absent while open"`
	DistanceM  int64      `json:"distance_m" doc:"Distance of the rebuilt route in metres"`
	FareMinor  *int64     `json:"fare_minor,omitempty" doc:"Fare total in minor units of currency; absent until billed"`
	Currency   string     `json:"currency" doc:"ISO 4217 currency"`
	StartLat   float64    `json:"start_lat" doc:"Start latitude"`
	StartLon   float64    `json:"start_lon" doc:"Start longitude"`
	EndLat     *float64   `json:"end_lat,omitempty" doc:"End latitude; absent while open or unknown"`
	EndLon     *float64   `json:"end_lon,omitempty" doc:"End longitude; absent while open or unknown"`
}

// RidePage is a page of rides, newest started first.
type RidePage struct {
	Rides      []RideItem `json:"rides" nullable:"false" doc:"Rides, newest started first"`
	NextCursor string     `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
}

// PaymentItem is one payment of the admin list.
type PaymentItem struct {
	ID                string    `json:"id" format:"uuid" doc:"Payment id"`
	RiderID           string    `json:"rider_id" format:"uuid" doc:"Rider id"`
	RiderEmail        string    `json:"rider_email" doc:"Rider email"`
	Method            string    `json:"method" enum:"card,wallet,bank_account,balance,cash,promotion" doc:"Payment method"`
	Purpose           string    `json:"purpose" enum:"top_up,ride,fine,refund" doc:"What the payment is for"`
	RideID            string    `json:"ride_id,omitempty" format:"uuid" doc:"Ride paid, when any"`
	AmountMinor       int64     `json:"amount_minor" doc:"Amount in minor units of currency (positive)"`
	Currency          string    `json:"currency" doc:"ISO 4217 currency"`
	Provider          string    `json:"provider" doc:"Payment provider"`
	ProviderReference string    `json:"provider_reference,omitempty" doc:"Provider's reference"`
	Status            string    `json:"status" enum:"pending,succeeded,failed,cancelled,refunded" doc:"Payment status"`
	FailureReason     string    `json:"failure_reason,omitempty" doc:"Why it failed, when it did"`
	CreatedAt         time.Time `json:"created_at" doc:"When it was created"`
	UpdatedAt         time.Time `json:"updated_at" doc:"Last status change"`
}

// PaymentPage is a page of payments, newest first.
type PaymentPage struct {
	Payments   []PaymentItem `json:"payments" nullable:"false" doc:"Payments, newest first"`
	NextCursor string        `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
}

// BalanceItem is a rider balance in one currency.
type BalanceItem struct {
	Currency    string `json:"currency" doc:"ISO 4217 currency"`
	AmountMinor int64  `json:"amount_minor" doc:"Balance in minor units (negative: the rider owes)"`
}

// RiderItem is one rider of the admin list.
type RiderItem struct {
	ID        string        `json:"id" format:"uuid" doc:"Rider id"`
	FirstName string        `json:"first_name" doc:"First name"`
	LastName  string        `json:"last_name" doc:"Last name"`
	Email     string        `json:"email" doc:"Email"`
	Status    string        `json:"status" enum:"active,suspended" doc:"Account status"`
	CreatedAt time.Time     `json:"created_at" doc:"Sign-up time"`
	Balances  []BalanceItem `json:"balances" nullable:"false" doc:"Balances by currency (empty before the first top-up or ride)"`
}

// RiderPage is a page of riders, newest first.
type RiderPage struct {
	Riders     []RiderItem `json:"riders" nullable:"false" doc:"Riders, newest first"`
	NextCursor string      `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
}

type ridesInput struct {
	RideQuery
	PageQuery
}
type ridesOutput struct{ Body RidePage }

type paymentsInput struct {
	PaymentQuery
	PageQuery
}
type paymentsOutput struct{ Body PaymentPage }

type ridersInput struct {
	RiderQuery
	PageQuery
}
type ridersOutput struct{ Body RiderPage }

// Deps is what the list routes need.
type Deps struct {
	PG  Querier
	Log *slog.Logger
}

type handlers struct {
	pg  Querier
	log *slog.Logger
}

// Register adds the list operations: GET /admin/v1/rides (riders.read), /payments
// (payments.read), /riders (riders.read).
func Register(api *adminapi.API, d Deps) error {
	if d.PG == nil {
		return errors.New("adminlists: PostgreSQL is required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	h := &handlers{pg: d.PG, log: d.Log.With("component", "adminlists")}
	adminapi.Register(api, huma.Operation{OperationID: "list-rides", Method: http.MethodGet, Path: adminapi.Prefix + "/rides",
		Tags: []string{"rides"}, Summary: "List rides", Description: "Newest started first; filters combine with AND; keyset paging with next_cursor."},
		adminapi.Requires(admin.PermRidersRead), nil, h.rides)
	adminapi.Register(api, huma.Operation{OperationID: "list-payments", Method: http.MethodGet, Path: adminapi.Prefix + "/payments",
		Tags: []string{"payments"}, Summary: "List payments", Description: "Newest first; filters combine with AND; keyset paging with next_cursor."},
		adminapi.Requires(admin.PermPaymentsRead), nil, h.payments)
	adminapi.Register(api, huma.Operation{OperationID: "list-riders", Method: http.MethodGet, Path: adminapi.Prefix + "/riders",
		Tags: []string{"riders"}, Summary: "Search riders", Description: "Newest first; filters combine with AND; keyset paging with next_cursor."},
		adminapi.Requires(admin.PermRidersRead), nil, h.riders)
	return nil
}

// ProblemFor turns this package's errors into problems (exports use it too); unexpected errors
// are logged here, once.
func ProblemFor(log *slog.Logger, op string, err error) error {
	switch {
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrTooMany):
		return adminapi.NewProblem(http.StatusUnprocessableEntity, adminapi.CodeInvalidRequest, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return adminapi.NewProblem(http.StatusServiceUnavailable, adminapi.CodeUnavailable, "the request was cancelled or timed out")
	}
	log.Error("request failed", "op", op, "err", err)
	return adminapi.NewProblem(http.StatusInternalServerError, adminapi.CodeInternal, "internal error")
}

func (h *handlers) rides(ctx context.Context, in *ridesInput) (*ridesOutput, error) {
	rs, next, err := ListRides(ctx, h.pg, in.RideQuery.Filter(), in.Limit, in.Cursor)
	if err != nil {
		return nil, ProblemFor(h.log, "list rides", err)
	}
	out := &ridesOutput{Body: RidePage{Rides: make([]RideItem, 0, len(rs)), NextCursor: next}}
	for _, r := range rs {
		out.Body.Rides = append(out.Body.Rides, RideItem{ID: r.ID, City: r.City, Vehicle: r.Vehicle, RiderID: r.RiderID,
			RiderEmail: r.RiderEmail, State: r.State, StartedAt: r.StartedAt, EndedAt: r.EndedAt, DistanceM: r.DistanceM,
			FareMinor: r.FareMinor, Currency: r.Currency, StartLat: r.StartLat, StartLon: r.StartLon, EndLat: r.EndLat, EndLon: r.EndLon})
	}
	return out, nil
}

func (h *handlers) payments(ctx context.Context, in *paymentsInput) (*paymentsOutput, error) {
	ps, next, err := ListPayments(ctx, h.pg, in.PaymentQuery.Filter(), in.Limit, in.Cursor)
	if err != nil {
		return nil, ProblemFor(h.log, "list payments", err)
	}
	out := &paymentsOutput{Body: PaymentPage{Payments: make([]PaymentItem, 0, len(ps)), NextCursor: next}}
	for _, p := range ps {
		out.Body.Payments = append(out.Body.Payments, PaymentItem{ID: p.ID, RiderID: p.RiderID, RiderEmail: p.RiderEmail,
			Method: p.Method, Purpose: p.Purpose, RideID: p.RideID, AmountMinor: p.AmountMinor, Currency: p.Currency,
			Provider: p.Provider, ProviderReference: p.ProviderReference, Status: p.Status, FailureReason: p.FailureReason,
			CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt})
	}
	return out, nil
}

func (h *handlers) riders(ctx context.Context, in *ridersInput) (*ridersOutput, error) {
	rs, next, err := ListRiders(ctx, h.pg, in.RiderQuery.Filter(), in.Limit, in.Cursor)
	if err != nil {
		return nil, ProblemFor(h.log, "list riders", err)
	}
	out := &ridersOutput{Body: RiderPage{Riders: make([]RiderItem, 0, len(rs)), NextCursor: next}}
	for _, r := range rs {
		it := RiderItem{ID: r.ID, FirstName: r.FirstName, LastName: r.LastName, Email: r.Email, Status: r.Status,
			CreatedAt: r.CreatedAt, Balances: make([]BalanceItem, 0, len(r.Balances))}
		for _, b := range r.Balances {
			it.Balances = append(it.Balances, BalanceItem{Currency: b.Currency, AmountMinor: b.AmountMinor})
		}
		out.Body.Riders = append(out.Body.Riders, it)
	}
	return out, nil
}
