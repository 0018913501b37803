package geo

import (
	"errors"
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// ErrInvalidCoordinate is the sentinel matched (errors.Is) by every
// *CoordinateError.
var ErrInvalidCoordinate = errors.New("invalid coordinate")

// ErrInvalidGeometry is the sentinel matched by every *GeometryError.
var ErrInvalidGeometry = errors.New("invalid geometry")

// CoordinateError reports a coordinate or geodesic parameter that is NaN,
// infinite or out of range.
type CoordinateError struct {
	Field string  // "lat", "lon", "azimuth" or "distance"
	Value float64 // the offending value
}

func (e *CoordinateError) Error() string {
	switch e.Field {
	case "lat":
		return fmt.Sprintf("latitude %v outside [-90, 90]", e.Value)
	case "lon":
		return fmt.Sprintf("longitude %v outside [-180, 180]", e.Value)
	default:
		return fmt.Sprintf("%s %v is not finite", e.Field, e.Value)
	}
}

// Is makes errors.Is(err, ErrInvalidCoordinate) true.
func (e *CoordinateError) Is(target error) bool { return target == ErrInvalidCoordinate }

// GeometryError reports a malformed polygon: a ring with fewer than three
// distinct vertices, or an invalid vertex.
type GeometryError struct {
	Ring   int    // index of the ring in its polygon, -1 for the polygon as a whole
	Vertex int    // index of the vertex, -1 if the ring as a whole is wrong
	Reason string // what is wrong
	Err    error  // the underlying *CoordinateError, if any
}

func (e *GeometryError) Error() string {
	if e.Ring < 0 {
		return e.Reason
	}
	if e.Vertex >= 0 {
		return fmt.Sprintf("ring %d vertex %d: %s", e.Ring, e.Vertex, e.Reason)
	}
	return fmt.Sprintf("ring %d: %s", e.Ring, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidGeometry) true.
func (e *GeometryError) Is(target error) bool { return target == ErrInvalidGeometry }

// Unwrap returns the underlying coordinate error, if any.
func (e *GeometryError) Unwrap() error { return e.Err }

// CheckLatLon reports whether lat is in [-90, 90] and lon in
// [-180, 180] (the GeoJSON range), both finite.
func CheckLatLon(lat, lon float64) error {
	if !(lat >= -90 && lat <= 90) {
		return &CoordinateError{Field: "lat", Value: lat}
	}
	if !(lon >= -180 && lon <= 180) {
		return &CoordinateError{Field: "lon", Value: lon}
	}
	return nil
}

// CheckPoint checks an orb.Point ([lon, lat]) with CheckLatLon.
func CheckPoint(p orb.Point) error {
	return CheckLatLon(p.Lat(), p.Lon())
}

// CheckPolygon checks every vertex of poly and that every ring has at
// least three distinct vertices (a closing vertex equal to the first is
// optional).
func CheckPolygon(poly orb.Polygon) error {
	if len(poly) == 0 {
		return &GeometryError{Ring: -1, Vertex: -1, Reason: "polygon has no rings"}
	}
	for i, ring := range poly {
		for j, p := range ring {
			if err := CheckPoint(p); err != nil {
				return &GeometryError{Ring: i, Vertex: j, Reason: err.Error(), Err: err}
			}
		}
		n := len(ring)
		if n > 1 && ring[0] == ring[n-1] {
			n--
		}
		if n < 3 {
			return &GeometryError{Ring: i, Vertex: -1, Reason: fmt.Sprintf("%d distinct vertices, need at least 3", n)}
		}
	}
	return nil
}

// InverseChecked is Inverse with its inputs validated by CheckLatLon.
func InverseChecked(lat1, lon1, lat2, lon2 float64) (s12, azi1, azi2 float64, err error) {
	if err := CheckLatLon(lat1, lon1); err != nil {
		return 0, 0, 0, fmt.Errorf("geodesic inverse: point 1: %w", err)
	}
	if err := CheckLatLon(lat2, lon2); err != nil {
		return 0, 0, 0, fmt.Errorf("geodesic inverse: point 2: %w", err)
	}
	s12, azi1, azi2 = Inverse(lat1, lon1, lat2, lon2)
	return s12, azi1, azi2, nil
}

// DirectChecked is Direct with its inputs validated: (lat1, lon1) by
// CheckLatLon, azi1 and s12 finite.
func DirectChecked(lat1, lon1, azi1, s12 float64) (lat2, lon2, azi2 float64, err error) {
	if err := CheckLatLon(lat1, lon1); err != nil {
		return 0, 0, 0, fmt.Errorf("geodesic direct: %w", err)
	}
	if math.IsNaN(azi1) || math.IsInf(azi1, 0) {
		return 0, 0, 0, fmt.Errorf("geodesic direct: %w", &CoordinateError{Field: "azimuth", Value: azi1})
	}
	if math.IsNaN(s12) || math.IsInf(s12, 0) {
		return 0, 0, 0, fmt.Errorf("geodesic direct: %w", &CoordinateError{Field: "distance", Value: s12})
	}
	lat2, lon2, azi2 = Direct(lat1, lon1, azi1, s12)
	return lat2, lon2, azi2, nil
}
