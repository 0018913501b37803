package citycfg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
)

// Problem codes of this area (stable: dashboards and fleetctl switch on them).
const (
	CodeZonesInvalid  = "zones_invalid"
	CodeCityExists    = "city_exists"
	CodeGatewayExists = "gateway_exists"
	CodeVehicleExists = "vehicle_exists"
	CodeVehicleBusy   = "vehicle_busy"
	CodeTariffOverlap = "tariff_overlap"
)

// Request body limits.
const (
	maxVehiclesBody = 8 << 20 // 20,000 vehicles with hashes fit
)

// ---- bodies ----

// CityBody is a city.
type CityBody struct {
	Code      string         `json:"code" doc:"City code (a-z 0-9 _ -): also the NATS subject token of its gateways"`
	Name      string         `json:"name" doc:"Display name"`
	Timezone  string         `json:"timezone" doc:"IANA time zone (zone schedules use local time)"`
	Currency  string         `json:"currency" doc:"ISO 4217 currency of the city's tariffs"`
	CreatedAt time.Time      `json:"created_at" doc:"When the city was created"`
	Config    []DocStateBody `json:"config" nullable:"false" doc:"Where the city's gateway configuration documents stand (kinds never changed are absent)"`
}

// DocStateBody is where one configuration document of a city stands.
type DocStateBody struct {
	Kind             string     `json:"kind" enum:"zones,vehicles,tariffs" doc:"Document kind (key in the city's NATS KV bucket)"`
	Version          int64      `json:"version" doc:"Version of the latest change"`
	ChangedAt        time.Time  `json:"changed_at" doc:"When the latest change was committed"`
	PublishedVersion int64      `json:"published_version" doc:"Highest version put in the city's bucket for its gateways (0: never)"`
	PublishedAt      *time.Time `json:"published_at,omitempty" doc:"When a version was last put in the bucket; absent if never"`
	Pending          bool       `json:"pending" doc:"True while the bucket lacks the latest change; the cloud keeps retrying"`
	PublishError     string     `json:"publish_error,omitempty" doc:"Why the last push failed, if it did"`
}

func docStates(ss []DocState) []DocStateBody {
	out := make([]DocStateBody, 0, len(ss))
	for _, s := range ss {
		b := DocStateBody{Kind: s.Kind, Version: s.Version, ChangedAt: s.ChangedAt, PublishedVersion: s.Published,
			Pending: s.Pending(), PublishError: s.PublishError}
		if !s.PublishedAt.IsZero() {
			t := s.PublishedAt
			b.PublishedAt = &t
		}
		out = append(out, b)
	}
	return out
}

func cityBody(c City, ss []DocState) CityBody {
	return CityBody{Code: string(c.Code), Name: c.Name, Timezone: c.Timezone, Currency: c.Currency,
		CreatedAt: c.CreatedAt, Config: docStates(ss)}
}

// GatewayBody is a city gateway.
type GatewayBody struct {
	Code       string     `json:"code" doc:"Gateway code (a-z 0-9 _ -)"`
	City       string     `json:"city" doc:"Code of the city it serves"`
	Name       string     `json:"name" doc:"Display name (may be empty)"`
	Status     string     `json:"status" enum:"active,disabled" doc:"Disabled gateways are not expected to connect"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty" doc:"Last contact with the cloud; absent if never"`
	CreatedAt  time.Time  `json:"created_at" doc:"When the gateway was registered"`
}

func gatewayBody(g Gateway) GatewayBody {
	b := GatewayBody{Code: string(g.Code), City: string(g.CityCode), Name: g.Name, Status: g.Status, CreatedAt: g.CreatedAt}
	if !g.LastSeenAt.IsZero() {
		t := g.LastSeenAt
		b.LastSeenAt = &t
	}
	return b
}

// VehicleBody is a registered vehicle.
type VehicleBody struct {
	Number              string    `json:"number" doc:"Vehicle number: plate, QR code and MQTT client id"`
	City                string    `json:"city" doc:"Code of the vehicle's city"`
	Gateway             string    `json:"gateway,omitempty" doc:"Code of the gateway it is assigned to; absent if none"`
	Model               string    `json:"model" doc:"Hardware model (may be empty)"`
	Type                string    `json:"type" doc:"GBFS vehicle_type_id (zone rules may be per type)"`
	Status              string    `json:"status" enum:"available,reserved,in_ride,maintenance,charging,lost,retired" doc:"Fleet status; retired vehicles cannot connect to the gateway"`
	NormalSpeedLimitKmh int       `json:"normal_speed_limit_kmh" doc:"Speed limit outside slow zones, km/h"`
	FirmwareVersion     string    `json:"firmware_version,omitempty" doc:"Last reported firmware version; absent if unknown"`
	HasCredential       bool      `json:"has_credential" doc:"Whether a device secret is set (its hash is never shown)"`
	CreatedAt           time.Time `json:"created_at" doc:"When the vehicle was registered"`
	UpdatedAt           time.Time `json:"updated_at" doc:"Last change of the registration"`
}

