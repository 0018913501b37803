package citycfg

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// Document kinds of a city (protocol/link bucket keys).
const (
	KindZones    = link.ConfigZones
	KindVehicles = link.ConfigVehicles
	KindTariffs  = link.ConfigTariffs
)

// Kinds lists the document kinds in a stable order.
func Kinds() []string { return []string{KindZones, KindVehicles, KindTariffs} }

// City is a city the fleet operates in.
type City struct {
	ID        int64
	Code      link.CityID
	Name      string
	Timezone  string
	Currency  string // ISO 4217
	CreatedAt time.Time
}

// NewCity is what creating a city takes.
type NewCity struct {
	Code     string
	Name     string
	Timezone string // IANA name; "" means UTC
	Currency string
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

func (n *NewCity) validate() error {
	if _, err := link.ParseCityID(n.Code); err != nil {
		return fieldErr("code", "1-64 characters of a-z 0-9 _ -")
	}
	n.Name = strings.TrimSpace(n.Name)
	if c := utf8.RuneCountInString(n.Name); c < 1 || c > 200 {
		return fieldErr("name", "1-200 characters")
	}
	if n.Timezone == "" {
		n.Timezone = "UTC"
	}
	if n.Timezone == "Local" || len(n.Timezone) > 64 {
		return fieldErr("timezone", "an IANA time zone such as Europe/Madrid")
	}
	if _, err := time.LoadLocation(n.Timezone); err != nil {
		return fieldErr("timezone", "unknown IANA time zone "+fmt.Sprintf("%q", n.Timezone))
	}
	if !currencyRE.MatchString(n.Currency) {
		return fieldErr("currency", "an ISO 4217 code such as EUR")
	}
	return nil
}

// Gateway is a city's edge gateway.
type Gateway struct {
	ID         int64
	Code       link.GatewayID
	CityID     int64
	CityCode   link.CityID
	Name       string
	Status     string // active, disabled
	LastSeenAt time.Time
	CreatedAt  time.Time
}

// NewGateway is what creating a gateway takes.
type NewGateway struct {
	Code string
	Name string
}

func (n *NewGateway) validate() error {
	if _, err := link.ParseGatewayID(n.Code); err != nil {
		return fieldErr("code", "1-64 characters of a-z 0-9 _ -")
	}
	n.Name = strings.TrimSpace(n.Name)
	if utf8.RuneCountInString(n.Name) > 200 {
		return fieldErr("name", "at most 200 characters")
	}
	return nil
}

// Vehicle statuses (the vehicles table's check).
const (
	StatusAvailable   = "available"
	StatusReserved    = "reserved"
	StatusInRide      = "in_ride"
	StatusMaintenance = "maintenance"
	StatusCharging    = "charging"
	StatusLost        = "lost"
	StatusRetired     = "retired"
)

// AdminStatuses are the statuses an admin may set; reserved and in_ride belong to rides.
func AdminStatuses() []string {
	return []string{StatusAvailable, StatusMaintenance, StatusCharging, StatusLost, StatusRetired}
}

// Vehicle limits.
const (
	// MaxNormalLimitKmh is the highest normal speed limit (the table's check, link Validate).
	MaxNormalLimitKmh = 30
	// DefaultNormalLimitKmh is the normal limit when none is given.
	DefaultNormalLimitKmh = 25
	// DefaultVehicleType is the GBFS vehicle_type_id when none is given.
	DefaultVehicleType = "escooter"
	// MaxVehiclesPerRequest bounds one create or import request.
	MaxVehiclesPerRequest = 20_000
)

// Vehicle is a registered vehicle.
type Vehicle struct {
	ID              int64
	Number          string // PROTOCOL.md vehicle number: MQTT client id, plate, QR code
	Model           string
	CityID          int64
	CityCode        link.CityID
	GatewayID       int64 // 0: none assigned
	GatewayCode     link.GatewayID
	Status          string
	Type            string // GBFS vehicle_type_id
	NormalLimitKmh  int
	FirmwareVersion string
	HasCredential   bool
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// NewVehicle is one vehicle to register. Gateway is a gateway code of the city ("" none).
type NewVehicle struct {
	Number         string
	Model          string
	Type           string
	NormalLimitKmh int // 0 means DefaultNormalLimitKmh
	Gateway        string
}

// ImportVehicle is a vehicle with a credential hash made elsewhere (provisioning tools):
// the import never sees a secret.
type ImportVehicle struct {
	NewVehicle
	CredentialHash string // devicecred "sha256:<hex>"
}

var (
	typeRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

func (n *NewVehicle) validate(at string) error {
	if _, err := protocol.ParseVehicleID(n.Number); err != nil {
		return fieldErr(at+".number", "1-32 characters of A-Z a-z 0-9 _ -")
	}
	if utf8.RuneCountInString(n.Model) > 100 {
		return fieldErr(at+".model", "at most 100 characters")
	}
	if n.Type == "" {
		n.Type = DefaultVehicleType
	}
	if !typeRE.MatchString(n.Type) {
		return fieldErr(at+".type", "a GBFS vehicle_type_id: 1-64 characters of A-Z a-z 0-9 _ . -")
	}
	if n.NormalLimitKmh == 0 {
		n.NormalLimitKmh = DefaultNormalLimitKmh
	}
	if n.NormalLimitKmh < 1 || n.NormalLimitKmh > MaxNormalLimitKmh {
		return fieldErr(at+".normal_speed_limit_kmh", fmt.Sprintf("1-%d km/h", MaxNormalLimitKmh))
	}
	if n.Gateway != "" {
		if _, err := link.ParseGatewayID(n.Gateway); err != nil {
			return fieldErr(at+".gateway", "a gateway code of the city")
		}
	}
	return nil
}

func (n *ImportVehicle) validate(at string) error {
	if err := n.NewVehicle.validate(at); err != nil {
		return err
	}
	if _, err := devicecred.Parse(n.CredentialHash); err != nil {
		return fieldErr(at+".credential_hash", `"sha256:" and 64 lower-case hex digits`)
	}
	return nil
}

// VehicleChange is an update of a vehicle; nil fields stay as they are.
type VehicleChange struct {
	Model          *string
	Type           *string
	Status         *string
	NormalLimitKmh *int
}

func (c VehicleChange) validate() error {
	if c.Model != nil && utf8.RuneCountInString(*c.Model) > 100 {
		return fieldErr("model", "at most 100 characters")
	}
	if c.Type != nil && !typeRE.MatchString(*c.Type) {
		return fieldErr("type", "a GBFS vehicle_type_id: 1-64 characters of A-Z a-z 0-9 _ . -")
	}
	if c.Status != nil && !slices.Contains(AdminStatuses(), *c.Status) {
		return fieldErr("status", "one of "+strings.Join(AdminStatuses(), ", "))
	}
	if c.NormalLimitKmh != nil && (*c.NormalLimitKmh < 1 || *c.NormalLimitKmh > MaxNormalLimitKmh) {
		return fieldErr("normal_speed_limit_kmh", fmt.Sprintf("1-%d km/h", MaxNormalLimitKmh))
	}
	return nil
}

// VehicleFilter selects vehicles; zero fields do not filter.
type VehicleFilter struct {
	City   string // city code
	Status string
	Prefix string // vehicle number prefix
	After  string // continue after this vehicle number (the previous page's Next)
	Limit  int    // 1..MaxVehiclePage; 0 means DefaultVehiclePage
}

// Vehicle page sizes.
const (
	DefaultVehiclePage = 100
	MaxVehiclePage     = 1000
)

// VehiclePage is one page of vehicles ordered by number; Next is "" on the last page.
type VehiclePage struct {
	Vehicles []Vehicle
	Next     string
}

// Zone limits.
const (
	// MaxZoneSpeedKmh is the highest maximum_speed_kph a zone rule may set here (shared/zone
	// accepts up to 100 for any fleet; scooters never go above 50).
	MaxZoneSpeedKmh = 50
	// MaxZonesBytes bounds a geofencing document (the PUT's request body).
	MaxZonesBytes = 4 << 20
)

// ZoneVersion is one stored version of a city's geofencing document.
type ZoneVersion struct {
	CityID      int64
	Version     int
	Zones       int // features in the document
	Bytes       int // size of the stored document
	CreatedAt   time.Time
	CreatedBy   string // admin id, "" when unknown
	PublishedAt time.Time
}

// Tariff is a city's price list over [EffectiveFrom, EffectiveTo); amounts in minor units.
type Tariff struct {
	ID             int64
	CityID         int64
	Version        int
	Currency       string
	EffectiveFrom  time.Time
	EffectiveTo    time.Time // zero: open-ended
	UnlockFee      int64
	PerMinute      int64
	PerKm          int64
	PausePerMinute int64
	OutOfZoneFine  int64 // parking outside an allowed zone
	MinimumBalance int64
	Surcharges     []Surcharge
	CreatedAt      time.Time
	CreatedBy      string
}

// Surcharge is an extra price for time spent in (PerMinute) or a ride touching (Fixed) a
// zone of the city's geofencing document.
type Surcharge struct {
	Zone      string `json:"zone"`
	PerMinute int64  `json:"per_minute_minor"`
	Fixed     int64  `json:"fixed_minor"`
}

// NewTariff is a tariff version to add. Supersede closes the tariff in force at
// EffectiveFrom (its effective_to becomes EffectiveFrom) in the same transaction.
type NewTariff struct {
	EffectiveFrom  time.Time
	EffectiveTo    time.Time // zero: open-ended
	UnlockFee      int64
	PerMinute      int64
	PerKm          int64
	PausePerMinute int64
	OutOfZoneFine  int64
	MinimumBalance int64
	Surcharges     []Surcharge
	Supersede      bool
}

// MaxAmountMinor bounds every tariff amount (10 million minor units: 100,000.00 EUR).
const MaxAmountMinor = 10_000_000

func (n *NewTariff) validate(now time.Time) error {
	if n.EffectiveFrom.IsZero() {
		return fieldErr("effective_from", "required")
	}
	if !n.EffectiveTo.IsZero() && !n.EffectiveTo.After(n.EffectiveFrom) {
		return fieldErr("effective_to", "must be after effective_from")
	}
	if n.Supersede && n.EffectiveFrom.Before(now.Add(-time.Minute)) {
		return fieldErr("effective_from", "a superseding tariff cannot start in the past (rides were priced by the old one)")
	}
	for _, a := range []struct {
		f string
		v int64
	}{{"unlock_fee_minor", n.UnlockFee}, {"per_minute_minor", n.PerMinute}, {"per_km_minor", n.PerKm},
		{"pause_per_minute_minor", n.PausePerMinute}, {"parking_outside_zone_fine_minor", n.OutOfZoneFine},
		{"minimum_balance_minor", n.MinimumBalance}} {
		if a.v < 0 || a.v > MaxAmountMinor {
			return fieldErr(a.f, fmt.Sprintf("0-%d minor units", MaxAmountMinor))
		}
	}
	if len(n.Surcharges) > 100 {
		return fieldErr("zone_surcharges", "at most 100")
	}
	seen := map[string]bool{}
	for i, s := range n.Surcharges {
		at := fmt.Sprintf("zone_surcharges[%d]", i)
		switch {
		case s.Zone == "" || utf8.RuneCountInString(s.Zone) > 255:
			return fieldErr(at+".zone", "a zone id of the city's geofencing document")
		case seen[s.Zone]:
			return fieldErr(at+".zone", "listed twice")
		case s.PerMinute < 0 || s.PerMinute > MaxAmountMinor:
			return fieldErr(at+".per_minute_minor", fmt.Sprintf("0-%d minor units", MaxAmountMinor))
		case s.Fixed < 0 || s.Fixed > MaxAmountMinor:
			return fieldErr(at+".fixed_minor", fmt.Sprintf("0-%d minor units", MaxAmountMinor))
		}
		seen[s.Zone] = true
	}
	return nil
}

// DocState is where a city's document stands: Version is the latest change, Published the
// highest version put in the city's bucket.
type DocState struct {
	Kind         string
	Version      int64
	ChangedAt    time.Time
	Published    int64
	PublishedAt  time.Time
	PublishError string
}

// Pending reports whether the bucket lacks the latest change.
func (s DocState) Pending() bool { return s.Published < s.Version }
