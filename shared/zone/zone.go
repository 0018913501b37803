package zone

import (
	"time"

	"github.com/paulmach/orb"
)

// Kind is the operator's display category of a zone (the fleetedge
// extension "kind"). It never changes evaluation: what a zone allows comes
// from its GBFS rules alone.
type Kind uint8

// Zone kinds understood in the fleetedge extension.
const (
	KindUnspecified   Kind = iota // no "kind" given
	KindOperatingArea             // "operating_area"
	KindSlow                      // "slow"
	KindNoRide                    // "no_ride"
	KindNoParking                 // "no_parking"
	KindParking                   // "parking"
)

var kindNames = [...]string{
	KindUnspecified:   "",
	KindOperatingArea: "operating_area",
	KindSlow:          "slow",
	KindNoRide:        "no_ride",
	KindNoParking:     "no_parking",
	KindParking:       "parking",
}

// String returns the wire name of k ("" for KindUnspecified).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// parseKind maps a wire name to a Kind.
func parseKind(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n == s && s != "" {
			return Kind(k), true
		}
	}
	return KindUnspecified, false
}

// Rule is one GBFS v3 geofencing rule (an element of a zone's "rules" or of
// "global_rules").
type Rule struct {
	// VehicleTypeIDs lists the vehicle types the rule applies to; empty
	// means every vehicle type. Unknown ids are allowed.
	VehicleTypeIDs []string

	RideStartAllowed   bool
	RideEndAllowed     bool
	RideThroughAllowed bool

	// MaxSpeedKPH is meaningful only when HasMaxSpeed is set
	// (maximum_speed_kph present in the document).
	MaxSpeedKPH int
	HasMaxSpeed bool

	// StationParking is meaningful only when HasStationParking is set.
	StationParking    bool
	HasStationParking bool
}

// AppliesTo reports whether r applies to vehicleType: r lists it, or r
// lists no vehicle type at all.
func (r *Rule) AppliesTo(vehicleType string) bool {
	if len(r.VehicleTypeIDs) == 0 {
		return true
	}
	for _, id := range r.VehicleTypeIDs {
		if id == vehicleType {
			return true
		}
	}
	return false
}

// firstRule returns the first rule of rules that applies to vehicleType,
// or nil.
func firstRule(rules []Rule, vehicleType string) *Rule {
	for i := range rules {
		if rules[i].AppliesTo(vehicleType) {
			return &rules[i]
		}
	}
	return nil
}

// LocalizedString is one element of a GBFS localized text array.
type LocalizedString struct {
	Text     string
	Language string
}

// Window is one recurring time-of-day window of a zone schedule, in the
// set's local time zone. From and To are offsets from local midnight;
// To <= From means the window runs past midnight into the next day (the
// part after midnight still belongs to the day it started on).
type Window struct {
	Days Weekdays
	From time.Duration
	To   time.Duration
}

// Weekdays is a set of days of the week: bit i is time.Weekday(i).
type Weekdays uint8

// AllDays is every day of the week.
const AllDays Weekdays = 1<<7 - 1

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<uint(d)) != 0 }

// Zone is one geofencing zone of a Set, as loaded. Treat it as read-only:
// a Set shares its slices.
type Zone struct {
	// Index is the zone's position in the document's features array; it is
	// also its precedence (lower wins).
	Index int
	// ID is the GeoJSON feature "id", else the fleetedge extension "id",
	// else "#<index>". Unique within a Set.
	ID    string
	Names []LocalizedString

	// Start and End bound the zone's lifetime (GBFS start/end); a zero
	// value means unbounded. The zone is active for Start <= t < End.
	Start time.Time
	End   time.Time

	Rules []Rule

	// Operator extensions (properties.fleetedge).
	Kind         Kind
	AlarmOnEntry bool
	// Schedule restricts the zone to these local-time windows; empty means
	// always (within Start/End).
	Schedule []Window

	Geometry orb.MultiPolygon
	Bound    orb.Bound
}

// Name returns the zone name in lang, else the first name, else "".
func (z *Zone) Name(lang string) string {
	for _, n := range z.Names {
		if n.Language == lang {
			return n.Text
		}
	}
	if len(z.Names) > 0 {
		return z.Names[0].Text
	}
	return ""
}

// Meta is the GBFS header of a loaded document.
type Meta struct {
	// LastUpdated and TTL come from the document header; zero for a bare
	// FeatureCollection.
	LastUpdated time.Time
	TTL         time.Duration
	// Version is the GBFS version string ("" for a bare FeatureCollection).
	Version string
	// Bare is set when the input was a bare GeoJSON FeatureCollection.
	Bare bool
}