func vehicleBody(v Vehicle) VehicleBody {
	return VehicleBody{Number: v.Number, City: string(v.CityCode), Gateway: string(v.GatewayCode), Model: v.Model,
		Type: v.Type, Status: v.Status, NormalSpeedLimitKmh: v.NormalLimitKmh, FirmwareVersion: v.FirmwareVersion,
		HasCredential: v.HasCredential, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

// NewVehicleBody is one vehicle to register.
type NewVehicleBody struct {
	Number              string `json:"number" minLength:"1" maxLength:"32" pattern:"^[A-Za-z0-9_-]+$" doc:"Vehicle number: plate, QR code and MQTT client id"`
	Model               string `json:"model,omitempty" maxLength:"100" doc:"Hardware model"`
	Type                string `json:"type,omitempty" maxLength:"64" doc:"GBFS vehicle_type_id (default escooter)"`
	NormalSpeedLimitKmh int    `json:"normal_speed_limit_kmh,omitempty" minimum:"0" maximum:"30" doc:"Speed limit outside slow zones, km/h (default 25)"`
	Gateway             string `json:"gateway,omitempty" maxLength:"64" doc:"Code of a gateway of the city to assign it to"`
}

func (b NewVehicleBody) domain() NewVehicle {
	return NewVehicle{Number: b.Number, Model: b.Model, Type: b.Type, NormalLimitKmh: b.NormalSpeedLimitKmh, Gateway: b.Gateway}
}

// ImportVehicleBody is one vehicle with a credential hash made at provisioning.
type ImportVehicleBody struct {
	NewVehicleBody
	CredentialHash string `json:"credential_hash" pattern:"^sha256:[0-9a-f]{64}$" doc:"Hash of the device secret (sha256:<64 hex>), as provisioning tools write it; never a secret"`
}

// CreatedVehicleBody is a registered vehicle and its device secret.
type CreatedVehicleBody struct {
	Vehicle      VehicleBody `json:"vehicle" doc:"The registered vehicle"`
	DeviceSecret string      `json:"device_secret" doc:"The vehicle's MQTT password. Shown once: store it on the scooter; the cloud keeps only its hash"`
}

// ZoneVersionBody is one version of a city's geofencing document.
type ZoneVersionBody struct {
	City        string     `json:"city" doc:"City code"`
	Version     int        `json:"version" doc:"Version number (1, 2, …); the highest is in force"`
	Zones       int        `json:"zones" doc:"Number of zones (features) in the document"`
	Bytes       int        `json:"bytes" doc:"Size of the stored document"`
	CreatedAt   time.Time  `json:"created_at" doc:"When it was uploaded"`
	CreatedBy   string     `json:"created_by,omitempty" format:"uuid" doc:"Admin who uploaded it; absent if unknown"`
	PublishedAt *time.Time `json:"published_at,omitempty" doc:"When it was put in force (on upload); absent if never"`
}

func zoneVersionBody(city string, z ZoneVersion) ZoneVersionBody {
	b := ZoneVersionBody{City: city, Version: z.Version, Zones: z.Zones, Bytes: z.Bytes, CreatedAt: z.CreatedAt, CreatedBy: z.CreatedBy}
	if !z.PublishedAt.IsZero() {
		t := z.PublishedAt
		b.PublishedAt = &t
	}
	return b
}

// SurchargeBody is an extra price in a zone.
type SurchargeBody struct {
	Zone           string `json:"zone" minLength:"1" maxLength:"255" doc:"Zone id in the city's geofencing document"`
	PerMinuteMinor int64  `json:"per_minute_minor" minimum:"0" doc:"Extra per started minute inside the zone, minor units"`
	FixedMinor     int64  `json:"fixed_minor" minimum:"0" doc:"Extra once for a ride that starts or ends in the zone, minor units"`
}

// TariffBody is a tariff version.
type TariffBody struct {
	ID                          int64           `json:"id" doc:"Tariff id (rides reference it)"`
	City                        string          `json:"city" doc:"City code"`
	Version                     int             `json:"version" doc:"Version within the city (1, 2, …)"`
	Currency                    string          `json:"currency" doc:"ISO 4217 currency (the city's)"`
	EffectiveFrom               time.Time       `json:"effective_from" doc:"Start of validity (inclusive)"`
	EffectiveTo                 *time.Time      `json:"effective_to,omitempty" doc:"End of validity (exclusive); absent: open-ended"`
	UnlockFeeMinor              int64           `json:"unlock_fee_minor" doc:"Price to unlock, minor units"`
	PerMinuteMinor              int64           `json:"per_minute_minor" doc:"Price per started ride minute, minor units"`
	PerKmMinor                  int64           `json:"per_km_minor" doc:"Price per km, minor units (0: none)"`
	PausePerMinuteMinor         int64           `json:"pause_per_minute_minor" doc:"Price per started paused minute, minor units"`
	ParkingOutsideZoneFineMinor int64           `json:"parking_outside_zone_fine_minor" doc:"Fine for ending where parking is not allowed, minor units"`
	MinimumBalanceMinor         int64           `json:"minimum_balance_minor" doc:"Balance a rider needs to start a ride, minor units"`
	ZoneSurcharges              []SurchargeBody `json:"zone_surcharges" nullable:"false" doc:"Extra prices per zone"`
	CreatedAt                   time.Time       `json:"created_at" doc:"When this version was created"`
	CreatedBy                   string          `json:"created_by,omitempty" format:"uuid" doc:"Admin who created it; absent if unknown"`
}

func tariffBody(city string, t Tariff) TariffBody {
	b := TariffBody{ID: t.ID, City: city, Version: t.Version, Currency: t.Currency, EffectiveFrom: t.EffectiveFrom,
		UnlockFeeMinor: t.UnlockFee, PerMinuteMinor: t.PerMinute, PerKmMinor: t.PerKm, PausePerMinuteMinor: t.PausePerMinute,
		ParkingOutsideZoneFineMinor: t.OutOfZoneFine, MinimumBalanceMinor: t.MinimumBalance,
		ZoneSurcharges: make([]SurchargeBody, 0, len(t.Surcharges)), CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy}
	if !t.EffectiveTo.IsZero() {
		to := t.EffectiveTo
		b.EffectiveTo = &to
	}
	for _, s := range t.Surcharges {
		b.ZoneSurcharges = append(b.ZoneSurcharges, SurchargeBody{Zone: s.Zone, PerMinuteMinor: s.PerMinute, FixedMinor: s.Fixed})
	}
	return b
}

// ---- inputs and outputs ----

// CityPath is the city path parameter.
type CityPath struct {
	City string `path:"city" maxLength:"64" doc:"City code"`
}

type createCityInput struct {
	Body struct {
		Code     string `json:"code" minLength:"1" maxLength:"64" pattern:"^[a-z0-9_-]+$" doc:"City code (a-z 0-9 _ -)"`
		Name     string `json:"name" minLength:"1" maxLength:"200" doc:"Display name"`
		Timezone string `json:"timezone,omitempty" maxLength:"64" doc:"IANA time zone (default UTC)"`
		Currency string `json:"currency" pattern:"^[A-Z]{3}$" doc:"ISO 4217 currency"`
	}
}

type cityOutput struct{ Body CityBody }

type citiesOutput struct {
	Body struct {
		Cities []CityBody `json:"cities" nullable:"false" doc:"Every city, by code"`
	}
}

type createGatewayInput struct {
	CityPath
	Body struct {
		Code string `json:"code" minLength:"1" maxLength:"64" pattern:"^[a-z0-9_-]+$" doc:"Gateway code (a-z 0-9 _ -)"`
		Name string `json:"name,omitempty" maxLength:"200" doc:"Display name"`
	}
}

type gatewayOutput struct{ Body GatewayBody }

type gatewaysOutput struct {
	Body struct {
		Gateways []GatewayBody `json:"gateways" nullable:"false" doc:"The city's gateways, by code"`
	}
}

type createVehiclesInput struct {
	CityPath
	Body struct {
		Vehicles []NewVehicleBody `json:"vehicles" minItems:"1" maxItems:"20000" nullable:"false" doc:"Vehicles to register (all or none)"`
	}
}

type createVehiclesOutput struct {
	Body struct {
		Vehicles []CreatedVehicleBody `json:"vehicles" nullable:"false" doc:"The registered vehicles with their device secrets (shown once)"`
		Config   []DocStateBody       `json:"config" nullable:"false" doc:"The vehicles document's push state"`
	}
}

type importVehiclesInput struct {
	CityPath
	Body struct {
		Vehicles []ImportVehicleBody `json:"vehicles" minItems:"1" maxItems:"20000" nullable:"false" doc:"Vehicles to create or update (all or none)"`
	}
}

type importVehiclesOutput struct {
	Body struct {
		Created   []string       `json:"created" nullable:"false" doc:"Numbers of the vehicles created"`
		Updated   []string       `json:"updated" nullable:"false" doc:"Numbers of the vehicles whose model, type, limit, gateway or credential changed"`
		Unchanged int            `json:"unchanged" doc:"How many were already registered as given"`
		Config    []DocStateBody `json:"config" nullable:"false" doc:"The vehicles document's push state (absent kinds: nothing changed)"`
	}
}

type listVehiclesInput struct {
	City   string `query:"city" maxLength:"64" doc:"Only vehicles of this city (code)"`
	Status string `query:"status" enum:"available,reserved,in_ride,maintenance,charging,lost,retired" doc:"Only vehicles with this status"`
	Q      string `query:"q" maxLength:"32" pattern:"^[A-Za-z0-9_-]*$" doc:"Only vehicle numbers starting with this prefix"`
	After  string `query:"after" maxLength:"32" doc:"Continue after this vehicle number (next of the previous page)"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size"`
}

type vehiclesOutput struct {
	Body struct {
		Vehicles []VehicleBody `json:"vehicles" nullable:"false" doc:"Vehicles ordered by number"`
		Next     string        `json:"next,omitempty" doc:"Pass as after for the next page; absent on the last page"`
	}
}

// VehiclePath is the vehicle path parameter.
type VehiclePath struct {
	Number string `path:"number" maxLength:"32" doc:"Vehicle number"`
}

type vehicleOutput struct {
	Body struct {
		Vehicle VehicleBody    `json:"vehicle" doc:"The vehicle"`
		Config  []DocStateBody `json:"config,omitempty" nullable:"false" doc:"The vehicles document's push state, when the change affects the gateway"`
	}
}

type updateVehicleInput struct {
	VehiclePath
	Body struct {
		Model               *string `json:"model,omitempty" maxLength:"100" doc:"New hardware model"`
		Type                *string `json:"type,omitempty" maxLength:"64" doc:"New GBFS vehicle_type_id"`
		Status              *string `json:"status,omitempty" enum:"available,maintenance,charging,lost,retired" doc:"New status (reserved and in_ride belong to rides)"`
		NormalSpeedLimitKmh *int    `json:"normal_speed_limit_kmh,omitempty" minimum:"1" maximum:"30" doc:"New speed limit outside slow zones, km/h"`
	}
}

type rotateOutput struct {
	Body struct {
		Vehicle      VehicleBody    `json:"vehicle" doc:"The vehicle"`
		DeviceSecret string         `json:"device_secret" doc:"The new MQTT password. Shown once; the old one stops working when the gateway has the new vehicles document"`
		Config       []DocStateBody `json:"config" nullable:"false" doc:"The vehicles document's push state"`
	}
}

type putZonesInput struct {
	CityPath
	RawBody []byte `contentType:"application/json"`
}

type putZonesOutput struct {
	Body struct {
		Zones   ZoneVersionBody `json:"zones" doc:"The version in force"`
		Created bool            `json:"created" doc:"False when the document equals the one in force (nothing changed)"`
		Config  []DocStateBody  `json:"config" nullable:"false" doc:"The zones document's push state"`
	}
}

type zoneVersionsOutput struct {
	Body struct {
		Versions []ZoneVersionBody `json:"versions" nullable:"false" doc:"Versions, newest first"`
	}
}

type zonesVersionInput struct {
	CityPath
	Version int `path:"version" minimum:"1" doc:"Version number"`
}

type zonesDocOutput struct {
	Body struct {
		Zones    ZoneVersionBody `json:"zones" doc:"The version"`
		Document map[string]any  `json:"document" doc:"The GBFS v3 geofencing_zones.json document as uploaded"`
	}
}

type createTariffInput struct {
	CityPath
	Body struct {
		EffectiveFrom               time.Time       `json:"effective_from" doc:"Start of validity (inclusive, RFC 3339)"`
		EffectiveTo                 *time.Time      `json:"effective_to,omitempty" doc:"End of validity (exclusive); absent: open-ended"`
		UnlockFeeMinor              int64           `json:"unlock_fee_minor" minimum:"0" maximum:"10000000" doc:"Price to unlock, minor units"`
		PerMinuteMinor              int64           `json:"per_minute_minor" minimum:"0" maximum:"10000000" doc:"Price per started ride minute, minor units"`
		PerKmMinor                  int64           `json:"per_km_minor,omitempty" minimum:"0" maximum:"10000000" doc:"Price per km, minor units"`
		PausePerMinuteMinor         int64           `json:"pause_per_minute_minor,omitempty" minimum:"0" maximum:"10000000" doc:"Price per started paused minute, minor units"`
		ParkingOutsideZoneFineMinor int64           `json:"parking_outside_zone_fine_minor,omitempty" minimum:"0" maximum:"10000000" doc:"Fine for ending where parking is not allowed, minor units"`
		MinimumBalanceMinor         int64           `json:"minimum_balance_minor,omitempty" minimum:"0" maximum:"10000000" doc:"Balance needed to start a ride, minor units"`
		ZoneSurcharges              []SurchargeBody `json:"zone_surcharges,omitempty" maxItems:"100" nullable:"false" doc:"Extra prices per zone"`
		Supersede                   bool            `json:"supersede,omitempty" doc:"Close the tariff in force at effective_from at that instant, in the same transaction (raise or lower prices from a date); effective_from must not be in the past"`
	}
}

type createTariffOutput struct {
	Body struct {
		Tariff TariffBody     `json:"tariff" doc:"The new tariff"`
		Closed *TariffBody    `json:"closed,omitempty" doc:"The superseded tariff with its new effective_to; absent if none was closed"`
		Config []DocStateBody `json:"config" nullable:"false" doc:"The tariffs document's push state"`
	}
}

type tariffsOutput struct {
	Body struct {
		Tariffs []TariffBody `json:"tariffs" nullable:"false" doc:"The city's tariffs by effective_from"`
	}
}

type currentTariffInput struct {
	CityPath
	At time.Time `query:"at" doc:"Instant (RFC 3339; default now)"`
}

type tariffOutput struct{ Body TariffBody }

// ---- registration ----

type handlers struct {
	svc *Service
	now func() time.Time
	log *slog.Logger
}

// Register adds the area's admin operations to api. svc does the work.
func Register(api *adminapi.API, svc *Service) {
	h := &handlers{svc: svc, now: svc.now, log: svc.log}
	manage, vread := adminapi.Requires(admin.PermVehiclesManage), adminapi.Requires(admin.PermVehiclesRead)
	p := adminapi.Prefix
	tag := []string{"Cities and vehicles"}
	adminapi.Register(api, huma.Operation{OperationID: "create-city", Method: http.MethodPost, Path: p + "/cities",
		Summary: "Create a city", Tags: tag, DefaultStatus: http.StatusCreated}, manage, []int{http.StatusConflict}, h.createCity)
	adminapi.Register(api, huma.Operation{OperationID: "list-cities", Method: http.MethodGet, Path: p + "/cities",
		Summary: "List cities", Tags: tag}, vread, nil, h.listCities)
	adminapi.Register(api, huma.Operation{OperationID: "get-city", Method: http.MethodGet, Path: p + "/cities/{city}",
		Summary: "Get a city and its configuration push state", Tags: tag}, vread, []int{http.StatusNotFound}, h.getCity)
	adminapi.Register(api, huma.Operation{OperationID: "create-gateway", Method: http.MethodPost, Path: p + "/cities/{city}/gateways",
		Summary: "Register a gateway of a city", Tags: tag, DefaultStatus: http.StatusCreated}, manage,
		[]int{http.StatusNotFound, http.StatusConflict}, h.createGateway)
	adminapi.Register(api, huma.Operation{OperationID: "list-gateways", Method: http.MethodGet, Path: p + "/cities/{city}/gateways",
		Summary: "List a city's gateways", Tags: tag}, vread, []int{http.StatusNotFound}, h.listGateways)
	adminapi.Register(api, huma.Operation{OperationID: "create-vehicles", Method: http.MethodPost, Path: p + "/cities/{city}/vehicles",
		Summary: "Register vehicles", Tags: tag, DefaultStatus: http.StatusCreated, MaxBodyBytes: maxVehiclesBody,
		Description: "Registers one or many vehicles, each with a new device secret returned once in this response " +
			"(the cloud stores only its hash). All or none. The city's gateways get the new vehicles document."},
		manage, []int{http.StatusNotFound, http.StatusConflict}, h.createVehicles)
	adminapi.Register(api, huma.Operation{OperationID: "import-vehicles", Method: http.MethodPost, Path: p + "/cities/{city}/vehicles/import",
		Summary: "Import vehicles with credential hashes", Tags: tag, MaxBodyBytes: maxVehiclesBody,
		Description: "Creates or updates vehicles whose device secrets were made at provisioning, from their hashes. " +
			"Idempotent: vehicles already registered as given are left alone. Statuses are not changed."},
		manage, []int{http.StatusNotFound, http.StatusConflict}, h.importVehicles)
	adminapi.Register(api, huma.Operation{OperationID: "list-vehicles", Method: http.MethodGet, Path: p + "/vehicles",
		Summary: "List vehicles", Tags: tag}, vread, []int{http.StatusNotFound}, h.listVehicles)
	adminapi.Register(api, huma.Operation{OperationID: "get-vehicle", Method: http.MethodGet, Path: p + "/vehicles/{number}",
		Summary: "Get a vehicle", Tags: tag}, vread, []int{http.StatusNotFound}, h.getVehicle)
	adminapi.Register(api, huma.Operation{OperationID: "update-vehicle", Method: http.MethodPatch, Path: p + "/vehicles/{number}",
		Summary: "Change a vehicle's model, type, status or speed limit", Tags: tag}, manage,
		[]int{http.StatusNotFound, http.StatusConflict}, h.updateVehicle)
	adminapi.Register(api, huma.Operation{OperationID: "rotate-vehicle-secret", Method: http.MethodPost, Path: p + "/vehicles/{number}/rotate-secret",
		Summary: "Give a vehicle a new device secret", Tags: tag}, manage, []int{http.StatusNotFound}, h.rotateSecret)

	ztag := []string{"Zones"}
	zpath := p + "/cities/{city}/zones"
	adminapi.Register(api, huma.Operation{OperationID: "put-zones", Method: http.MethodPut, Path: zpath,
		Summary: "Upload and publish a city's geofencing zones", Tags: ztag, MaxBodyBytes: MaxZonesBytes,
		SkipValidateBody: true, // validated by shared/zone, whose problems name their JSON path
		Description: "The body is a GBFS v3 geofencing_zones.json document (or a bare GeoJSON FeatureCollection of zones), " +
			"at most 4 MiB. It is validated as the gateways load it (valid GeoJSON, closed rings, known rules) with speeds " +
			"within 0-50 km/h; a 422 zones_invalid problem lists every problem by its JSON path in the document. " +
			"A valid document becomes the next version and is in force at once (published on upload) and pushed to the " +
			"city's gateways. A document equal to the one in force changes nothing (created false). To roll back, upload an older version's document."},
		adminapi.Requires(admin.PermZonesWrite), []int{http.StatusNotFound, http.StatusRequestEntityTooLarge}, h.putZones)
	setObjectBody(api, zpath, "A GBFS v3 geofencing_zones.json document (or a bare GeoJSON FeatureCollection of zones)")
	zread := adminapi.Requires(admin.PermZonesRead)
	adminapi.Register(api, huma.Operation{OperationID: "list-zone-versions", Method: http.MethodGet, Path: zpath,
		Summary: "List a city's geofencing document versions", Tags: ztag}, zread, []int{http.StatusNotFound}, h.listZoneVersions)
	adminapi.Register(api, huma.Operation{OperationID: "get-current-zones", Method: http.MethodGet, Path: zpath + "/current",
		Summary: "Get the geofencing document in force", Tags: ztag}, zread, []int{http.StatusNotFound}, h.currentZones)
	adminapi.Register(api, huma.Operation{OperationID: "get-zones-version", Method: http.MethodGet, Path: zpath + "/{version}",
		Summary: "Get one version of a city's geofencing document", Tags: ztag}, zread, []int{http.StatusNotFound}, h.zonesVersion)

	ttag := []string{"Tariffs"}
	tpath := p + "/cities/{city}/tariffs"
	adminapi.Register(api, huma.Operation{OperationID: "create-tariff", Method: http.MethodPost, Path: tpath,
		Summary: "Add a tariff version", Tags: ttag, DefaultStatus: http.StatusCreated,
		Description: "Adds a tariff in the city's currency valid over [effective_from, effective_to). Tariffs of a city never " +
			"overlap (409 tariff_overlap). To raise or lower prices from a date, set supersede: the tariff in force then is " +
			"closed at effective_from in the same transaction. The city's gateways get the new tariffs document."},
		adminapi.Requires(admin.PermTariffsWrite), []int{http.StatusNotFound, http.StatusConflict}, h.createTariff)
	tread := adminapi.Requires(admin.PermTariffsRead)
	adminapi.Register(api, huma.Operation{OperationID: "list-tariffs", Method: http.MethodGet, Path: tpath,
		Summary: "List a city's tariffs", Tags: ttag}, tread, []int{http.StatusNotFound}, h.listTariffs)
	adminapi.Register(api, huma.Operation{OperationID: "get-current-tariff", Method: http.MethodGet, Path: tpath + "/current",
		Summary: "Get the tariff in force at an instant", Tags: ttag}, tread, []int{http.StatusNotFound}, h.currentTariff)
	documentCodes(api)
}

// opCodes are the problem codes each operation of the area answers, by status, besides
// not_found (404), invalid_request (422) and the API-wide 401/403/500.
var opCodes = map[string]map[int][]string{
	"create-city":     {http.StatusConflict: {CodeCityExists}},
	"create-gateway":  {http.StatusConflict: {CodeGatewayExists}},
	"create-vehicles": {http.StatusConflict: {CodeVehicleExists}},
	"import-vehicles": {http.StatusConflict: {CodeVehicleExists}},
	"update-vehicle":  {http.StatusConflict: {CodeVehicleBusy}},
	"put-zones": {http.StatusUnprocessableEntity: {CodeZonesInvalid, adminapi.CodeInvalidRequest},
		http.StatusRequestEntityTooLarge: {adminapi.CodeInvalidRequest}},
	"create-tariff": {http.StatusConflict: {CodeTariffOverlap}},
}

// documentCodes makes the OpenAPI document name this area's problem codes, in the
// responses of its operations and in the Problem schema's code enum (adminapi documents
// the codes of its own operations only).
func documentCodes(api *adminapi.API) {
	oa := api.Huma().OpenAPI()
	for _, item := range oa.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Patch, item.Delete} {
			if op == nil || !isAreaOp(op.OperationID) {
				continue
			}
			codes := opCodes[op.OperationID]
			for st, resp := range op.Responses {
				var list []string
				switch {
				case st == "422" && codes[http.StatusUnprocessableEntity] == nil:
					list = []string{adminapi.CodeInvalidRequest}
				default:
					for status, cs := range codes {
						if fmt.Sprint(status) == st {
							list = cs
						}
					}
				}
				if list != nil && resp != nil {
					code, _ := strconv.Atoi(st)
					resp.Description = http.StatusText(code) + " (problem+json; codes: " + strings.Join(list, ", ") + ")"
				}
			}
		}
	}
	// The Problem schema's code enum: every code of the area.
	for _, byStatus := range opCodes {
		for status, codes := range byStatus {
			api.DeclareCodes(status, codes...)
		}
	}
}

