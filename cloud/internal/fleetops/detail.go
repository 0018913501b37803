package fleetops

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
)

// FleetTelemetryPoint is one telemetry record of a vehicle (a wide row: the groups the record
// carried and the latest known value of the others).
type FleetTelemetryPoint struct {
	Time          time.Time `json:"time" doc:"When the gateway received the report"`
	Gateway       string    `json:"gateway" doc:"Gateway that forwarded the record"`
	Seq           uint64    `json:"seq" doc:"Gateway-local sequence number of the record"`
	Lat           float64   `json:"lat" doc:"Latitude, WGS84 decimal degrees (0 with lon 0: no position yet)"`
	Lon           float64   `json:"lon" doc:"Longitude, WGS84 decimal degrees"`
	SpeedKmh      float32   `json:"speed_kmh" doc:"Speed in km/h"`
	SpeedLimitKmh uint8     `json:"speed_limit_kmh" doc:"Speed limit in force, km/h (0 when unknown)"`
	BatteryPct    uint8     `json:"battery_pct" doc:"Battery level in percent"`
	VoltageV      float32   `json:"voltage_v" doc:"Battery voltage in volts"`
	Signal        uint8     `json:"signal" doc:"4G signal level as reported"`
	Powered       bool      `json:"powered" doc:"Powered on"`
	Paused        bool      `json:"paused" doc:"In pause mode"`
	Fallen        bool      `json:"fallen" doc:"Reported fallen"`
	AtStation     bool      `json:"at_station" doc:"At a charging station"`
	ErrorCode     uint16    `json:"error_code" doc:"Controller fault code; 0 = none"`
}

// FleetVehicleEvent is one event of a vehicle from PostgreSQL vehicle_events.
type FleetVehicleEvent struct {
	At      time.Time      `json:"at" doc:"When it happened (gateway time)"`
	Kind    string         `json:"kind" doc:"Event kind: ride_started, ride_ended, alarm, command_result, state_changed, security, firmware, …"`
	Gateway string         `json:"gateway" doc:"Gateway that reported it"`
	Seq     int64          `json:"seq" doc:"Gateway-local sequence number"`
	Payload map[string]any `json:"payload" doc:"The kind's payload as a JSON object (protocol/link Event payloads)"`
}

// FleetOpenRide is the vehicle's ride in progress.
type FleetOpenRide struct {
	ID        string    `json:"id" doc:"Ride id (UUID)"`
	RiderID   string    `json:"rider_id" doc:"Rider id (UUID)"`
	State     string    `json:"state" doc:"Ride state (starting, active, paused)"`
	StartedAt time.Time `json:"started_at" doc:"When the ride started"`
}

// FleetVehicleDetail is everything the admin sees about one vehicle.
type FleetVehicleDetail struct {
	Number          string                `json:"number" doc:"Vehicle number"`
	City            string                `json:"city" doc:"City code (from the registry, else from the live state)"`
	Registered      bool                  `json:"registered" doc:"The vehicle is in the vehicles registry"`
	FirmwareVersion string                `json:"firmware_version,omitempty" doc:"Firmware version recorded in the registry"`
	Live            FleetLiveVehicle      `json:"live" doc:"Latest state (connectivity unknown when not seen since the cloud started)"`
	Telemetry       []FleetTelemetryPoint `json:"telemetry" nullable:"false" doc:"Recent telemetry records, newest first"`
	TelemetryError  string                `json:"telemetry_error,omitempty" doc:"Why telemetry is missing (ClickHouse unavailable), when it is"`
	Events          []FleetVehicleEvent   `json:"events" nullable:"false" doc:"Recent events, newest first"`
	HasOpenRide     bool                  `json:"has_open_ride" doc:"The vehicle has a ride in progress"`
	OpenRide        FleetOpenRide         `json:"open_ride,omitzero" doc:"The ride in progress, when has_open_ride"`
}

type detailInput struct {
	Number         string `path:"number" pattern:"^[A-Za-z0-9_-]{1,32}$" doc:"Vehicle number"`
	TelemetryLimit int    `query:"telemetry_limit" minimum:"1" maximum:"1000" default:"50" doc:"How many telemetry records at most"`
	EventLimit     int    `query:"event_limit" minimum:"1" maximum:"1000" default:"50" doc:"How many events at most"`
	SinceMinutes   int    `query:"since_minutes" minimum:"1" maximum:"10080" default:"60" doc:"Telemetry and events of the last this many minutes"`
}

type detailOutput struct{ Body FleetVehicleDetail }

// RouteBody is a route replay.
type RouteBody struct {
	Number string       `json:"number" doc:"Vehicle number"`
	City   string       `json:"city" doc:"City code"`
	From   time.Time    `json:"from" doc:"Window start (inclusive)"`
	To     time.Time    `json:"to" doc:"Window end (exclusive)"`
	Points int          `json:"points" doc:"Number of fixes"`
	Route  RouteFeature `json:"route" doc:"The route as a GeoJSON Feature"`
}

