package rides

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
)

// PositionBody is a WGS84 position.
type PositionBody struct {
	Lat float64 `json:"lat" doc:"Latitude, decimal degrees"`
	Lon float64 `json:"lon" doc:"Longitude, decimal degrees"`
}

// NearbyVehicleBody is one rentable vehicle near the asked point.
type NearbyVehicleBody struct {
	Number     string       `json:"number" doc:"Vehicle number (printed on the vehicle and in its QR code)"`
	Model      string       `json:"model,omitempty" doc:"Vehicle model"`
	Position   PositionBody `json:"position"`
	BatteryPct int          `json:"battery_pct" doc:"Battery level, percent"`
	RangeKm    float64      `json:"estimated_range_km" doc:"Estimated range: battery% × the model's full-charge range"`
	DistanceM  int          `json:"distance_m" doc:"Geodesic distance from the asked point, metres"`
}

// NearbyBody lists vehicles nearest first.
type NearbyBody struct {
	Vehicles []NearbyVehicleBody `json:"vehicles" nullable:"false"`
}

type nearbyInput struct {
	Lat     float64 `query:"lat" required:"true" minimum:"-90" maximum:"90" doc:"Latitude of the rider"`
	Lon     float64 `query:"lon" required:"true" minimum:"-180" maximum:"180" doc:"Longitude of the rider"`
	RadiusM int     `query:"radius_m" minimum:"1" maximum:"5000" default:"500" doc:"Search radius, metres (at most 5000)"`
	Limit   int     `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"At most this many vehicles"`
}

type nearbyOutput struct{ Body NearbyBody }

// RideBody is a ride as the rider sees it.
type RideBody struct {
	ID             string        `json:"id" doc:"Ride id"`
	State          string        `json:"state" enum:"starting,active,paused,ended,cancelled" doc:"Ride state"`
	Vehicle        string        `json:"vehicle" doc:"Vehicle number"`
	City           string        `json:"city" doc:"City code"`
	StartedAt      time.Time     `json:"started_at" doc:"When the vehicle confirmed the unlock"`
	EndedAt        *time.Time    `json:"ended_at,omitempty" doc:"When the ride ended"`
	Start          PositionBody  `json:"start" doc:"Where the ride started"`
	End            *PositionBody `json:"end,omitempty" doc:"Where the ride ended"`
	DistanceM      int64         `json:"distance_m" doc:"Route length (geodesic), metres; set when ended"`
	FareTotalMinor *int64        `json:"fare_total_minor,omitempty" doc:"Fare charged, minor units; set when ended"`
	Currency       string        `json:"currency" doc:"ISO 4217 currency of the fare"`
	EndReason      string        `json:"end_reason,omitempty" doc:"Who ended the ride: rider, suspension, vehicle, gateway"`
	FineAccepted   bool          `json:"fine_accepted,omitempty" doc:"The rider accepted the out-of-zone fine"`
}

func rideBody(r Ride) RideBody {
	b := RideBody{ID: r.ID, State: r.State, Vehicle: r.Vehicle, City: r.City, StartedAt: r.StartedAt.UTC(),
		Start: PositionBody{r.StartLat, r.StartLon}, DistanceM: r.DistanceM, Currency: r.Currency,
		EndReason: r.EndReason, FineAccepted: r.FineAccepted}
	if !r.EndedAt.IsZero() {
		t := r.EndedAt.UTC()
		b.EndedAt = &t
	}
	if r.HasEnd {
		b.End = &PositionBody{r.EndLat, r.EndLon}
	}
	if r.State == StateEnded {
		f := r.FareTotalMinor
		b.FareTotalMinor = &f
	}
	return b
}

type rideOutput struct{ Body RideBody }

type startInput struct {
	Body struct {
		Vehicle string `json:"vehicle" minLength:"1" maxLength:"256" doc:"The vehicle number, or the content of its QR code (https://…/v/<number>)"`
	}
}

type rideIDInput struct {
	ID string `path:"id" maxLength:"36" pattern:"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$" doc:"Ride id"`
}

type endInput struct {
	ID   string `path:"id" maxLength:"36" pattern:"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$" doc:"Ride id"`
	Body *struct {
		AcceptFine bool `json:"accept_fine,omitempty" doc:"End where ending is not allowed, paying the tariff's out-of-zone fine"`
	} `required:"false"`
}

type historyInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Rides per page"`
	Cursor string `query:"cursor" maxLength:"200" doc:"The next cursor of the previous page"`
}

