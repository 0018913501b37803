package zone

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrInvalid is matched by every *ValidationError: the document is not
	// an acceptable GBFS v3 geofencing_zones document.
	ErrInvalid = errors.New("invalid geofencing zones document")
	// ErrUnknownZone is returned for a zone index or id the Set does not have.
	ErrUnknownZone = errors.New("unknown zone")
)

// ValidationError is one problem found in a document. Load returns all the
// problems it found (up to a limit) joined with errors.Join; use
// ValidationErrors to list them or errors.As for the first.
type ValidationError struct {
	// Feature is the index of the feature in data.geofencing_zones.features
	// (or in the bare collection), or -1 when the problem is not inside a
	// feature (header, global_rules, JSON syntax).
	Feature int
	// Field is the JSON path of the offending value, relative to the
	// feature when Feature >= 0 (e.g. "geometry.coordinates[0][0][3]",
	// "properties.rules[1].maximum_speed_kph"), else to the document root
	// (e.g. "data.global_rules[0].ride_end_allowed").
	Field string
	// Msg says what is wrong.
	Msg string
}

func (e *ValidationError) Error() string {
	switch {
	case e.Feature >= 0 && e.Field != "":
		return "feature " + strconv.Itoa(e.Feature) + ": " + e.Field + ": " + e.Msg
	case e.Feature >= 0:
		return "feature " + strconv.Itoa(e.Feature) + ": " + e.Msg
	case e.Field != "":
		return e.Field + ": " + e.Msg
	default:
		return e.Msg
	}
}

// Unwrap makes every ValidationError match ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// ValidationErrors returns every *ValidationError contained in err (as
// returned by Load), in document order.
func ValidationErrors(err error) []*ValidationError {
	var out []*ValidationError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		// The tree is walked by hand because errors.As stops at the first match.
		if ve, ok := e.(*ValidationError); ok {
			out = append(out, ve)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// maxProblems bounds how many problems one Load reports.
const maxProblems = 50

// problems collects validation errors for one Load.
type problems struct {
	list      []error
	truncated bool
}

func (p *problems) add(feature int, field, format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.truncated = true
		return
	}
	p.list = append(p.list, &ValidationError{Feature: feature, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) full() bool { return len(p.list) >= maxProblems }

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := p.list
	if p.truncated {
		list = append(list, &ValidationError{Feature: -1, Msg: "too many problems; stopped checking"})
	}
	return fmt.Errorf("zone: load: %w", errors.Join(list...))
}
