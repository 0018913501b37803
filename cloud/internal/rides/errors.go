package rides

import (
	"errors"
	"fmt"
)

// Sentinel errors of the package; the API turns them into problems (problems.go).
var (
	ErrInvalidInput         = errors.New("rides: invalid input")
	ErrRiderNotFound        = errors.New("rides: no such rider")
	ErrRiderSuspended       = errors.New("rides: rider suspended")
	ErrRideInProgress       = errors.New("rides: the rider already has an open ride")
	ErrInsufficientBalance  = errors.New("rides: balance below the tariff's minimum")
	ErrVehicleNotFound      = errors.New("rides: no such vehicle")
	ErrVehicleUnavailable   = errors.New("rides: vehicle not available")
	ErrVehicleOffline       = errors.New("rides: vehicle offline")
	ErrBatteryLow           = errors.New("rides: battery too low to start a ride")
	ErrOutsideArea          = errors.New("rides: vehicle outside the operating area")
	ErrStartNotAllowed      = errors.New("rides: rides may not start here")
	ErrNoTariff             = errors.New("rides: no tariff in force in the city")
	ErrNoZones              = errors.New("rides: the city has no published zones")
	ErrRideNotFound         = errors.New("rides: no such ride")
	ErrRideState            = errors.New("rides: the ride is not in a state that allows this")
	ErrEndNotAllowed        = errors.New("rides: ending the ride here is not allowed")
	ErrVehicleNotResponding = errors.New("rides: the vehicle did not answer")
	ErrVehicleRefused       = errors.New("rides: the vehicle refused the command")
	ErrGatewayUnreachable   = errors.New("rides: the city gateway is not connected")
	ErrUnavailable          = errors.New("rides: commands unavailable in this process")
)

// EndRefusedError is ErrEndNotAllowed with the facts the rider needs: where the nearest
// allowed end is, and the fine that applies if the rider ends here anyway.
type EndRefusedError struct {
	// ZoneID/ZoneName name the zone that forbids ending here ("" outside every zone).
	ZoneID, ZoneName string
	// NearestZoneID/NearestZoneName/NearestMetres: the nearest zone where the ride may end
	// (NearestZoneID "" when none is within reach).
	NearestZoneID, NearestZoneName string
	NearestMetres                  float64
	FineMinor                      int64
	Currency                       string
}

func (e *EndRefusedError) Error() string {
	where := "here"
	if e.ZoneName != "" {
		where = fmt.Sprintf("in %q", e.ZoneName)
	}
	msg := "ending the ride " + where + " is not allowed"
	if e.NearestZoneID != "" {
		msg += fmt.Sprintf("; nearest allowed area: %q, %.0f m away", e.NearestZoneName, e.NearestMetres)
	}
	return msg + fmt.Sprintf("; to end here anyway send accept_fine=true (fine %s)", Money(e.FineMinor, e.Currency))
}

// Unwrap makes errors.Is(err, ErrEndNotAllowed) true.
func (e *EndRefusedError) Unwrap() error { return ErrEndNotAllowed }

// Money formats minor units with two decimals and the currency ("5.00 EUR").
func Money(minor int64, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, minor/100, minor%100, currency)
}
