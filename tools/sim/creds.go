package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// ErrConfig marks an invalid simulator configuration or credentials file.
var ErrConfig = errors.New("sim: invalid configuration")

// ErrUnknownVehicle is returned by fleet operations on a vehicle the fleet does
// not simulate.
var ErrUnknownVehicle = errors.New("sim: unknown vehicle")

// Credential is one simulated vehicle: its vehicle number (MQTT client id,
// username and topic) and its device secret (MQTT password).
type Credential struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
	// Type is the GBFS vehicle_type_id; NormalLimitKmh the limit the scooter
	// starts with (the gateway restores it when leaving a slow zone).
	Type           string `json:"type,omitempty"`
	NormalLimitKmh int    `json:"normal_limit_kmh,omitempty"`
}

// SecretsFile is the simulator's credentials file: vehicle numbers with their
// device secrets in clear. It exists for demos and load tests only; real
// devices keep their secret in the IoT module and the platform stores hashes.
type SecretsFile struct {
	Note     string       `json:"note"`
	City     string       `json:"city"`
	Vehicles []Credential `json:"vehicles"`
}

// ParseSecrets decodes and validates a credentials file.
func ParseSecrets(data []byte) (*SecretsFile, error) {
	var f SecretsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: credentials file: %v", ErrConfig, err)
	}
	seen := make(map[string]bool, len(f.Vehicles))
	for i, v := range f.Vehicles {
		if _, err := protocol.ParseVehicleID(v.ID); err != nil {
			return nil, fmt.Errorf("%w: credentials file: vehicle %d: %v", ErrConfig, i, err)
		}
		if v.Secret == "" {
			return nil, fmt.Errorf("%w: credentials file: vehicle %q has no secret", ErrConfig, v.ID)
		}
		if seen[v.ID] {
			return nil, fmt.Errorf("%w: credentials file: duplicate vehicle %q", ErrConfig, v.ID)
		}
		if v.NormalLimitKmh < 0 || v.NormalLimitKmh > 30 {
			return nil, fmt.Errorf("%w: credentials file: vehicle %q: normal limit %d outside 0-30", ErrConfig, v.ID, v.NormalLimitKmh)
		}
		seen[v.ID] = true
	}
	return &f, nil
}

// ProvisionOptions say which vehicles Provision creates.
type ProvisionOptions struct {
	City           link.CityID
	N              int
	Prefix         string // vehicle numbers are Prefix + 5-digit index, e.g. BCN00001
	Offset         int    // first index
	Type           string // GBFS vehicle_type_id
	NormalLimitKmh int
	Now            time.Time // the documents' Updated
}

// VehicleID is the vehicle number Provision gives to index i.
func VehicleID(prefix string, i int) string { return fmt.Sprintf("%s%05d", prefix, i) }

// Provision creates n vehicles with fresh random secrets: the gateway's
// document (hashes only) and the simulator's credentials file (secrets).
func Provision(o ProvisionOptions) (*link.VehiclesDoc, *SecretsFile, error) {
	if o.N <= 0 || o.N > 1_000_000 {
		return nil, nil, fmt.Errorf("%w: provision: n=%d outside 1-1000000", ErrConfig, o.N)
	}
	if o.Offset < 0 {
		return nil, nil, fmt.Errorf("%w: provision: negative offset", ErrConfig)
	}
	if _, err := link.ParseCityID(string(o.City)); err != nil {
		return nil, nil, fmt.Errorf("%w: provision: %v", ErrConfig, err)
	}
	doc := &link.VehiclesDoc{V: link.Version, City: o.City, Version: 1, Updated: o.Now.UTC()}
	sec := &SecretsFile{
		Note: "DEMO SECRETS ONLY: device secrets in clear for the scooter simulator. Never use for real vehicles.",
		City: string(o.City),
	}
	for i := o.Offset; i < o.Offset+o.N; i++ {
		id := VehicleID(o.Prefix, i)
		if _, err := protocol.ParseVehicleID(id); err != nil {
			return nil, nil, fmt.Errorf("%w: provision: %v", ErrConfig, err)
		}
		secret, hash, err := devicecred.Generate()
		if err != nil {
			return nil, nil, fmt.Errorf("sim: provision: %w", err)
		}
		doc.Vehicles = append(doc.Vehicles, link.VehicleConfig{ID: id, Type: o.Type, CredentialHash: hash, NormalLimitKmh: o.NormalLimitKmh})
		sec.Vehicles = append(sec.Vehicles, Credential{ID: id, Secret: secret, Type: o.Type, NormalLimitKmh: o.NormalLimitKmh})
	}
	if err := doc.Validate(); err != nil {
		return nil, nil, fmt.Errorf("sim: provision: %w", err)
	}
	return doc, sec, nil
}
