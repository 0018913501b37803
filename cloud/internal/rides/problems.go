package rides

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
)

// Problem codes of the ride routes (stable: the apps switch on them).
const (
	CodeInvalidRequest       = riderapi.CodeInvalidRequest
	CodeAccountSuspended     = riderapi.CodeAccountSuspended
	CodeUnauthorized         = riderapi.CodeUnauthorized
	CodeVehicleNotFound      = "vehicle_not_found"
	CodeVehicleUnavailable   = "vehicle_unavailable"
	CodeVehicleOffline       = "vehicle_offline"
	CodeBatteryLow           = "battery_low"
	CodeOutsideOperatingArea = "outside_operating_area"
	CodeStartNotAllowed      = "start_not_allowed"
	CodeNoTariff             = "no_tariff"
	CodeInsufficientBalance  = "insufficient_balance"
	CodeRideInProgress       = "ride_in_progress"
	CodeRideNotFound         = "ride_not_found"
	CodeRideState            = "ride_state"
	CodeEndNotAllowed        = "end_not_allowed"
	CodeVehicleNotResponding = "vehicle_not_responding"
	CodeVehicleRefused       = "vehicle_refused"
	CodeGatewayUnreachable   = "gateway_unreachable"
	CodeUnavailable          = "unavailable"
	CodeInternal             = riderapi.CodeInternal
)

// EndRefusedProblem is the end_not_allowed problem with the nearest allowed area and the fine.
type EndRefusedProblem struct {
	*riderapi.Problem
	ZoneID          string `json:"zone_id,omitempty" doc:"Zone that forbids ending here"`
	ZoneName        string `json:"zone_name,omitempty" doc:"Its name"`
	NearestZoneID   string `json:"nearest_zone_id,omitempty" doc:"Nearest zone where the ride may end"`
	NearestZoneName string `json:"nearest_zone_name,omitempty" doc:"Its name"`
	NearestMetres   int    `json:"nearest_distance_m,omitempty" doc:"Geodesic distance to it, metres"`
	FineMinor       int64  `json:"fine_minor" doc:"Fine charged when ending here with accept_fine=true, minor units"`
	Currency        string `json:"currency" doc:"Currency of the fine"`
}

// riderProblem maps a domain error to the rider API's problem; unexpected errors are logged
// here, once.
func riderProblem(log *slog.Logger, op string, err error) error {
	var er *EndRefusedError
	p := func(status int, code string) error { return riderapi.NewProblem(status, code, err.Error()) }
	switch {
	case errors.As(err, &er):
		return &EndRefusedProblem{Problem: riderapi.NewProblem(http.StatusConflict, CodeEndNotAllowed, er.Error()),
			ZoneID: er.ZoneID, ZoneName: er.ZoneName, NearestZoneID: er.NearestZoneID, NearestZoneName: er.NearestZoneName,
			NearestMetres: int(er.NearestMetres + 0.5), FineMinor: er.FineMinor, Currency: er.Currency}
	case errors.Is(err, ErrInvalidInput):
		return p(http.StatusUnprocessableEntity, CodeInvalidRequest)
	case errors.Is(err, ErrRiderNotFound):
		return riderapi.NewProblem(http.StatusUnauthorized, CodeUnauthorized, "the account no longer exists")
	case errors.Is(err, ErrRiderSuspended):
		return riderapi.NewProblem(http.StatusForbidden, CodeAccountSuspended, "this account is suspended")
	case errors.Is(err, ErrRideInProgress):
		return p(http.StatusConflict, CodeRideInProgress)
	case errors.Is(err, ErrInsufficientBalance):
		return p(http.StatusPaymentRequired, CodeInsufficientBalance)
	case errors.Is(err, ErrVehicleNotFound):
		return p(http.StatusNotFound, CodeVehicleNotFound)
	case errors.Is(err, ErrVehicleUnavailable):
		return p(http.StatusConflict, CodeVehicleUnavailable)
	case errors.Is(err, ErrVehicleOffline):
		return p(http.StatusConflict, CodeVehicleOffline)
	case errors.Is(err, ErrBatteryLow):
		return p(http.StatusConflict, CodeBatteryLow)
	case errors.Is(err, ErrOutsideArea):
		return p(http.StatusConflict, CodeOutsideOperatingArea)
	case errors.Is(err, ErrStartNotAllowed):
		return p(http.StatusConflict, CodeStartNotAllowed)
	case errors.Is(err, ErrNoTariff):
		return p(http.StatusConflict, CodeNoTariff)
	case errors.Is(err, ErrRideNotFound):
		return riderapi.NewProblem(http.StatusNotFound, CodeRideNotFound, "no such ride")
	case errors.Is(err, ErrRideState):
		return p(http.StatusConflict, CodeRideState)
	case errors.Is(err, ErrVehicleRefused):
		return riderapi.NewProblem(http.StatusBadGateway, CodeVehicleRefused, "the vehicle refused the command; nothing was charged for it")
	case errors.Is(err, ErrVehicleNotResponding):
		return riderapi.NewProblem(http.StatusGatewayTimeout, CodeVehicleNotResponding, "the vehicle did not answer in time; nothing was charged for it")
	case errors.Is(err, ErrGatewayUnreachable):
		return riderapi.NewProblem(http.StatusServiceUnavailable, CodeGatewayUnreachable, "the vehicle's city gateway is not connected; try again shortly")
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return riderapi.NewProblem(http.StatusServiceUnavailable, CodeUnavailable, "rides are unavailable right now; try again shortly")
	}
	log.Error("ride request failed", "op", op, "err", err)
	return riderapi.NewProblem(http.StatusInternalServerError, CodeInternal, "internal error")
}

// adminProblem maps a domain error to the admin API's problem (its documented codes only).
func adminProblem(log *slog.Logger, op string, err error) error {
	switch {
	case errors.Is(err, ErrRiderNotFound):
		return adminapi.NewProblem(http.StatusNotFound, adminapi.CodeNotFound, "no such rider")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return adminapi.NewProblem(http.StatusServiceUnavailable, adminapi.CodeUnavailable, "the request was cancelled or timed out")
	}
	log.Error("admin ride request failed", "op", op, "err", err)
	return adminapi.NewProblem(http.StatusInternalServerError, adminapi.CodeInternal, "internal error")
}