// isAreaOp reports whether an operation id is one of this area's.
func isAreaOp(id string) bool {
	switch id {
	case "create-city", "list-cities", "get-city", "create-gateway", "list-gateways", "create-vehicles", "import-vehicles",
		"list-vehicles", "get-vehicle", "update-vehicle", "rotate-vehicle-secret", "put-zones", "list-zone-versions",
		"get-current-zones", "get-zones-version", "create-tariff", "list-tariffs", "get-current-tariff":
		return true
	}
	return false
}

// setObjectBody documents a RawBody operation's JSON body as an object (huma documents raw
// bodies as binary strings).
func setObjectBody(api *adminapi.API, path, doc string) {
	item := api.Huma().OpenAPI().Paths[path]
	if item == nil || item.Put == nil || item.Put.RequestBody == nil {
		return
	}
	item.Put.RequestBody.Required = true
	item.Put.RequestBody.Description = doc
	item.Put.RequestBody.Content = map[string]*huma.MediaType{
		"application/json": {Schema: &huma.Schema{Type: "object", Description: doc, AdditionalProperties: true}},
	}
}

func actor(ctx context.Context) audit.Actor {
	a, _ := adminapi.Actor(ctx)
	return a
}

// problem turns a domain error into a problem: the one place this area's errors become HTTP.
func (h *handlers) problem(op string, err error) error {
	var ze *ZonesError
	var fe *FieldError
	var nf *NotFoundError
	switch {
	case errors.As(err, &ze):
		p := adminapi.NewProblem(http.StatusUnprocessableEntity, CodeZonesInvalid, "the geofencing document is not valid")
		for _, z := range ze.Problems {
			loc := "body"
			if z.Field != "" {
				loc += "." + z.Field
			}
			p.Errors = append(p.Errors, &huma.ErrorDetail{Location: loc, Message: z.Message})
		}
		return p
	case errors.As(err, &fe):
		p := adminapi.NewProblem(http.StatusUnprocessableEntity, adminapi.CodeInvalidRequest, "validation failed")
		p.Errors = []*huma.ErrorDetail{{Location: "body." + fe.Field, Message: fe.Reason}}
		return p
	case errors.As(err, &nf):
		return adminapi.NewProblem(http.StatusNotFound, adminapi.CodeNotFound, "no such "+nf.What+": "+nf.Key)
	case errors.Is(err, ErrCityExists):
		return adminapi.NewProblem(http.StatusConflict, CodeCityExists, "a city with this code exists")
	case errors.Is(err, ErrGatewayExists):
		return adminapi.NewProblem(http.StatusConflict, CodeGatewayExists, "a gateway with this code exists")
	case errors.Is(err, ErrVehicleExists):
		return adminapi.NewProblem(http.StatusConflict, CodeVehicleExists, strings.TrimPrefix(err.Error(), "citycfg: "))
	case errors.Is(err, ErrVehicleBusy):
		return adminapi.NewProblem(http.StatusConflict, CodeVehicleBusy, "the vehicle is reserved or in a ride: end the ride first")
	case errors.Is(err, ErrTariffOverlap):
		return adminapi.NewProblem(http.StatusConflict, CodeTariffOverlap,
			"the validity overlaps another tariff of the city: end it first, or create with supersede")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return adminapi.NewProblem(http.StatusServiceUnavailable, adminapi.CodeUnavailable, "the request was cancelled or timed out")
	}
	h.log.Error("request failed", "op", op, "err", err)
	return adminapi.NewProblem(http.StatusInternalServerError, adminapi.CodeInternal, "internal error")
}