// HistoryBody is one page of rides, newest first.
type HistoryBody struct {
	Rides []RideBody `json:"rides" nullable:"false"`
	Next  string     `json:"next,omitempty" doc:"Cursor of the next page; absent on the last page"`
}

type historyOutput struct{ Body HistoryBody }

// ReceiptLineBody is one line of a receipt.
type ReceiptLineBody struct {
	Code        string `json:"code" doc:"unlock, time, distance, pause, surcharge:<zone>, fine"`
	Description string `json:"description"`
	AmountMinor int64  `json:"amount_minor" doc:"Minor units"`
}

// PauseBody is one pause of a ride.
type PauseBody struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ReceiptBody is an ended ride's receipt.
type ReceiptBody struct {
	Ride         RideBody          `json:"ride"`
	RideMinutes  int               `json:"ride_minutes" doc:"Minutes riding, each started minute counted"`
	PauseMinutes int               `json:"pause_minutes" doc:"Minutes paused, each started minute counted"`
	DistanceM    int64             `json:"distance_m"`
	Lines        []ReceiptLineBody `json:"lines" nullable:"false"`
	TotalMinor   int64             `json:"total_minor"`
	Currency     string            `json:"currency"`
	Pauses       []PauseBody       `json:"pauses" nullable:"false"`
	Route        json.RawMessage   `json:"route" doc:"GeoJSON LineString of the rebuilt route"`
}

type receiptOutput struct{ Body ReceiptBody }

