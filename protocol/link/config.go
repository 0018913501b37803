package link

import (
	"encoding/json"
	"fmt"
	"time"
)

// ZonesDoc is the city's geofencing configuration: a GBFS v3 geofencing_zones.json
// document, kept as bytes so it reaches the gateway exactly as validated in the cloud.
type ZonesDoc struct {
	V        int             `json:"v"`
	City     CityID          `json:"city"`
	Version  int64           `json:"version"` // increases with every change
	Updated  time.Time       `json:"updated"`
	Geofence json.RawMessage `json:"geofencing_zones"`
}

// VehiclesDoc lists the city's vehicles with what the gateway needs to admit them.
type VehiclesDoc struct {
	V        int             `json:"v"`
	City     CityID          `json:"city"`
	Version  int64           `json:"version"`
	Updated  time.Time       `json:"updated"`
	Vehicles []VehicleConfig `json:"vehicles"`
}

// VehicleConfig is one vehicle as the gateway sees it.
type VehicleConfig struct {
	ID   string `json:"id"`   // vehicle number = MQTT client id and topic
	Type string `json:"type"` // GBFS vehicle_type_id, for per-type zone rules
	// CredentialHash is the stored hash of the device secret (never the secret).
	CredentialHash string `json:"credential_hash"`
	// NormalLimitKmh is the speed limit restored when the vehicle leaves a slow zone.
	NormalLimitKmh int  `json:"normal_limit_kmh"`
	Disabled       bool `json:"disabled,omitempty"`
}

// TariffsDoc carries the city's tariffs, so a gateway can price what it must settle
// alone (a ride it ended while the cloud was unreachable) identically to the cloud.
type TariffsDoc struct {
	V       int       `json:"v"`
	City    CityID    `json:"city"`
	Version int64     `json:"version"`
	Updated time.Time `json:"updated"`
	Tariffs []Tariff  `json:"tariffs"`
}

// Tariff is a price list in integer minor units of Currency.
type Tariff struct {
	ID             string      `json:"id"`
	Currency       string      `json:"currency"` // ISO 4217
	UnlockFee      int64       `json:"unlock_fee"`
	PerMinute      int64       `json:"per_minute"`
	PerKm          int64       `json:"per_km,omitempty"`
	PausePerMinute int64       `json:"pause_per_minute"`
	OutOfZoneFine  int64       `json:"out_of_zone_fine"`
	MinimumBalance int64       `json:"minimum_balance"`
	EffectiveFrom  time.Time   `json:"effective_from"`
	EffectiveTo    time.Time   `json:"effective_to,omitzero"`
	VehicleTypeIDs []string    `json:"vehicle_type_ids,omitempty"`
	ZoneSurcharges []Surcharge `json:"zone_surcharges,omitempty"`
}

// Surcharge is an extra amount for a ride that starts or ends in a zone.
type Surcharge struct {
	ZoneID string `json:"zone_id"`
	Amount int64  `json:"amount"`
}

func checkDoc(v int, city CityID, version int64) error {
	if v != Version {
		return fmt.Errorf("%w: v=%d, want %d", ErrVersion, v, Version)
	}
	if err := checkToken(string(city)); err != nil {
		return fmt.Errorf("%w: city: %v", ErrInvalid, err)
	}
	if version <= 0 {
		return fmt.Errorf("%w: document version must be positive", ErrInvalid)
	}
	return nil
}

// Validate checks the envelope; the GBFS document itself is validated by shared/zone.
func (d *ZonesDoc) Validate() error {
	if err := checkDoc(d.V, d.City, d.Version); err != nil {
		return err
	}
	if len(d.Geofence) == 0 {
		return fmt.Errorf("%w: zones document without geofencing_zones", ErrInvalid)
	}
	return nil
}

// Validate checks every vehicle entry.
func (d *VehiclesDoc) Validate() error {
	if err := checkDoc(d.V, d.City, d.Version); err != nil {
		return err
	}
	seen := make(map[string]bool, len(d.Vehicles))
	for i, v := range d.Vehicles {
		switch {
		case v.ID == "":
			return fmt.Errorf("%w: vehicle %d: no id", ErrInvalid, i)
		case seen[v.ID]:
			return fmt.Errorf("%w: vehicle %d: duplicate id %q", ErrInvalid, i, v.ID)
		case v.CredentialHash == "":
			return fmt.Errorf("%w: vehicle %q: no credential hash", ErrInvalid, v.ID)
		case v.NormalLimitKmh < 0 || v.NormalLimitKmh > 30:
			return fmt.Errorf("%w: vehicle %q: normal limit %d km/h outside 0-30", ErrInvalid, v.ID, v.NormalLimitKmh)
		}
		seen[v.ID] = true
	}
	return nil
}

// Validate checks every tariff: a currency, non-negative amounts, ordered dates.
func (d *TariffsDoc) Validate() error {
	if err := checkDoc(d.V, d.City, d.Version); err != nil {
		return err
	}
	for i, t := range d.Tariffs {
		if t.ID == "" || len(t.Currency) != 3 {
			return fmt.Errorf("%w: tariff %d: needs an id and a 3-letter currency", ErrInvalid, i)
		}
		for _, a := range []int64{t.UnlockFee, t.PerMinute, t.PerKm, t.PausePerMinute, t.OutOfZoneFine, t.MinimumBalance} {
			if a < 0 {
				return fmt.Errorf("%w: tariff %q: negative amount", ErrInvalid, t.ID)
			}
		}
		for _, s := range t.ZoneSurcharges {
			if s.ZoneID == "" || s.Amount < 0 {
				return fmt.Errorf("%w: tariff %q: bad zone surcharge", ErrInvalid, t.ID)
			}
		}
		if !t.EffectiveTo.IsZero() && !t.EffectiveTo.After(t.EffectiveFrom) {
			return fmt.Errorf("%w: tariff %q: effective_to not after effective_from", ErrInvalid, t.ID)
		}
	}
	return nil
}
