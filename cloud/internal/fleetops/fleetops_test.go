package fleetops

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/cloud/internal/natsbus"
	"github.com/fleetedge/fleetedge/protocol/link"
)

func ptr[T any](v T) *T { return &v }

// testEnv is the admin API on a fresh database with the fleet operations registered.
type testEnv struct {
	*adminapitest.Env
	svc  *Service
	live *livestate.Fleet
}

func newTestEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	e := adminapitest.New(t)
	if cfg.Live == nil {
		cfg.Live = livestate.New()
	}
	cfg.PG = e.DB.Pool
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(e.API)
	return &testEnv{Env: e, svc: svc, live: cfg.Live}
}

// seedCity adds a city and registered vehicles.
func (e *testEnv) seedCity(code string, vehicles ...string) {
	e.T.Helper()
	ctx := e.T.Context()
	var id int64
	if err := e.DB.Pool.QueryRow(ctx, `INSERT INTO cities (code, name, currency) VALUES ($1, $1, 'EUR') RETURNING id`, code).Scan(&id); err != nil {
		e.T.Fatal(err)
	}
	if len(vehicles) > 0 {
		if _, err := e.DB.Pool.Exec(ctx, `INSERT INTO vehicles (number, city_id, model) SELECT unnest($1::text[]), $2, 'es4'`, vehicles, id); err != nil {
			e.T.Fatal(err)
		}
	}
}

