package fleetops

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
)

// Problem codes of this area (besides adminapi's invalid_request, not_found, unavailable).
const (
	// CodeGatewayUnavailable: no gateway of the vehicle's city is connected (503).
	CodeGatewayUnavailable = "gateway_unavailable"
	// CodeGatewayTimeout: the gateway did not answer in time; the command may have been sent (504).
	CodeGatewayTimeout = "gateway_timeout"
	// CodeVehicleTimeout: the gateway sent the command but the scooter did not reply in time,
	// or stayed offline until the command expired (504).
	CodeVehicleTimeout = "vehicle_timeout"
	// CodeNoZone: the zone is not in the city's current zones document (422).
	CodeNoZone = "unknown_zone"
)

// Domain errors.
var (
	ErrNotFound    = errors.New("fleetops: not found")
	ErrUnavailable = errors.New("fleetops: dependency unavailable")
	ErrInvalid     = errors.New("fleetops: invalid input")
)

// fieldError is invalid input naming the request location (e.g. "body.fields.k").
type fieldError struct {
	Location, Reason string
}

func (e *fieldError) Error() string { return e.Location + ": " + e.Reason }
func (e *fieldError) Unwrap() error { return ErrInvalid }

func invalidAt(location, format string, args ...any) error {
	return &fieldError{Location: location, Reason: fmt.Sprintf(format, args...)}
}

// problem turns an error into the API's problem: the one place this area's errors become
// HTTP. Unexpected errors are logged here, once.
func (s *Service) problem(op string, err error) error {
	var fe *fieldError
	var pr *adminapi.Problem
	switch {
	case errors.As(err, &pr):
		return pr
	case errors.As(err, &fe):
		p := adminapi.NewProblem(http.StatusUnprocessableEntity, adminapi.CodeInvalidRequest, "validation failed: "+fe.Error())
		p.Errors = []*huma.ErrorDetail{{Location: fe.Location, Message: fe.Reason}}
		return p
	case errors.Is(err, ErrInvalid), errors.Is(err, chstore.ErrInvalidQuery):
		return adminapi.NewProblem(http.StatusUnprocessableEntity, adminapi.CodeInvalidRequest, err.Error())
	case errors.Is(err, ErrNotFound):
		return adminapi.NewProblem(http.StatusNotFound, adminapi.CodeNotFound, err.Error())
	case errors.Is(err, ErrUnavailable):
		return adminapi.NewProblem(http.StatusServiceUnavailable, adminapi.CodeUnavailable, err.Error()).WithRetryAfter(5e9)
	case errors.Is(err, downlink.ErrNoGateway):
		return adminapi.NewProblem(http.StatusServiceUnavailable, CodeGatewayUnavailable,
			"no gateway of the vehicle's city is connected; the command was not sent").WithRetryAfter(5e9)
	case errors.Is(err, downlink.ErrNoReply):
		return adminapi.NewProblem(http.StatusGatewayTimeout, CodeGatewayTimeout,
			"the gateway did not answer in time; the command may have been sent (its outcome arrives as an event)")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return adminapi.NewProblem(http.StatusServiceUnavailable, adminapi.CodeUnavailable, "the request was cancelled or timed out")
	}
	s.log.Error("request failed", "op", op, "err", err)
	return adminapi.NewProblem(http.StatusInternalServerError, adminapi.CodeInternal, "internal error")
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