func (h *handlers) city(ctx context.Context, op, code string) (City, error) {
	c, err := CityByCode(ctx, h.svc.db, code)
	if err != nil {
		return City{}, h.problem(op, err)
	}
	return c, nil
}

func (h *handlers) createCity(ctx context.Context, in *createCityInput) (*cityOutput, error) {
	c, err := h.svc.CreateCity(ctx, actor(ctx), NewCity{Code: in.Body.Code, Name: in.Body.Name, Timezone: in.Body.Timezone,
		Currency: in.Body.Currency})
	if err != nil {
		return nil, h.problem("create-city", err)
	}
	return &cityOutput{Body: cityBody(c, nil)}, nil
}

func (h *handlers) listCities(ctx context.Context, _ *struct{}) (*citiesOutput, error) {
	cs, err := ListCities(ctx, h.svc.db)
	if err != nil {
		return nil, h.problem("list-cities", err)
	}
	out := &citiesOutput{}
	out.Body.Cities = make([]CityBody, 0, len(cs))
	for _, c := range cs {
		ss, err := DocStates(ctx, h.svc.db, c.ID)
		if err != nil {
			return nil, h.problem("list-cities", err)
		}
		out.Body.Cities = append(out.Body.Cities, cityBody(c, ss))
	}
	return out, nil
}