// RegisterRider adds the rider routes to the rider API.
func (s *Service) RegisterRider(api huma.API) {
	sec := riderapi.BearerSecurity
	tags := []string{"rides"}
	rideErrs := []int{401, 403, 404, 409, 422, 502, 503, 504}
	huma.Register(api, huma.Operation{OperationID: "list-nearby-vehicles", Method: http.MethodGet, Path: "/v1/vehicles/nearby",
		Summary: "Rentable vehicles near a point", Tags: tags, Security: sec, Errors: []int{401, 422},
		Description: "Available, online vehicles with enough battery, nearest first, within radius_m (≤ 5 km). " +
			"Refreshed about every second from the fleet's live state."},
		func(ctx context.Context, in *nearbyInput) (*nearbyOutput, error) {
			if _, ok := riderapi.RiderID(ctx); !ok {
				return nil, riderapi.NewProblem(http.StatusUnauthorized, CodeUnauthorized, "missing rider")
			}
			vs := s.index.Query(in.Lat, in.Lon, float64(in.RadiusM), in.Limit)
			s.met.nearbyQs.Inc()
			out := &nearbyOutput{Body: NearbyBody{Vehicles: make([]NearbyVehicleBody, 0, len(vs))}}
			for _, v := range vs {
				out.Body.Vehicles = append(out.Body.Vehicles, NearbyVehicleBody{Number: v.Number, Model: v.Model,
					Position: PositionBody{v.Lat, v.Lon}, BatteryPct: v.BatteryPct, RangeKm: v.RangeKm, DistanceM: int(v.DistanceM + 0.5)})
			}
			return out, nil
		})
	huma.Register(api, huma.Operation{OperationID: "start-ride", Method: http.MethodPost, Path: "/v1/rides",
		Summary: "Start a ride by vehicle number or QR code", Tags: tags, Security: sec, DefaultStatus: http.StatusCreated,
		Errors: []int{401, 402, 403, 404, 409, 422, 502, 503, 504},
		Description: "Checks the account, the balance against the tariff's minimum and the vehicle (available, online, " +
			"battery, inside the operating area where rides may start), reserves it, powers it on through the city " +
			"gateway and starts the ride when the vehicle confirms. On a refusal (502 vehicle_refused) or no answer " +
			"(504 vehicle_not_responding) there is no ride and no charge."},
		func(ctx context.Context, in *startInput) (*rideOutput, error) {
			rider, ok := riderapi.RiderID(ctx)
			if !ok {
				return nil, riderapi.NewProblem(http.StatusUnauthorized, CodeUnauthorized, "missing rider")
			}
			r, err := s.Start(ctx, rider, in.Body.Vehicle)
			if err != nil {
				return nil, riderProblem(s.log, "start", err)
			}
			return &rideOutput{Body: rideBody(r)}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "list-rides", Method: http.MethodGet, Path: "/v1/rides",
		Summary: "The rider's rides, newest first", Tags: tags, Security: sec, Errors: []int{401, 422}},
		func(ctx context.Context, in *historyInput) (*historyOutput, error) {
			rider, ok := riderapi.RiderID(ctx)
			if !ok {
				return nil, riderapi.NewProblem(http.StatusUnauthorized, CodeUnauthorized, "missing rider")
			}
			p, err := s.History(ctx, rider, in.Limit, in.Cursor)
			if err != nil {
				return nil, riderProblem(s.log, "history", err)
			}
			out := &historyOutput{Body: HistoryBody{Rides: make([]RideBody, 0, len(p.Rides)), Next: p.Next}}
			for _, r := range p.Rides {
				out.Body.Rides = append(out.Body.Rides, rideBody(r))
			}
			return out, nil
		})
	huma.Register(api, huma.Operation{OperationID: "get-ride", Method: http.MethodGet, Path: "/v1/rides/{id}",
		Summary: "One of the rider's rides", Tags: tags, Security: sec, Errors: []int{401, 404, 422}},
		func(ctx context.Context, in *rideIDInput) (*rideOutput, error) {
			return s.rideOp(ctx, "get", in.ID, s.Get)
		})
	huma.Register(api, huma.Operation{OperationID: "pause-ride", Method: http.MethodPost, Path: "/v1/rides/{id}/pause",
		Summary: "Pause the ride (the vehicle stays locked to the rider; the tariff's pause price applies)", Tags: tags,
		Security: sec, Errors: rideErrs},
		func(ctx context.Context, in *rideIDInput) (*rideOutput, error) {
			return s.rideOp(ctx, "pause", in.ID, s.Pause)
		})
	huma.Register(api, huma.Operation{OperationID: "resume-ride", Method: http.MethodPost, Path: "/v1/rides/{id}/resume",
		Summary: "Resume a paused ride", Tags: tags, Security: sec, Errors: rideErrs},
		func(ctx context.Context, in *rideIDInput) (*rideOutput, error) {
			return s.rideOp(ctx, "resume", in.ID, s.Resume)
		})
	huma.Register(api, huma.Operation{OperationID: "end-ride", Method: http.MethodPost, Path: "/v1/rides/{id}/end",
		Summary: "End the ride", Tags: tags, Security: sec, Errors: rideErrs,
		Description: "Where ending is not allowed the answer is 409 end_not_allowed naming the nearest allowed area " +
			"(nearest_zone_name, nearest_distance_m) and the fine; send accept_fine=true to end there and pay it. " +
			"The vehicle is powered off and the ride ends and is charged when it confirms."},
		func(ctx context.Context, in *endInput) (*rideOutput, error) {
			accept := in.Body != nil && in.Body.AcceptFine
			return s.rideOp(ctx, "end", in.ID, func(ctx context.Context, rider, id string) (Ride, error) {
				return s.End(ctx, rider, id, accept)
			})
		})
	huma.Register(api, huma.Operation{OperationID: "get-ride-receipt", Method: http.MethodGet, Path: "/v1/rides/{id}/receipt",
		Summary: "Receipt of an ended ride with the fare breakdown and route", Tags: tags, Security: sec,
		Errors: []int{401, 404, 409, 422}},
		func(ctx context.Context, in *rideIDInput) (*receiptOutput, error) {
			rider, ok := riderapi.RiderID(ctx)
			if !ok {
				return nil, riderapi.NewProblem(http.StatusUnauthorized, CodeUnauthorized, "missing rider")
			}
			rc, err := s.Receipt(ctx, rider, in.ID)
			if err != nil {
				return nil, riderProblem(s.log, "receipt", err)
			}
			b := ReceiptBody{Ride: rideBody(rc.Ride), RideMinutes: rc.Breakdown.RideMinutes, PauseMinutes: rc.Breakdown.PauseMinutes,
				DistanceM: rc.Breakdown.DistanceM, TotalMinor: rc.Breakdown.TotalMinor, Currency: rc.Breakdown.Currency,
				Route: rc.Route, Lines: make([]ReceiptLineBody, 0, len(rc.Breakdown.Lines)), Pauses: make([]PauseBody, 0, len(rc.Pauses))}
			for _, l := range rc.Breakdown.Lines {
				b.Lines = append(b.Lines, ReceiptLineBody(l))
			}
			for _, p := range rc.Pauses {
				b.Pauses = append(b.Pauses, PauseBody{From: p.From.UTC(), To: p.To.UTC()})
			}
			return &receiptOutput{Body: b}, nil
		})
}

func (s *Service) rideOp(ctx context.Context, op, id string, fn func(ctx context.Context, rider, id string) (Ride, error)) (*rideOutput, error) {
	rider, ok := riderapi.RiderID(ctx)
	if !ok {
		return nil, riderapi.NewProblem(http.StatusUnauthorized, CodeUnauthorized, "missing rider")
	}
	r, err := fn(ctx, rider, id)
	if err != nil {
		return nil, riderProblem(s.log, op, err)
	}
	return &rideOutput{Body: rideBody(r)}, nil
}