type routeInput struct {
	Number string    `path:"number" pattern:"^[A-Za-z0-9_-]{1,32}$" doc:"Vehicle number"`
	From   time.Time `query:"from" required:"true" doc:"Window start, RFC 3339"`
	To     time.Time `query:"to" required:"true" doc:"Window end, RFC 3339 (at most 7 days after from)"`
}

type routeOutput struct{ Body RouteBody }

// MaxRouteWindow bounds a route replay.
const MaxRouteWindow = 7 * 24 * time.Hour

func (s *Service) registerDetail(api *adminapi.API) {
	adminapi.Register(api, huma.Operation{
		OperationID: "fleet-vehicle-detail", Method: http.MethodGet, Path: adminapi.Prefix + "/fleet/vehicles/{number}",
		Summary: "Vehicle detail", Tags: []string{"Fleet"},
		Description: "Live state, recent telemetry (ClickHouse), recent events (PostgreSQL) and the open ride of a vehicle.",
	}, adminapi.Requires(admin.PermVehiclesRead), []int{http.StatusNotFound}, func(ctx context.Context, in *detailInput) (*detailOutput, error) {
		d, err := s.Detail(ctx, in.Number, in.TelemetryLimit, in.EventLimit, time.Duration(in.SinceMinutes)*time.Minute)
		if err != nil {
			return nil, s.problem("vehicle detail", err)
		}
		return &detailOutput{Body: d}, nil
	})
	adminapi.Register(api, huma.Operation{
		OperationID: "fleet-vehicle-route", Method: http.MethodGet, Path: adminapi.Prefix + "/fleet/vehicles/{number}/route",
		Summary: "Route replay of a vehicle", Tags: []string{"Fleet"},
		Description: "The positions the vehicle reported in [from, to), in time order, as a GeoJSON LineString with the time of each point.",
	}, adminapi.Requires(admin.PermVehiclesRead), []int{http.StatusNotFound, http.StatusServiceUnavailable},
		func(ctx context.Context, in *routeInput) (*routeOutput, error) {
			r, err := s.Route(ctx, in.Number, in.From, in.To)
			if err != nil {
				return nil, s.problem("vehicle route", err)
			}
			return &routeOutput{Body: r}, nil
		})
}