func (h *handlers) getCity(ctx context.Context, in *CityPath) (*cityOutput, error) {
	c, err := h.city(ctx, "get-city", in.City)
	if err != nil {
		return nil, err
	}
	ss, err := DocStates(ctx, h.svc.db, c.ID)
	if err != nil {
		return nil, h.problem("get-city", err)
	}
	return &cityOutput{Body: cityBody(c, ss)}, nil
}

func (h *handlers) createGateway(ctx context.Context, in *createGatewayInput) (*gatewayOutput, error) {
	g, err := h.svc.CreateGateway(ctx, actor(ctx), in.City, NewGateway{Code: in.Body.Code, Name: in.Body.Name})
	if err != nil {
		return nil, h.problem("create-gateway", err)
	}
	return &gatewayOutput{Body: gatewayBody(g)}, nil
}

func (h *handlers) listGateways(ctx context.Context, in *CityPath) (*gatewaysOutput, error) {
	c, err := h.city(ctx, "list-gateways", in.City)
	if err != nil {
		return nil, err
	}
	gs, err := ListGateways(ctx, h.svc.db, c.ID)
	if err != nil {
		return nil, h.problem("list-gateways", err)
	}
	out := &gatewaysOutput{}
	out.Body.Gateways = make([]GatewayBody, 0, len(gs))
	for _, g := range gs {
		out.Body.Gateways = append(out.Body.Gateways, gatewayBody(g))
	}
	return out, nil
}