// EndedRideBody is a ride a suspension ended.
type EndedRideBody struct {
	RideID           string `json:"ride_id" doc:"Ride id"`
	Vehicle          string `json:"vehicle" doc:"Vehicle number"`
	FareTotalMinor   int64  `json:"fare_total_minor" doc:"Fare charged, minor units"`
	Currency         string `json:"currency" doc:"ISO 4217 currency of the fare"`
	VehicleConfirmed bool   `json:"vehicle_confirmed" doc:"The vehicle confirmed its power-off; false: ended at its last known position and flagged for maintenance"`
}

// RiderStatusBody is a rider's status after a suspension or reactivation.
type RiderStatusBody struct {
	RiderID    string          `json:"rider_id" doc:"Rider id"`
	Status     string          `json:"status" enum:"active,suspended" doc:"Account status"`
	EndedRides []EndedRideBody `json:"ended_rides" nullable:"false" doc:"Rides the suspension ended and billed (empty for a reactivation)"`
}

type riderStatusOutput struct{ Body RiderStatusBody }

type riderIDInput struct {
	ID string `path:"id" maxLength:"36" pattern:"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$" doc:"Rider id"`
}

// actor is the admin and client of the request, for the audit entry.
func (in *riderIDInput) actor(ctx context.Context) (audit.Actor, bool) { return adminapi.Actor(ctx) }

// RegisterAdmin adds the admin routes (rider suspension) to the admin API.
func (s *Service) RegisterAdmin(api *adminapi.API) {
	tags := []string{"riders"}
	adminapi.Register(api, huma.Operation{OperationID: "suspend-rider", Method: http.MethodPost,
		Path: adminapi.Prefix + "/riders/{id}/suspend", Summary: "Suspend a rider", Tags: tags,
		Description: "Blocks new rides and logins (sessions revoked) and ends the rider's open rides: each vehicle is " +
			"powered off and the ride billed normally; a vehicle that does not confirm has its ride ended at its last " +
			"known position and is flagged for maintenance. Audited (rider.suspend). Idempotent."},
		adminapi.Requires(admin.PermRidersSuspend), []int{http.StatusNotFound, http.StatusServiceUnavailable},
		func(ctx context.Context, in *riderIDInput) (*riderStatusOutput, error) {
			actor, ok := in.actor(ctx)
			if !ok {
				return nil, adminapi.NewProblem(http.StatusUnauthorized, adminapi.CodeUnauthorized, "no session")
			}
			st, err := s.Suspend(ctx, actor, in.ID)
			if err != nil && st.RiderID == "" {
				return nil, adminProblem(s.log, "suspend", err)
			}
			if err != nil { // suspended; a ride could not be ended (logged), the rest is reported
				s.log.Error("suspension: ending a ride failed", "rider", in.ID, "err", err)
			}
			return &riderStatusOutput{Body: statusBody(st)}, nil
		})
	adminapi.Register(api, huma.Operation{OperationID: "reactivate-rider", Method: http.MethodPost,
		Path: adminapi.Prefix + "/riders/{id}/reactivate", Summary: "Lift a rider's suspension", Tags: tags,
		Description: "The rider may log in and ride again. Audited (rider.reactivate). Idempotent."},
		adminapi.Requires(admin.PermRidersSuspend), []int{http.StatusNotFound, http.StatusServiceUnavailable},
		func(ctx context.Context, in *riderIDInput) (*riderStatusOutput, error) {
			actor, ok := in.actor(ctx)
			if !ok {
				return nil, adminapi.NewProblem(http.StatusUnauthorized, adminapi.CodeUnauthorized, "no session")
			}
			st, err := s.Reactivate(ctx, actor, in.ID)
			if err != nil {
				return nil, adminProblem(s.log, "reactivate", err)
			}
			return &riderStatusOutput{Body: statusBody(st)}, nil
		})
}

func statusBody(st RiderStatus) RiderStatusBody {
	b := RiderStatusBody{RiderID: st.RiderID, Status: st.Status, EndedRides: make([]EndedRideBody, 0, len(st.Ended))}
	for _, r := range st.Ended {
		b.EndedRides = append(b.EndedRides, EndedRideBody{RideID: r.ID, Vehicle: r.Vehicle, FareTotalMinor: r.FareTotalMinor,
			Currency: r.Currency, VehicleConfirmed: !r.EndUnconfirmed})
	}
	return b
}