// Detail assembles a vehicle's detail. ClickHouse being unavailable does not fail it (the
// telemetry is then empty with TelemetryError set).
func (s *Service) Detail(ctx context.Context, number string, telemetryLimit, eventLimit int, since time.Duration) (FleetVehicleDetail, error) {
	city, registered, err := s.locate(ctx, number)
	if err != nil {
		return FleetVehicleDetail{}, err
	}
	d := FleetVehicleDetail{Number: number, City: string(city), Registered: registered,
		Telemetry: []FleetTelemetryPoint{}, Events: []FleetVehicleEvent{}}
	if registered {
		var fw *string
		if err := s.cfg.PG.QueryRow(ctx, `SELECT v.firmware_version, v.status, v.model FROM vehicles v WHERE v.number = $1`, number).
			Scan(&fw, &d.Live.Status, &d.Live.Model); err != nil {
			return FleetVehicleDetail{}, fmt.Errorf("fleetops: detail %s: %w", number, err)
		}
		if fw != nil {
			d.FirmwareVersion = *fw
		}
	}
	status, model := d.Live.Status, d.Live.Model
	if lv, ok := s.cfg.Live.Get(city, number); ok {
		d.Live = fromLive(&lv)
	} else {
		d.Live = FleetLiveVehicle{Number: number, Connectivity: ConnUnknown}
	}
	d.Live.Registered, d.Live.Status, d.Live.Model = registered, status, model

	now := s.now()
	w := chstore.Window{From: now.Add(-since), To: now.Add(time.Second)}
	if ch := s.cfg.ClickHouse(); ch == nil {
		d.TelemetryError = "ClickHouse is not connected"
	} else if rows, err := ch.RecentTelemetry(ctx, string(city), number, w, telemetryLimit); err != nil {
		s.log.Warn("recent telemetry failed", "vehicle", number, "err", err)
		d.TelemetryError = "ClickHouse query failed"
	} else {
		for _, r := range rows {
			d.Telemetry = append(d.Telemetry, FleetTelemetryPoint{Time: r.Time, Gateway: r.Gateway, Seq: r.Seq, Lat: r.Lat, Lon: r.Lon,
				SpeedKmh: r.SpeedKmh, SpeedLimitKmh: r.SpeedLimitKmh, BatteryPct: r.BatteryPct, VoltageV: r.VoltageV, Signal: r.Signal,
				Powered: r.Powered, Paused: r.Paused, Fallen: r.Fallen, AtStation: r.AtStation, ErrorCode: r.ErrorCode})
		}
	}

	rows, err := s.cfg.PG.Query(ctx, `SELECT at, kind, gateway, seq, payload FROM vehicle_events
 WHERE city = $1 AND vehicle = $2 AND at >= $3 ORDER BY at DESC, id DESC LIMIT $4`, string(city), number, w.From, eventLimit)
	if err != nil {
		return FleetVehicleDetail{}, fmt.Errorf("fleetops: events of %s: %w", number, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e FleetVehicleEvent
		var payload []byte
		if err := rows.Scan(&e.At, &e.Kind, &e.Gateway, &e.Seq, &payload); err != nil {
			return FleetVehicleDetail{}, fmt.Errorf("fleetops: events of %s: %w", number, err)
		}
		e.At = e.At.UTC()
		if err := json.Unmarshal(payload, &e.Payload); err != nil {
			return FleetVehicleDetail{}, fmt.Errorf("fleetops: event payload of %s: %w", number, err)
		}
		d.Events = append(d.Events, e)
	}
	if err := rows.Err(); err != nil {
		return FleetVehicleDetail{}, fmt.Errorf("fleetops: events of %s: %w", number, err)
	}

	if registered {
		err := s.cfg.PG.QueryRow(ctx, `SELECT r.id::text, r.rider_id::text, r.state, r.started_at FROM rides r
 JOIN vehicles v ON v.id = r.vehicle_id
 WHERE v.number = $1 AND r.state NOT IN ('ended', 'cancelled') ORDER BY r.started_at DESC LIMIT 1`, number).
			Scan(&d.OpenRide.ID, &d.OpenRide.RiderID, &d.OpenRide.State, &d.OpenRide.StartedAt)
		switch {
		case err == nil:
			d.HasOpenRide = true
			d.OpenRide.StartedAt = d.OpenRide.StartedAt.UTC()
		case !isNoRows(err):
			return FleetVehicleDetail{}, fmt.Errorf("fleetops: open ride of %s: %w", number, err)
		}
	}
	return d, nil
}

// Route returns the route replay of a vehicle over [from, to).
func (s *Service) Route(ctx context.Context, number string, from, to time.Time) (RouteBody, error) {
	if !from.Before(to) {
		return RouteBody{}, invalidAt("query.to", "must be after from")
	}
	if to.Sub(from) > MaxRouteWindow {
		return RouteBody{}, invalidAt("query.to", "window longer than %s", MaxRouteWindow)
	}
	city, _, err := s.locate(ctx, number)
	if err != nil {
		return RouteBody{}, err
	}
	ch := s.cfg.ClickHouse()
	if ch == nil {
		return RouteBody{}, fmt.Errorf("%w: ClickHouse is not connected", ErrUnavailable)
	}
	pts, err := ch.RouteFixes(ctx, string(city), number, chstore.Window{From: from, To: to})
	if err != nil {
		return RouteBody{}, err
	}
	return RouteBody{Number: number, City: string(city), From: from.UTC(), To: to.UTC(), Points: len(pts), Route: routeFeature(pts)}, nil
}

// RouteFeature is a GeoJSON Feature holding a LineString.
type RouteFeature struct {
	Type       string          `json:"type" enum:"Feature" doc:"Always Feature"`
	Geometry   RouteLineString `json:"geometry" doc:"The fixes in time order"`
	Properties RouteProperties `json:"properties" doc:"Per-point times and speeds"`
}

// RouteLineString is a GeoJSON LineString.
type RouteLineString struct {
	Type        string       `json:"type" enum:"LineString" doc:"Always LineString"`
	Coordinates [][2]float64 `json:"coordinates" nullable:"false" doc:"[lon, lat] per fix (WGS84); a single fix appears twice so the line stays valid; empty when there is no fix"`
}

// RouteProperties carry what GeoJSON coordinates cannot.
type RouteProperties struct {
	Times     []time.Time `json:"times" nullable:"false" doc:"Time of each coordinate (RFC 3339)"`
	SpeedsKmh []float32   `json:"speeds_kmh" nullable:"false" doc:"Reported speed at each coordinate, km/h"`
}

// routeFeature renders fixes as a GeoJSON LineString Feature.
func routeFeature(pts []chstore.RoutePoint) RouteFeature {
	if len(pts) == 1 {
		pts = []chstore.RoutePoint{pts[0], pts[0]}
	}
	f := RouteFeature{Type: "Feature", Geometry: RouteLineString{Type: "LineString", Coordinates: make([][2]float64, len(pts))},
		Properties: RouteProperties{Times: make([]time.Time, len(pts)), SpeedsKmh: make([]float32, len(pts))}}
	for i, p := range pts {
		f.Geometry.Coordinates[i] = [2]float64{p.Lon, p.Lat}
		f.Properties.Times[i] = p.Time.UTC()
		f.Properties.SpeedsKmh[i] = p.SpeedKmh
	}
	return f
}