func (h *handlers) createVehicles(ctx context.Context, in *createVehiclesInput) (*createVehiclesOutput, error) {
	vs := make([]NewVehicle, len(in.Body.Vehicles))
	for i, b := range in.Body.Vehicles {
		vs[i] = b.domain()
	}
	created, states, err := h.svc.CreateVehicles(ctx, actor(ctx), in.City, vs)
	if err != nil {
		return nil, h.problem("create-vehicles", err)
	}
	out := &createVehiclesOutput{}
	out.Body.Vehicles = make([]CreatedVehicleBody, 0, len(created))
	for _, c := range created {
		out.Body.Vehicles = append(out.Body.Vehicles, CreatedVehicleBody{Vehicle: vehicleBody(c.Vehicle), DeviceSecret: c.Secret})
	}
	out.Body.Config = docStates(states)
	return out, nil
}

func (h *handlers) importVehicles(ctx context.Context, in *importVehiclesInput) (*importVehiclesOutput, error) {
	vs := make([]ImportVehicle, len(in.Body.Vehicles))
	for i, b := range in.Body.Vehicles {
		vs[i] = ImportVehicle{NewVehicle: b.domain(), CredentialHash: b.CredentialHash}
	}
	res, states, err := h.svc.ImportVehicles(ctx, actor(ctx), in.City, vs)
	if err != nil {
		return nil, h.problem("import-vehicles", err)
	}
	out := &importVehiclesOutput{}
	out.Body.Created, out.Body.Updated, out.Body.Unchanged = res.Created, res.Updated, res.Unchanged
	out.Body.Config = docStates(states)
	return out, nil
}

