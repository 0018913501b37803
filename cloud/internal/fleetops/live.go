package fleetops

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Connectivity values of the live map ("unknown": the vehicle is registered but this process
// has seen nothing of it since it started).
const (
	ConnOnline  = "online"
	ConnOffline = "offline"
	ConnLost    = "lost"
	ConnUnknown = "unknown"
)

// FleetLiveVehicle is one vehicle on the live map.
type FleetLiveVehicle struct {
	Number       string    `json:"number" doc:"Vehicle number (plate / QR code, MQTT client id)"`
	Registered   bool      `json:"registered" doc:"The vehicle is in the PostgreSQL vehicles registry"`
	Status       string    `json:"status,omitempty" doc:"Registry status (available, reserved, in_ride, maintenance, charging, lost, retired); empty when not registered"`
	Model        string    `json:"model,omitempty" doc:"Registry model"`
	Connectivity string    `json:"connectivity" enum:"online,offline,lost,unknown" doc:"Last connectivity state reported by the gateway; unknown when none arrived yet"`
	HasPosition  bool      `json:"has_position" doc:"A position was reported (lat/lon are meaningful)"`
	Lat          float64   `json:"lat" doc:"Latitude, WGS84 decimal degrees"`
	Lon          float64   `json:"lon" doc:"Longitude, WGS84 decimal degrees"`
	PositionAt   time.Time `json:"position_at,omitzero" doc:"When the position was received by the gateway"`
	LBS          bool      `json:"lbs,omitempty" doc:"The position comes from cell towers (coarse)"`
	BatteryPct   int       `json:"battery_pct" doc:"Battery level in percent (0 when never reported)"`
	SpeedKmh     float64   `json:"speed_kmh" doc:"Current speed in km/h"`
	Powered      bool      `json:"powered" doc:"Powered on (unlocked for a ride)"`
	Paused       bool      `json:"paused" doc:"In pause mode"`
	Fallen       bool      `json:"fallen" doc:"Reported fallen"`
	AtStation    bool      `json:"at_station" doc:"At a charging station"`
	ErrorCode    int       `json:"error_code" doc:"Controller fault code (PROTOCOL.md code 16 field e); 0 = none"`
	Gateway      string    `json:"gateway,omitempty" doc:"Gateway of the newest record"`
	LastSeen     time.Time `json:"last_seen,omitzero" doc:"Time of the newest record or event; absent when never seen"`
}

// FleetLiveMap is the live map of a city.
type FleetLiveMap struct {
	City        string             `json:"city" doc:"City code"`
	GeneratedAt time.Time          `json:"generated_at" doc:"When the map was built"`
	Count       int                `json:"count" doc:"Number of vehicles in the list"`
	Vehicles    []FleetLiveVehicle `json:"vehicles" nullable:"false" doc:"Vehicles ordered by number"`
}

type liveInput struct {
	City         string `path:"city" pattern:"^[a-z0-9_-]{1,64}$" doc:"City code"`
	Connectivity string `query:"connectivity" enum:"online,offline,lost,unknown" doc:"Only vehicles in this connectivity state"`
	BatteryBelow int    `query:"battery_below" minimum:"0" maximum:"101" doc:"Only vehicles whose battery is below this percent (0: no filter)"`
	Registered   string `query:"registered" enum:"yes,no" doc:"Only registered (yes) or unregistered (no) vehicles"`
}

type liveOutput struct{ Body FleetLiveMap }

func (s *Service) registerLive(api *adminapi.API) {
	adminapi.Register(api, huma.Operation{
		OperationID: "fleet-live-map", Method: http.MethodGet, Path: adminapi.Prefix + "/fleet/cities/{city}/live",
		Summary: "Live map of a city", Tags: []string{"Fleet"},
		Description: "Every vehicle of the city with its latest state: the cloud's live state (fed by the gateways) " +
			"joined with the vehicles registry. Registered vehicles never seen since the cloud started have connectivity unknown.",
	}, adminapi.Requires(admin.PermVehiclesRead), []int{http.StatusNotFound}, func(ctx context.Context, in *liveInput) (*liveOutput, error) {
		m, err := s.LiveMap(ctx, link.CityID(in.City), LiveFilter{Connectivity: in.Connectivity, BatteryBelow: in.BatteryBelow, Registered: in.Registered})
		if err != nil {
			return nil, s.problem("live map", err)
		}
		return &liveOutput{Body: m}, nil
	})
}

// LiveFilter narrows the live map; zero values filter nothing.
type LiveFilter struct {
	Connectivity string
	BatteryBelow int
	Registered   string // "yes", "no" or ""
}

type registryRow struct {
	number, status, model string
}

// registry returns the registered vehicles of city ordered by number.
func (s *Service) registry(ctx context.Context, city link.CityID) ([]registryRow, error) {
	rows, err := s.cfg.PG.Query(ctx, `SELECT v.number, v.status, v.model FROM vehicles v JOIN cities c ON c.id = v.city_id
 WHERE c.code = $1 ORDER BY v.number`, string(city))
	if err != nil {
		return nil, fmt.Errorf("fleetops: registry of %s: %w", city, err)
	}
	defer rows.Close()
	var out []registryRow
	for rows.Next() {
		var r registryRow
		if err := rows.Scan(&r.number, &r.status, &r.model); err != nil {
			return nil, fmt.Errorf("fleetops: registry of %s: %w", city, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fleetops: registry of %s: %w", city, err)
	}
	return out, nil
}

// LiveMap builds the live map of city: the union of the registry and the live state, ordered
// by number, filtered by f.
func (s *Service) LiveMap(ctx context.Context, city link.CityID, f LiveFilter) (FleetLiveMap, error) {
	reg, err := s.registry(ctx, city)
	if err != nil {
		return FleetLiveMap{}, err
	}
	live := s.liveOf(city)
	if len(reg) == 0 && len(live) == 0 {
		var known bool
		if err := s.cfg.PG.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cities WHERE code = $1)`, string(city)).Scan(&known); err != nil {
			return FleetLiveMap{}, fmt.Errorf("fleetops: city %s: %w", city, err)
		}
		if !known {
			return FleetLiveMap{}, fmt.Errorf("%w: city %s (not registered, no vehicle seen)", ErrNotFound, city)
		}
	}
	// Registry order (sorted by the query) with each vehicle's live state looked up by number,
	// then the unregistered live vehicles merged in: no sort of the whole fleet.
	byNumber := make(map[string]int, len(live))
	for i := range live {
		byNumber[live[i].Number] = i
	}
	registered := make([]FleetLiveVehicle, len(reg))
	for i, r := range reg {
		if j, ok := byNumber[r.number]; ok {
			registered[i] = live[j]
			registered[i].Registered, registered[i].Status, registered[i].Model = true, r.status, r.model
			delete(byNumber, r.number)
		} else {
			registered[i] = fromRegistry(r)
		}
	}
	others := make([]int, 0, len(byNumber))
	for _, j := range byNumber {
		others = append(others, j)
	}
	slices.SortFunc(others, func(a, b int) int { return strings.Compare(live[a].Number, live[b].Number) })
	out := make([]FleetLiveVehicle, 0, len(registered)+len(others))
	for i, k := 0, 0; i < len(registered) || k < len(others); {
		var v *FleetLiveVehicle
		if k >= len(others) || (i < len(registered) && registered[i].Number < live[others[k]].Number) {
			v = &registered[i]
			i++
		} else {
			v = &live[others[k]]
			k++
		}
		if f.keep(v) {
			out = append(out, *v)
		}
	}
	return FleetLiveMap{City: string(city), GeneratedAt: s.now(), Count: len(out), Vehicles: out}, nil
}

// liveOf returns the live state of city's vehicles as map entries, in no particular order.
// It uses List's filter as a visitor (called under the shard's read lock, so reading the
// vehicle is safe) and keeps nothing, so List neither copies nor sorts the whole fleet.
func (s *Service) liveOf(city link.CityID) []FleetLiveVehicle {
	out := make([]FleetLiveVehicle, 0, s.cfg.Live.Len())
	var mu sync.Mutex // List visits shards one after another today; do not rely on it
	s.cfg.Live.List(city, func(v *livestate.Vehicle) bool {
		lv := fromLive(v)
		mu.Lock()
		out = append(out, lv)
		mu.Unlock()
		return false
	})
	return out
}

func (f LiveFilter) keep(v *FleetLiveVehicle) bool {
	switch {
	case f.Connectivity != "" && v.Connectivity != f.Connectivity:
		return false
	case f.BatteryBelow > 0 && v.BatteryPct >= f.BatteryBelow:
		return false
	case f.Registered == "yes" && !v.Registered, f.Registered == "no" && v.Registered:
		return false
	}
	return true
}

func fromRegistry(r registryRow) FleetLiveVehicle {
	return FleetLiveVehicle{Number: r.number, Registered: true, Status: r.status, Model: r.model, Connectivity: ConnUnknown}
}

func fromLive(l *livestate.Vehicle) FleetLiveVehicle {
	conn := l.Connectivity
	if conn == "" {
		conn = ConnUnknown
	}
	return FleetLiveVehicle{
		Number: l.ID, Connectivity: conn,
		HasPosition: !l.PositionAt.IsZero(), Lat: l.Position.Lat, Lon: l.Position.Lon, PositionAt: l.PositionAt.UTC(),
		LBS: l.Position.LBS, BatteryPct: l.BatteryPct, SpeedKmh: l.SpeedKmh,
		Powered: l.Status.Powered, Paused: l.Status.Paused, Fallen: l.Status.Fallen, AtStation: l.Status.AtStation,
		ErrorCode: l.Status.ErrorCode, Gateway: string(l.Gateway), LastSeen: l.LastSeen.UTC(),
	}
}

// locate returns the city of a vehicle: the registry's, else the live state's (the newest
// record across cities). ok is false when neither knows the vehicle.
func (s *Service) locate(ctx context.Context, number string) (city link.CityID, registered bool, err error) {
	var code string
	err = s.cfg.PG.QueryRow(ctx, `SELECT c.code FROM vehicles v JOIN cities c ON c.id = v.city_id WHERE v.number = $1`, number).Scan(&code)
	switch {
	case err == nil:
		return link.CityID(code), true, nil
	case !isNoRows(err):
		return "", false, fmt.Errorf("fleetops: locate %s: %w", number, err)
	}
	found := s.cfg.Live.List("", func(v *livestate.Vehicle) bool { return v.ID == number })
	if len(found) == 0 {
		return "", false, fmt.Errorf("%w: vehicle %s", ErrNotFound, number)
	}
	slices.SortFunc(found, func(a, b livestate.Vehicle) int { return b.LastSeen.Compare(a.LastSeen) })
	return found[0].City, false, nil
}
