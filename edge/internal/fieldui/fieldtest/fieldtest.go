// Package fieldtest builds what the field UI's integration and browser tests
// share: a provisioned city (vehicles document with device credentials, a
// zones document, a technician's accounts file) and simulated scooters —
// real paho MQTT clients speaking PROTOCOL.md through package protocol, that
// report fixes and heartbeats, answer every command with its documented
// reply, and can be made to fall. Test support only: no production code
// imports it.
//
// (The full simulator lives in tools/sim; the edge module does not depend on
// the tools module, whose requirements move with load-test tooling, so these
// scooters are small and local.)
package fieldtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/fieldui"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// City is the city id of the provisioned files.
const City = "bcn"

// The technician written to the accounts file.
const (
	User     = "tech1"
	Password = "correct horse battery staple"
)

// Credential is one scooter's number, secret and home position.
type Credential struct {
	ID       string
	Secret   string
	Lat, Lon float64
}

// Files are the paths of a provisioned city and its scooters' credentials.
type Files struct {
	Vehicles, Zones, Accounts string
	Creds                     []Credential
}

// Provision writes n vehicles (ids BCN00000…, parked around Barcelona's
// Eixample), a zones document (operating area, a slow zone, a no-ride zone,
// a no-parking zone and a parking spot) and the technician's accounts into dir.
func Provision(dir string, n int) (Files, error) {
	var f Files
	doc := link.VehiclesDoc{V: link.Version, City: City, Version: 1, Updated: time.Now().UTC()}
	for i := range n {
		secret, hash, err := devicecred.Generate()
		if err != nil {
			return f, err
		}
		id := fmt.Sprintf("BCN%05d", i)
		doc.Vehicles = append(doc.Vehicles, link.VehicleConfig{ID: id, CredentialHash: hash, Type: "scooter", NormalLimitKmh: 25})
		f.Creds = append(f.Creds, Credential{ID: id, Secret: secret,
			Lat: 41.3870 + 0.0016*float64(i%5), Lon: 2.1590 + 0.0021*float64(i/5%7)})
	}
	h, err := fieldui.HashPassword(Password, fieldui.Argon2Params{MemoryKiB: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		return f, err
	}
	accounts := fieldui.AccountsDoc{V: fieldui.AccountsVersion, Version: 1,
		Accounts: []fieldui.AccountEntry{{Username: User, Name: "Test Technician", PasswordHash: h}}}
	f.Vehicles, f.Zones, f.Accounts = filepath.Join(dir, "vehicles.json"), filepath.Join(dir, "zones.json"), filepath.Join(dir, "accounts.json")
	for path, v := range map[string]any{f.Vehicles: doc, f.Accounts: accounts, f.Zones: zonesDoc()} {
		b, err := json.Marshal(v)
		if err != nil {
			return f, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

// zonesDoc is a bare GeoJSON FeatureCollection of zones (zone.Load accepts it).
func zonesDoc() any {
	rect := func(lon0, lat0, lon1, lat1 float64) [][][][2]float64 {
		return [][][][2]float64{{{{lon0, lat0}, {lon1, lat0}, {lon1, lat1}, {lon0, lat1}, {lon0, lat0}}}}
	}
	type rule struct {
		Start   bool `json:"ride_start_allowed"`
		End     bool `json:"ride_end_allowed"`
		Through bool `json:"ride_through_allowed"`
		Max     *int `json:"maximum_speed_kph,omitempty"`
	}
	ten, zero := 10, 0
	feature := func(id, kind string, r rule, geom [][][][2]float64) map[string]any {
		return map[string]any{"type": "Feature", "id": id,
			"properties": map[string]any{"name": []map[string]string{{"text": id, "language": "en"}}, "rules": []rule{r},
				"fleetedge": map[string]any{"kind": kind}},
			"geometry": map[string]any{"type": "MultiPolygon", "coordinates": geom}}
	}
	return map[string]any{"type": "FeatureCollection", "features": []any{
		feature("parking-1", "parking", rule{true, true, true, nil}, rect(2.1640, 41.3905, 2.1650, 41.3912)),
		feature("no-ride-1", "no_ride", rule{false, false, false, &zero}, rect(2.1700, 41.3900, 2.1740, 41.3930)),
		feature("slow-1", "slow", rule{true, true, true, &ten}, rect(2.1550, 41.3930, 2.1620, 41.3960)),
		feature("no-parking-1", "no_parking", rule{true, false, true, nil}, rect(2.1560, 41.3840, 2.1600, 41.3860)),
		feature("operating-area", "operating_area", rule{true, true, true, nil}, rect(2.1500, 41.3800, 2.1800, 41.4000)),
	}}
}