func (h *handlers) listVehicles(ctx context.Context, in *listVehiclesInput) (*vehiclesOutput, error) {
	if in.City != "" {
		if _, err := h.city(ctx, "list-vehicles", in.City); err != nil {
			return nil, err
		}
	}
	page, err := ListVehicles(ctx, h.svc.db, VehicleFilter{City: in.City, Status: in.Status, Prefix: in.Q, After: in.After, Limit: in.Limit})
	if err != nil {
		return nil, h.problem("list-vehicles", err)
	}
	out := &vehiclesOutput{}
	out.Body.Vehicles = make([]VehicleBody, 0, len(page.Vehicles))
	for _, v := range page.Vehicles {
		out.Body.Vehicles = append(out.Body.Vehicles, vehicleBody(v))
	}
	out.Body.Next = page.Next
	return out, nil
}

func (h *handlers) getVehicle(ctx context.Context, in *VehiclePath) (*vehicleOutput, error) {
	v, err := VehicleByNumber(ctx, h.svc.db, in.Number)
	if err != nil {
		return nil, h.problem("get-vehicle", err)
	}
	out := &vehicleOutput{}
	out.Body.Vehicle = vehicleBody(v)
	return out, nil
}

func (h *handlers) updateVehicle(ctx context.Context, in *updateVehicleInput) (*vehicleOutput, error) {
	v, states, err := h.svc.UpdateVehicle(ctx, actor(ctx), in.Number, VehicleChange{Model: in.Body.Model, Type: in.Body.Type,
		Status: in.Body.Status, NormalLimitKmh: in.Body.NormalSpeedLimitKmh})
	if err != nil {
		return nil, h.problem("update-vehicle", err)
	}
	out := &vehicleOutput{}
	out.Body.Vehicle = vehicleBody(v)
	if states != nil {
		out.Body.Config = docStates(states)
	}
	return out, nil
}