func (e *testEnv) fleetRoutes() []adminapi.Route {
	var out []adminapi.Route
	for _, r := range e.API.Routes() {
		if strings.HasPrefix(r.OperationID, "fleet-") {
			out = append(out, r)
		}
	}
	return out
}

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func TestLiveMapJoinsRegistryAndLiveState(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.seedCity("paris", "P001", "P002", "P003", "P004")
	e.seedCity("lyon", "L001")
	for i, v := range []string{"P002", "P003", "P004", "P006"} {
		e.live.Apply("paris", "gw1", &link.Telemetry{Seq: uint64(i + 1), Vehicle: v, Time: t0,
			Position: &link.Position{Lat: 48.85 + float64(i)/100, Lon: 2.35}, BatteryPct: ptr(10 + 30*i), SpeedKmh: ptr(12.5),
			Status: &link.Status{Powered: i == 0}})
	}
	e.live.ApplyEvent("paris", "gw1", &link.Event{Seq: 10, Vehicle: "P003", Time: t0.Add(time.Second), Kind: link.EventStateChanged,
		State: &link.StateEvent{From: "online", To: "offline"}})
	e.live.ApplyEvent("paris", "gw1", &link.Event{Seq: 11, Vehicle: "P002", Time: t0.Add(time.Second), Kind: link.EventStateChanged,
		State: &link.StateEvent{From: "offline", To: "online"}})
	e.live.Apply("lyon", "gw2", &link.Telemetry{Seq: 1, Vehicle: "L001", Time: t0, BatteryPct: ptr(5)})

	tok, _ := e.TokenWith(admin.PermVehiclesRead)
	get := func(query string) FleetLiveMap {
		t.Helper()
		r := e.Do("GET", adminapi.Prefix+"/fleet/cities/paris/live"+query, tok, nil)
		if r.Status != 200 {
			t.Fatalf("live map%s: %d %s", query, r.Status, r.Body)
		}
		var m FleetLiveMap
		r.JSON(t, &m)
		return m
	}
	m := get("")
	var got []string
	for _, v := range m.Vehicles {
		got = append(got, fmt.Sprintf("%s/%v/%s/%d", v.Number, v.Registered, v.Connectivity, v.BatteryPct))
	}
	want := "P001/true/unknown/0 P002/true/online/10 P003/true/offline/40 P004/true/unknown/70 P006/false/unknown/100"
	if strings.Join(got, " ") != want || m.Count != 5 || m.City != "paris" {
		t.Fatalf("live map:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	p2 := m.Vehicles[1]
	if !p2.HasPosition || p2.Lat != 48.85 || p2.Lon != 2.35 || p2.SpeedKmh != 12.5 || !p2.Powered || p2.Status != "available" ||
		p2.Model != "es4" || p2.Gateway != "gw1" || !p2.LastSeen.Equal(t0.Add(time.Second)) || !p2.PositionAt.Equal(t0) {
		t.Errorf("P002: %+v", p2)
	}
	if m.Vehicles[0].HasPosition || !m.Vehicles[0].LastSeen.IsZero() {
		t.Errorf("never-seen vehicle: %+v", m.Vehicles[0])
	}
	tests := []struct{ query, want string }{
		{"?connectivity=offline", "P003"},
		{"?battery_below=50", "P001 P002 P003"},
		{"?registered=no", "P006"},
		{"?connectivity=unknown&registered=yes", "P001 P004"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var n []string
			for _, v := range get(tt.query).Vehicles {
				n = append(n, v.Number)
			}
			if strings.Join(n, " ") != tt.want {
				t.Errorf("%s: %v, want %s", tt.query, n, tt.want)
			}
		})
	}
	if r := e.Do("GET", adminapi.Prefix+"/fleet/cities/Paris/live", tok, nil); r.Status != 422 {
		t.Errorf("bad city code: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", adminapi.Prefix+"/fleet/cities/rome/live", tok, nil); r.Status != 404 || r.Code() != adminapi.CodeNotFound {
		t.Errorf("unknown city: %d %s", r.Status, r.Body)
	}
	e.seedCity("rome")
	if m := get("").City; m != "paris" {
		t.Errorf("city %s", m)
	}
	if r := e.Do("GET", adminapi.Prefix+"/fleet/cities/rome/live", tok, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"vehicles":[]`) {
		t.Errorf("empty city: %d %s", r.Status, r.Body)
	}
}

func TestAccessBoundaries(t *testing.T) {
	e := newTestEnv(t, Config{})
	routes := e.fleetRoutes()
	if len(routes) != 8 {
		t.Fatalf("%d fleet routes registered, want 8", len(routes))
	}
	want := map[string]admin.Permission{
		"fleet-live-map": admin.PermVehiclesRead, "fleet-vehicle-detail": admin.PermVehiclesRead,
		"fleet-vehicle-route": admin.PermVehiclesRead, "fleet-vehicle-command": admin.PermVehiclesCommand,
		"fleet-command-job-create": admin.PermVehiclesCommand, "fleet-command-job-get": admin.PermVehiclesRead,
		"fleet-firmware-job-create": admin.PermFirmwareManage, "fleet-firmware-job-get": admin.PermFirmwareManage,
	}
	for _, r := range routes {
		if want[r.OperationID] != r.Access.Permission {
			t.Errorf("%s requires %q, want %q", r.OperationID, r.Access.Permission, want[r.OperationID])
		}
	}
	adminapitest.CheckAccess(t, e.Env, routes, map[string]string{"city": "paris", "number": "P001"})
	// A reader cannot command; a commander without vehicles.read cannot read the map.
	reader, _ := e.TokenWith(admin.PermVehiclesRead)
	if r := e.Do("POST", adminapi.Prefix+"/fleet/vehicles/P001/commands", reader, map[string]any{"code": 107}); r.Status != 403 {
		t.Errorf("reader sends a command: %d %s", r.Status, r.Body)
	}
	commander, _ := e.TokenWith(admin.PermVehiclesCommand)
	if r := e.Do("GET", adminapi.Prefix+"/fleet/cities/paris/live", commander, nil); r.Status != 403 {
		t.Errorf("commander reads the map: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", adminapi.Prefix+"/fleet/cities/paris/firmware-jobs", commander, map[string]any{}); r.Status != 403 {
		t.Errorf("commander creates a firmware job: %d %s", r.Status, r.Body)
	}
}

func TestOpenAPIDocumentPrecise(t *testing.T) {
	e := newTestEnv(t, Config{})
	raw, err := json.Marshal(e.API.Huma().OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	adminapitest.CheckDocument(t, raw)
	for _, c := range []string{CodeGatewayUnavailable, CodeGatewayTimeout, CodeVehicleTimeout, CodeNoZone} {
		if !strings.Contains(string(raw), `"`+c+`"`) {
			t.Errorf("problem code %s not in the document", c)
		}
	}
}

func TestCommandValidation(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.seedCity("paris", "P001")
	tok, _ := e.TokenWith(admin.PermVehiclesCommand)
	tests := []struct {
		name     string
		body     map[string]any
		location string
	}{
		{"unknown code", map[string]any{"code": 200}, "body.code"},
		{"report code", map[string]any{"code": 19}, "body.code"},
		{"reply code", map[string]any{"code": 108}, "body.code"},
		{"firmware start", map[string]any{"code": 23, "fields": map[string]any{"l": 3}}, "body.code"},
		{"firmware package", map[string]any{"code": 67}, "body.code"},
		{"missing field", map[string]any{"code": 13}, "body.fields.k"},
		{"field out of range", map[string]any{"code": 13, "fields": map[string]any{"k": 2031}}, "body.fields.k"},
		{"field of wrong type", map[string]any{"code": 39, "fields": map[string]any{"v": "loud"}}, "body.fields.v"},
		{"unknown field", map[string]any{"code": 107, "fields": map[string]any{"z": 1}}, "body.fields.z"},
		{"code outside schema", map[string]any{"code": 999}, "body.code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.Do("POST", adminapi.Prefix+"/fleet/vehicles/P001/commands", tok, tt.body)
			var p adminapi.Problem
			r.JSON(t, &p)
			if r.Status != 422 || p.Code != adminapi.CodeInvalidRequest || len(p.Errors) == 0 || p.Errors[0].Location != tt.location {
				t.Fatalf("%d %s, want 422 at %s", r.Status, r.Body, tt.location)
			}
		})
	}
	// Valid, but nothing can send it: 503 unavailable; an unknown vehicle is 404 first.
	if r := e.Do("POST", adminapi.Prefix+"/fleet/vehicles/NOPE/commands", tok, map[string]any{"code": 107}); r.Status != 404 || r.Code() != adminapi.CodeNotFound {
		t.Errorf("unknown vehicle: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", adminapi.Prefix+"/fleet/vehicles/P001/commands", tok, map[string]any{"code": 107}); r.Status != 503 || r.Code() != adminapi.CodeUnavailable {
		t.Errorf("no downlink: %d %s", r.Status, r.Body)
	}
	if n := len(e.Audit(audit.Filter{Action: "vehicle.command"})); n != 0 {
		t.Errorf("%d audit entries for commands never sent", n)
	}
}

// TestCommandWithoutGateway: a real downlink on an embedded NATS with no gateway of the city
// subscribed: 503 gateway_unavailable, and the attempt is audited with that outcome.
func TestCommandWithoutGateway(t *testing.T) {
	bus, err := natsbus.Open(t.Context(), natsbus.Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       natsbus.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()},
		Stream:         natsbus.DefaultStreamConfig(),
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bus.Close(); err != nil {
			t.Error(err)
		}
	})
	dl, err := downlink.New(bus.Conn(), bus.JetStream(), downlink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, Config{Commands: func() CommandSender { return dl }})
	e.seedCity("paris", "P001")
	tok, id := e.TokenWith(admin.PermVehiclesCommand)
	r := e.Do("POST", adminapi.Prefix+"/fleet/vehicles/P001/commands", tok, map[string]any{"code": 13, "fields": map[string]any{"k": 2015}})
	if r.Status != 503 || r.Code() != CodeGatewayUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("no gateway: %d %s", r.Status, r.Body)
	}
	entries := e.Audit(audit.Filter{Action: "vehicle.command"})
	if len(entries) != 1 {
		t.Fatalf("%d audit entries, want 1", len(entries))
	}
	var d map[string]any
	if err := json.Unmarshal(entries[0].Details, &d); err != nil {
		t.Fatal(err)
	}
	if entries[0].AdminID != id || entries[0].TargetID != "P001" || entries[0].UserAgent != "adminapitest/1" || !entries[0].IP.IsValid() || d["outcome"] != "no_gateway" || d["code"] != float64(13) ||
		d["city"] != "paris" || !strings.HasPrefix(d["command_id"].(string), "admin-") {
		t.Errorf("audit entry %+v %s", entries[0], entries[0].Details)
	}
}

func TestFirmwareEventsApplyIdempotently(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.seedCity("paris", "P001", "P002")
	tok, _ := e.TokenWith(admin.PermFirmwareManage)
	image := make([]byte, 2500)
	r := e.Do("POST", adminapi.Prefix+"/fleet/cities/paris/firmware-jobs", tok, map[string]any{"version": "FW9", "image": image,
		"vehicles": []string{"P001", "P002", "P001"}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var job FirmwareJob
	r.JSON(t, &job)
	if job.Total != 2 || job.Packages != 3 || job.ImageBytes != 2500 || job.State != "running" || job.Counts["pending"] != 2 ||
		job.ImageSHA256 != link.FirmwareDigest(image) {
		t.Fatalf("job %+v", job)
	}
	if a := e.Audit(audit.Filter{Action: "firmware_job.create"}); len(a) != 1 || a[0].TargetID != job.ID {
		t.Fatalf("audit %+v", a)
	}
	ev := func(seq uint64, v string, at int, state string, sent int) link.Event {
		return link.Event{Seq: seq, Vehicle: v, Time: t0.Add(time.Duration(at) * time.Second), Kind: link.EventFirmware,
			Firmware: &link.FirmwareEvent{JobID: link.FirmwareJobID(job.ID, v), Sent: sent, Total: 3, State: state}}
	}
	ctx := t.Context()
	batch := []link.Event{ev(1, "P001", 0, "running", 0), ev(2, "P001", 1, "running", 1), ev(3, "P002", 1, "running", 2),
		// another job's and a field technician's events are ignored
		{Seq: 4, Vehicle: "P002", Time: t0, Kind: link.EventFirmware, Firmware: &link.FirmwareEvent{JobID: "fw-local", State: "failed"}},
		{Seq: 5, Vehicle: "P002", Time: t0, Kind: link.EventFirmware, Firmware: &link.FirmwareEvent{JobID: link.FirmwareJobID(job.ID, "P001"), State: "failed"}}}
	for range 2 { // a redelivered batch changes nothing
		if err := e.svc.HandleEvents(ctx, "paris", "gw1", batch); err != nil {
			t.Fatal(err)
		}
	}
	check := func(want string) {
		t.Helper()
		j, err := e.svc.FirmwareJob(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range j.Vehicles {
			got = append(got, fmt.Sprintf("%s:%s:%d/%d", v.Vehicle, v.State, v.Sent, v.Total))
		}
		if g := strings.Join(got, " ") + " " + j.State; g != want {
			t.Fatalf("got %s, want %s", g, want)
		}
	}
	check("P001:running:1/3 P002:running:2/3 running")
	if err := e.svc.HandleEvents(ctx, "paris", "gw1", []link.Event{ev(5, "P001", 3, "succeeded", 3), ev(6, "P002", 3, "failed", 2)}); err != nil {
		t.Fatal(err)
	}
	// Old progress arriving late (another gateway's batch, a redelivery) moves nothing back.
	if err := e.svc.HandleEvents(ctx, "paris", "gw2", []link.Event{ev(1, "P001", 2, "running", 2)}); err != nil {
		t.Fatal(err)
	}
	// An event from another city's gateway does not touch this city's job.
	if err := e.svc.HandleEvents(ctx, "lyon", "gw9", []link.Event{ev(1, "P001", 9, "failed", 0)}); err != nil {
		t.Fatal(err)
	}
	check("P001:succeeded:3/3 P002:failed:2/3 done")
	var fw *string
	if err := e.DB.Pool.QueryRow(ctx, `SELECT firmware_version FROM vehicles WHERE number = 'P001'`).Scan(&fw); err != nil || fw == nil || *fw != "FW9" {
		t.Errorf("registry firmware version %v %v", fw, err)
	}
	fin := e.Audit(audit.Filter{Action: "firmware_job.finish"})
	var fd struct{ Counts map[string]int }
	if len(fin) != 1 || json.Unmarshal(fin[0].Details, &fd) != nil || fd.Counts["succeeded"] != 1 || fd.Counts["failed"] != 1 || len(fd.Counts) != 2 {
		t.Errorf("finish audit %+v", fin)
	}
	// Bad input.
	for name, body := range map[string]map[string]any{
		"no image":        {"version": "x", "image": []byte{}, "vehicles": []string{"P001"}},
		"foreign vehicle": {"version": "x", "image": []byte{1}, "vehicles": []string{"P001", "L001"}},
		"no vehicles":     {"version": "x", "image": []byte{1}, "vehicles": []string{}},
	} {
		r := e.Do("POST", adminapi.Prefix+"/fleet/cities/paris/firmware-jobs", tok, body)
		if r.Status != 422 || (name == "foreign vehicle" && !strings.Contains(string(r.Body), `"location":"body.vehicles[1]"`)) {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}

// TestBulkJobWaitsForALink: a job created in a process without a link to the gateways (role
// api) is stored with every vehicle pending; once a link exists (here a real downlink on an
// embedded NATS without any gateway of the city) the sweep runs it: each vehicle is tried once
// and ends no_gateway, the job is done and its outcome audited.
func TestBulkJobWaitsForALink(t *testing.T) {
	var dlink atomic.Pointer[downlink.Downlink]
	e := newTestEnv(t, Config{Tick: 50 * time.Millisecond, Commands: func() CommandSender {
		if d := dlink.Load(); d != nil {
			return d
		}
		return nil
	}})
	e.seedCity("paris", "P001", "P002", "P003")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	tok, _ := e.TokenWith(admin.PermVehiclesCommand, admin.PermVehiclesRead)
	r := e.Do("POST", adminapi.Prefix+"/fleet/cities/paris/command-jobs", tok, map[string]any{"code": 107,
		"selector": map[string]any{"vehicles": []string{"P003", "P001"}}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var job CommandJob
	r.JSON(t, &job)
	if job.Total != 2 || job.Counts["pending"] != 2 || job.State != "running" || job.Selector.Vehicles[0] != "P003" {
		t.Fatalf("job %+v", job)
	}
	time.Sleep(3 * e.svc.cfg.Tick) // several sweeps without a link: nothing may be tried
	if j, err := e.svc.CommandJob(t.Context(), job.ID, ""); err != nil || j.Counts["pending"] != 2 {
		t.Fatalf("without a link: %+v %v", j, err)
	}

	bus, err := natsbus.Open(t.Context(), natsbus.Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       natsbus.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()},
		Stream:         natsbus.DefaultStreamConfig(),
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bus.Close(); err != nil {
			t.Error(err)
		}
	})
	dl, err := downlink.New(bus.Conn(), bus.JetStream(), downlink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dlink.Store(dl)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.Do("GET", adminapi.Prefix+"/fleet/command-jobs/"+job.ID, tok, nil)
		job = CommandJob{}
		r.JSON(t, &job)
		if job.State == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not done: %+v", job)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if job.Counts["no_gateway"] != 2 || job.Done != 2 || job.FinishedAt.IsZero() || job.Vehicles[0].Vehicle != "P001" ||
		!strings.Contains(job.Vehicles[0].Error, "no gateway") {
		t.Errorf("job %+v", job)
	}
	if r := e.Do("GET", adminapi.Prefix+"/fleet/command-jobs/"+job.ID+"?state=acked", tok, nil); !strings.Contains(string(r.Body), `"vehicles":[]`) {
		t.Errorf("state filter: %s", r.Body)
	}
	if fin := e.Audit(audit.Filter{Action: "command_job.finish", TargetID: job.ID}); len(fin) != 1 {
		t.Errorf("finish audit %+v", fin)
	}
	if r := e.Do("GET", adminapi.Prefix+"/fleet/command-jobs/00000000-0000-4000-8000-000000000000", tok, nil); r.Status != 404 {
		t.Errorf("unknown job: %d", r.Status)
	}
}

// TestVehicleDetail: live state, events from vehicle_events (newest first, limited), the open
// ride, and a clear note instead of a failure when ClickHouse is not connected; an unknown
// vehicle is 404, an unregistered one seen live is found in its live city.
func TestVehicleDetail(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.seedCity("paris", "P001", "P002")
	ctx := t.Context()
	e.live.Apply("paris", "gw1", &link.Telemetry{Seq: 1, Vehicle: "P001", Time: time.Now().UTC(), BatteryPct: ptr(66),
		Position: &link.Position{Lat: 48.85, Lon: 2.35}})
	e.live.Apply("lyon", "gw2", &link.Telemetry{Seq: 1, Vehicle: "X9", Time: time.Now().UTC(), BatteryPct: ptr(5)})
	now := time.Now().UTC()
	for i, kind := range []string{"alarm", "command_result", "state_changed"} {
		if _, err := e.DB.Pool.Exec(ctx, `INSERT INTO vehicle_events (city, gateway, seq, vehicle, at, kind, payload)
 VALUES ('paris', 'gw1', $1, 'P001', $2, $3, '{"reason": "fallen"}')`, i+1, now.Add(time.Duration(i-10)*time.Second), kind); err != nil {
			t.Fatal(err)
		}
	}
	var rider, ride string
	if err := e.DB.Pool.QueryRow(ctx, `INSERT INTO riders (first_name, last_name, email) VALUES ('A', 'B', 'a@example.com') RETURNING id::text`).Scan(&rider); err != nil {
		t.Fatal(err)
	}
	if err := e.DB.Pool.QueryRow(ctx, `INSERT INTO rides (rider_id, vehicle_id, city_id, state, started_at, start_lat, start_lon, currency)
 SELECT $1, v.id, v.city_id, 'active', now(), 48.85, 2.35, 'EUR' FROM vehicles v WHERE number = 'P001' RETURNING id::text`, rider).Scan(&ride); err != nil {
		t.Fatal(err)
	}
	tok, _ := e.TokenWith(admin.PermVehiclesRead)
	r := e.Do("GET", adminapi.Prefix+"/fleet/vehicles/P001?event_limit=2", tok, nil)
	if r.Status != 200 {
		t.Fatalf("detail: %d %s", r.Status, r.Body)
	}
	var d FleetVehicleDetail
	r.JSON(t, &d)
	if d.City != "paris" || !d.Registered || d.Live.BatteryPct != 66 || !d.Live.HasPosition || d.Live.Status != "available" {
		t.Errorf("detail %+v", d)
	}
	if len(d.Events) != 2 || d.Events[0].Kind != "state_changed" || d.Events[1].Kind != "command_result" || d.Events[0].Payload["reason"] != "fallen" {
		t.Errorf("events %+v", d.Events)
	}
	if !d.HasOpenRide || d.OpenRide.ID != ride || d.OpenRide.RiderID != rider || d.OpenRide.State != "active" {
		t.Errorf("open ride %+v", d.OpenRide)
	}
	if len(d.Telemetry) != 0 || d.TelemetryError == "" {
		t.Errorf("telemetry without ClickHouse: %v %q", d.Telemetry, d.TelemetryError)
	}
	r = e.Do("GET", adminapi.Prefix+"/fleet/vehicles/P002", tok, nil)
	d = FleetVehicleDetail{}
	r.JSON(t, &d)
	if r.Status != 200 || d.HasOpenRide || d.Live.Connectivity != ConnUnknown || d.Events == nil {
		t.Errorf("quiet vehicle: %d %s", r.Status, r.Body)
	}
	r = e.Do("GET", adminapi.Prefix+"/fleet/vehicles/X9", tok, nil)
	d = FleetVehicleDetail{}
	r.JSON(t, &d)
	if r.Status != 200 || d.City != "lyon" || d.Registered || d.Live.BatteryPct != 5 {
		t.Errorf("unregistered vehicle: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", adminapi.Prefix+"/fleet/vehicles/NOPE", tok, nil); r.Status != 404 {
		t.Errorf("unknown vehicle: %d", r.Status)
	}
	if r := e.Do("GET", adminapi.Prefix+"/fleet/vehicles/P001/route?from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00Z", tok, nil); r.Status != 503 {
		t.Errorf("route without ClickHouse: %d %s", r.Status, r.Body)
	}
}
