package citycfg

import (
	"errors"
	"strconv"
	"strings"

	"github.com/fleetedge/fleetedge/shared/zone"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrNotFound is matched by every *NotFoundError.
	ErrNotFound = errors.New("citycfg: not found")
	// ErrInvalid is matched by every *FieldError and *ZonesError.
	ErrInvalid = errors.New("citycfg: invalid input")
	// ErrCityExists: a city with that code exists.
	ErrCityExists = errors.New("citycfg: city code taken")
	// ErrGatewayExists: a gateway with that code exists.
	ErrGatewayExists = errors.New("citycfg: gateway code taken")
	// ErrVehicleExists: a vehicle with that number exists (create), or exists in another
	// city (import).
	ErrVehicleExists = errors.New("citycfg: vehicle number taken")
	// ErrVehicleBusy: the vehicle is reserved or in a ride; rides own its status until then.
	ErrVehicleBusy = errors.New("citycfg: vehicle reserved or in a ride")
	// ErrTariffOverlap: the tariff's validity overlaps another tariff of the city.
	ErrTariffOverlap = errors.New("citycfg: tariff validity overlaps another tariff")
	// ErrUnavailable: the database or the downlink cannot serve the request now.
	ErrUnavailable = errors.New("citycfg: unavailable")
)

// NotFoundError names what was not found.
type NotFoundError struct {
	What string // "city", "gateway", "vehicle", "zones", "tariff"
	Key  string
}

func (e *NotFoundError) Error() string {
	return "citycfg: no " + e.What + " " + strconv.Quote(e.Key)
}

// Is makes every NotFoundError match ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func notFound(what, key string) error { return &NotFoundError{What: what, Key: key} }

// FieldError is an input field that breaks a rule.
type FieldError struct {
	Field  string // JSON path in the request body, e.g. "vehicles[3].number"
	Reason string
}

func (e *FieldError) Error() string { return "citycfg: " + e.Field + ": " + e.Reason }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func fieldErr(field, reason string) error { return &FieldError{Field: field, Reason: reason} }

// ZonesError lists every problem of a geofencing document.
type ZonesError struct {
	Problems []ZoneProblem
}

// ZoneProblem is one problem of a geofencing document.
type ZoneProblem struct {
	// Field is the JSON path in the document, e.g.
	// "data.geofencing_zones.features[2].geometry.coordinates[0][0]", or "" for the whole
	// document (syntax).
	Field   string
	Message string
}

func (e *ZonesError) Error() string {
	parts := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		if p.Field == "" {
			parts = append(parts, p.Message)
		} else {
			parts = append(parts, p.Field+": "+p.Message)
		}
	}
	return "citycfg: invalid geofencing document: " + strings.Join(parts, "; ")
}

// Is makes every ZonesError match ErrInvalid.
func (e *ZonesError) Is(target error) bool { return target == ErrInvalid }

// zonesError converts shared/zone's validation errors, naming fields by their path in the
// document (bareCollection: features sit at the top, not under data.geofencing_zones).
func zonesError(err error, bareCollection bool) *ZonesError {
	ze := &ZonesError{}
	for _, v := range zone.ValidationErrors(err) {
		field := v.Field
		if v.Feature >= 0 {
			prefix := "data.geofencing_zones.features[" + strconv.Itoa(v.Feature) + "]"
			if bareCollection {
				prefix = "features[" + strconv.Itoa(v.Feature) + "]"
			}
			if field == "" {
				field = prefix
			} else {
				field = prefix + "." + field
			}
		}
		ze.Problems = append(ze.Problems, ZoneProblem{Field: field, Message: v.Msg})
	}
	if len(ze.Problems) == 0 {
		ze.Problems = []ZoneProblem{{Message: err.Error()}}
	}
	return ze
}