func (h *handlers) rotateSecret(ctx context.Context, in *VehiclePath) (*rotateOutput, error) {
	v, secret, states, err := h.svc.RotateSecret(ctx, actor(ctx), in.Number)
	if err != nil {
		return nil, h.problem("rotate-vehicle-secret", err)
	}
	out := &rotateOutput{}
	out.Body.Vehicle, out.Body.DeviceSecret, out.Body.Config = vehicleBody(v), secret, docStates(states)
	return out, nil
}

func (h *handlers) putZones(ctx context.Context, in *putZonesInput) (*putZonesOutput, error) {
	zv, created, states, err := h.svc.PutZones(ctx, actor(ctx), in.City, in.RawBody)
	if err != nil {
		return nil, h.problem("put-zones", err)
	}
	out := &putZonesOutput{}
	out.Body.Zones, out.Body.Created, out.Body.Config = zoneVersionBody(in.City, zv), created, docStates(states)
	return out, nil
}

func (h *handlers) listZoneVersions(ctx context.Context, in *CityPath) (*zoneVersionsOutput, error) {
	c, err := h.city(ctx, "list-zone-versions", in.City)
	if err != nil {
		return nil, err
	}
	zs, err := ZoneVersions(ctx, h.svc.db, c.ID)
	if err != nil {
		return nil, h.problem("list-zone-versions", err)
	}
	out := &zoneVersionsOutput{}
	out.Body.Versions = make([]ZoneVersionBody, 0, len(zs))
	for _, z := range zs {
		out.Body.Versions = append(out.Body.Versions, zoneVersionBody(in.City, z))
	}
	return out, nil
}

func (h *handlers) zonesDoc(ctx context.Context, op string, c City, version int) (*zonesDocOutput, error) {
	zv, doc, err := ZonesAt(ctx, h.svc.db, c.ID, version)
	if err != nil {
		return nil, h.problem(op, err)
	}
	out := &zonesDocOutput{}
	out.Body.Zones = zoneVersionBody(string(c.Code), zv)
	if err := jsonUnmarshal(doc, &out.Body.Document); err != nil {
		return nil, h.problem(op, err)
	}
	return out, nil
}

func (h *handlers) currentZones(ctx context.Context, in *CityPath) (*zonesDocOutput, error) {
	c, err := h.city(ctx, "get-current-zones", in.City)
	if err != nil {
		return nil, err
	}
	version, _, err := CurrentZones(ctx, h.svc.db, c.ID)
	if err != nil {
		return nil, h.problem("get-current-zones", err)
	}
	return h.zonesDoc(ctx, "get-current-zones", c, version)
}

func (h *handlers) zonesVersion(ctx context.Context, in *zonesVersionInput) (*zonesDocOutput, error) {
	c, err := h.city(ctx, "get-zones-version", in.City)
	if err != nil {
		return nil, err
	}
	return h.zonesDoc(ctx, "get-zones-version", c, in.Version)
}

func (h *handlers) createTariff(ctx context.Context, in *createTariffInput) (*createTariffOutput, error) {
	b := in.Body
	n := NewTariff{EffectiveFrom: b.EffectiveFrom, UnlockFee: b.UnlockFeeMinor, PerMinute: b.PerMinuteMinor, PerKm: b.PerKmMinor,
		PausePerMinute: b.PausePerMinuteMinor, OutOfZoneFine: b.ParkingOutsideZoneFineMinor, MinimumBalance: b.MinimumBalanceMinor,
		Supersede: b.Supersede}
	if b.EffectiveTo != nil {
		n.EffectiveTo = *b.EffectiveTo
	}
	for _, s := range b.ZoneSurcharges {
		n.Surcharges = append(n.Surcharges, Surcharge{Zone: s.Zone, PerMinute: s.PerMinuteMinor, Fixed: s.FixedMinor})
	}
	t, closed, states, err := h.svc.CreateTariff(ctx, actor(ctx), in.City, n)
	if err != nil {
		return nil, h.problem("create-tariff", err)
	}
	out := &createTariffOutput{}
	out.Body.Tariff, out.Body.Config = tariffBody(in.City, t), docStates(states)
	if closed.ID != 0 {
		cb := tariffBody(in.City, closed)
		out.Body.Closed = &cb
	}
	return out, nil
}

func (h *handlers) listTariffs(ctx context.Context, in *CityPath) (*tariffsOutput, error) {
	c, err := h.city(ctx, "list-tariffs", in.City)
	if err != nil {
		return nil, err
	}
	ts, err := ListTariffs(ctx, h.svc.db, c.ID)
	if err != nil {
		return nil, h.problem("list-tariffs", err)
	}
	out := &tariffsOutput{}
	out.Body.Tariffs = make([]TariffBody, 0, len(ts))
	for _, t := range ts {
		out.Body.Tariffs = append(out.Body.Tariffs, tariffBody(in.City, t))
	}
	return out, nil
}

func (h *handlers) currentTariff(ctx context.Context, in *currentTariffInput) (*tariffOutput, error) {
	c, err := h.city(ctx, "get-current-tariff", in.City)
	if err != nil {
		return nil, err
	}
	at := in.At
	if at.IsZero() {
		at = h.now()
	}
	t, err := TariffAt(ctx, h.svc.db, c.ID, at)
	if err != nil {
		return nil, h.problem("get-current-tariff", err)
	}
	return &tariffOutput{Body: tariffBody(in.City, t)}, nil
}
