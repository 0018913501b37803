package citycfg

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

func TestCitiesAndGateways(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"ok", map[string]any{"code": "barcelona", "name": "Barcelona", "timezone": "Europe/Madrid", "currency": "EUR"}, 201, ""},
		{"duplicate", map[string]any{"code": "barcelona", "name": "Other", "currency": "EUR"}, 409, CodeCityExists},
		{"unknown time zone", map[string]any{"code": "x", "name": "X", "timezone": "Mars/Olympus", "currency": "EUR"}, 422, "invalid_request"},
		{"bad code", map[string]any{"code": "Bar Celona", "name": "X", "currency": "EUR"}, 422, "invalid_request"},
		{"bad currency", map[string]any{"code": "y", "name": "Y", "currency": "eur"}, 422, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Do("POST", "/admin/v1/cities", e.SuperToken, tc.body)
			if r.Status != tc.status || (tc.code != "" && r.Code() != tc.code) {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}
	var c CityBody
	e.must(200, "GET", "/admin/v1/cities/barcelona", nil).JSON(t, &c)
	if c.Code != "barcelona" || c.Timezone != "Europe/Madrid" || c.Currency != "EUR" || len(c.Config) != 0 {
		t.Errorf("city: %+v", c)
	}
	if r := e.Do("GET", "/admin/v1/cities/nowhere", e.SuperToken, nil); r.Status != 404 || r.Code() != "not_found" {
		t.Errorf("unknown city: %d %s", r.Status, r.Body)
	}
	var list struct{ Cities []CityBody }
	e.must(200, "GET", "/admin/v1/cities", nil).JSON(t, &list)
	if len(list.Cities) != 1 {
		t.Errorf("cities: %+v", list)
	}

	e.must(201, "POST", "/admin/v1/cities/barcelona/gateways", map[string]any{"code": "bcn-gw-1", "name": "Poblenou"})
	if r := e.Do("POST", "/admin/v1/cities/barcelona/gateways", e.SuperToken, map[string]any{"code": "bcn-gw-1"}); r.Status != 409 || r.Code() != CodeGatewayExists {
		t.Errorf("duplicate gateway: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", "/admin/v1/cities/nowhere/gateways", e.SuperToken, map[string]any{"code": "g"}); r.Status != 404 {
		t.Errorf("gateway of unknown city: %d %s", r.Status, r.Body)
	}
	var gws struct{ Gateways []GatewayBody }
	e.must(200, "GET", "/admin/v1/cities/barcelona/gateways", nil).JSON(t, &gws)
	if len(gws.Gateways) != 1 || gws.Gateways[0].Code != "bcn-gw-1" || gws.Gateways[0].City != "barcelona" {
		t.Errorf("gateways: %+v", gws)
	}
	if got := e.actions("city", "barcelona"); !slices.Equal(got, []string{"city.create"}) {
		t.Errorf("city audit: %v", got)
	}
	if got := e.actions("gateway", "bcn-gw-1"); !slices.Equal(got, []string{"gateway.create"}) {
		t.Errorf("gateway audit: %v", got)
	}
}

func TestVehicles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.must(201, "POST", "/admin/v1/cities", map[string]any{"code": "bcn", "name": "Barcelona", "currency": "EUR"})
	e.must(201, "POST", "/admin/v1/cities", map[string]any{"code": "mad", "name": "Madrid", "currency": "EUR"})
	e.must(201, "POST", "/admin/v1/cities/bcn/gateways", map[string]any{"code": "bcn-1"})

	var created struct {
		Vehicles []CreatedVehicleBody
		Config   []DocStateBody
	}
	e.must(201, "POST", "/admin/v1/cities/bcn/vehicles", map[string]any{"vehicles": []map[string]any{
		{"number": "BCN001", "model": "Ninebot G30", "gateway": "bcn-1"},
		{"number": "BCN002", "type": "ebike", "normal_speed_limit_kmh": 20},
		{"number": "BCX003"},
	}}).JSON(t, &created)
	if len(created.Vehicles) != 3 {
		t.Fatalf("created: %+v", created)
	}
	v1 := created.Vehicles[0]
	if v1.Vehicle.Gateway != "bcn-1" || v1.Vehicle.Type != "escooter" || v1.Vehicle.NormalSpeedLimitKmh != 25 ||
		v1.Vehicle.Status != "available" || !v1.Vehicle.HasCredential || len(v1.DeviceSecret) < 40 {
		t.Errorf("vehicle 1: %+v", v1)
	}
	// Without a downlink the vehicles document is pending.
	if len(created.Config) != 1 || created.Config[0].Kind != "vehicles" || !created.Config[0].Pending || created.Config[0].PublishedVersion != 0 {
		t.Errorf("config: %+v", created.Config)
	}
	// The secret is returned once and only its hash is stored.
	var stored string
	if err := e.DB.Pool.QueryRow(t.Context(), `SELECT credential_hash FROM vehicles WHERE number = 'BCN001'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !devicecred.Verify([]byte(v1.DeviceSecret), stored) || strings.Contains(stored, v1.DeviceSecret) {
		t.Errorf("stored hash %s does not verify the secret", stored)
	}
	var get struct{ Vehicle VehicleBody }
	e.must(200, "GET", "/admin/v1/vehicles/BCN001", nil).JSON(t, &get)
	if strings.Contains(string(e.must(200, "GET", "/admin/v1/vehicles/BCN001", nil).Body), "sha256") {
		t.Error("vehicle body shows the credential hash")
	}

	for _, tc := range []struct {
		name   string
		city   string
		body   any
		status int
		code   string
	}{
		{"duplicate number rolls back all", "bcn", map[string]any{"vehicles": []map[string]any{{"number": "BCN009"}, {"number": "BCN001"}}}, 409, CodeVehicleExists},
		{"listed twice", "bcn", map[string]any{"vehicles": []map[string]any{{"number": "BCN010"}, {"number": "BCN010"}}}, 422, "invalid_request"},
		{"bad number", "bcn", map[string]any{"vehicles": []map[string]any{{"number": "BCN 1"}}}, 422, "invalid_request"},
		{"limit above 30", "bcn", map[string]any{"vehicles": []map[string]any{{"number": "BCN011", "normal_speed_limit_kmh": 45}}}, 422, "invalid_request"},
		{"unknown gateway", "bcn", map[string]any{"vehicles": []map[string]any{{"number": "BCN012", "gateway": "nope"}}}, 422, "invalid_request"},
		{"empty", "bcn", map[string]any{"vehicles": []map[string]any{}}, 422, "invalid_request"},
		{"unknown city", "nowhere", map[string]any{"vehicles": []map[string]any{{"number": "X1"}}}, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Do("POST", "/admin/v1/cities/"+tc.city+"/vehicles", e.SuperToken, tc.body)
			if r.Status != tc.status || r.Code() != tc.code {
				t.Errorf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}
	if r := e.Do("POST", "/admin/v1/cities/bcn/vehicles", e.SuperToken, map[string]any{"vehicles": []map[string]any{{"number": "BCN001"}}}); !strings.Contains(string(r.Body), `"detail":"vehicle number taken: BCN001"`) {
		t.Errorf("409 does not name the number: %s", r.Body)
	}
	if r := e.Do("GET", "/admin/v1/vehicles/BCN009", e.SuperToken, nil); r.Status != 404 {
		t.Errorf("BCN009 of the failed batch exists: %d", r.Status)
	}

	// List: filters and paging.
	list := func(q string) (numbers []string, next string) {
		var out struct {
			Vehicles []VehicleBody
			Next     string
		}
		e.must(200, "GET", "/admin/v1/vehicles?"+q, nil).JSON(t, &out)
		for _, v := range out.Vehicles {
			numbers = append(numbers, v.Number)
		}
		return numbers, out.Next
	}
	if got, next := list("city=bcn&limit=2"); !slices.Equal(got, []string{"BCN001", "BCN002"}) || next != "BCN002" {
		t.Errorf("page 1: %v %q", got, next)
	}
	if got, next := list("city=bcn&limit=2&after=BCN002"); !slices.Equal(got, []string{"BCX003"}) || next != "" {
		t.Errorf("page 2: %v %q", got, next)
	}
	if got, _ := list("q=BCN"); !slices.Equal(got, []string{"BCN001", "BCN002"}) {
		t.Errorf("prefix: %v", got)
	}
	if got, _ := list("city=mad"); len(got) != 0 {
		t.Errorf("madrid: %v", got)
	}
	if r := e.Do("GET", "/admin/v1/vehicles?city=nowhere", e.SuperToken, nil); r.Status != 404 {
		t.Errorf("unknown city filter: %d", r.Status)
	}
	if r := e.Do("GET", "/admin/v1/vehicles?q=B%25", e.SuperToken, nil); r.Status != 422 {
		t.Errorf("q with %%: %d", r.Status)
	}

	// Update: maintenance, limit; busy vehicles keep their status.
	var upd struct {
		Vehicle VehicleBody
		Config  []DocStateBody
	}
	e.must(200, "PATCH", "/admin/v1/vehicles/BCN001", map[string]any{"status": "maintenance"}).JSON(t, &upd)
	if upd.Vehicle.Status != "maintenance" || len(upd.Config) != 0 {
		t.Errorf("maintenance: %+v", upd)
	}
	e.must(200, "PATCH", "/admin/v1/vehicles/BCN001", map[string]any{"normal_speed_limit_kmh": 20, "model": "G30 Max"}).JSON(t, &upd)
	if upd.Vehicle.NormalSpeedLimitKmh != 20 || upd.Vehicle.Model != "G30 Max" || len(upd.Config) != 1 {
		t.Errorf("limit: %+v", upd)
	}
	if r := e.Do("PATCH", "/admin/v1/vehicles/BCN001", e.SuperToken, map[string]any{"status": "in_ride"}); r.Status != 422 {
		t.Errorf("admin setting in_ride: %d %s", r.Status, r.Body)
	}
	if _, err := e.DB.Pool.Exec(t.Context(), `UPDATE vehicles SET status = 'in_ride' WHERE number = 'BCN002'`); err != nil {
		t.Fatal(err)
	}
	if r := e.Do("PATCH", "/admin/v1/vehicles/BCN002", e.SuperToken, map[string]any{"status": "retired"}); r.Status != 409 || r.Code() != CodeVehicleBusy {
		t.Errorf("retiring a riding vehicle: %d %s", r.Status, r.Body)
	}
	if r := e.Do("PATCH", "/admin/v1/vehicles/NOPE", e.SuperToken, map[string]any{"status": "retired"}); r.Status != 404 {
		t.Errorf("unknown vehicle: %d", r.Status)
	}

	// Rotate: the new secret verifies, the old one no longer does.
	var rot struct {
		Vehicle      VehicleBody
		DeviceSecret string `json:"device_secret"`
	}
	e.must(200, "POST", "/admin/v1/vehicles/BCN001/rotate-secret", nil).JSON(t, &rot)
	if err := e.DB.Pool.QueryRow(t.Context(), `SELECT credential_hash FROM vehicles WHERE number = 'BCN001'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !devicecred.Verify([]byte(rot.DeviceSecret), stored) || devicecred.Verify([]byte(v1.DeviceSecret), stored) {
		t.Error("rotation did not replace the secret")
	}

	want := []string{"vehicle.create", "vehicle.update", "vehicle.update", "vehicle.rotate_secret"}
	if got := e.actions("vehicle", "BCN001"); !slices.Equal(got, want) {
		t.Errorf("audit of BCN001: %v, want %v", got, want)
	}
	recs := e.Audit(auditFilter("vehicle.update", "BCN001"))
	if len(recs) != 2 || !strings.Contains(string(recs[0].Details), `"before"`) || !strings.Contains(string(recs[0].Details), `"G30 Max"`) {
		t.Errorf("update audit without before/after: %s", recs[0].Details)
	}
	for _, r := range e.Audit(auditFilter("", "")) {
		if strings.Contains(string(r.Details), rot.DeviceSecret) || strings.Contains(string(r.Details), v1.DeviceSecret) {
			t.Errorf("audit entry %s holds a device secret", r.Action)
		}
	}
}

func TestImportVehiclesIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.must(201, "POST", "/admin/v1/cities", map[string]any{"code": "bcn", "name": "Barcelona", "currency": "EUR"})
	e.must(201, "POST", "/admin/v1/cities", map[string]any{"code": "mad", "name": "Madrid", "currency": "EUR"})
	vs := func(limit int) map[string]any {
		var out []map[string]any
		for i := 1; i <= 3; i++ {
			out = append(out, map[string]any{"number": fmt.Sprintf("BCN%05d", i), "type": "escooter",
				"normal_speed_limit_kmh": limit, "credential_hash": hashOf(i)})
		}
		return map[string]any{"vehicles": out}
	}
	type result struct {
		Created, Updated []string
		Unchanged        int
		Config           []DocStateBody
	}
	var r1, r2, r3 result
	e.must(200, "POST", "/admin/v1/cities/bcn/vehicles/import", vs(25)).JSON(t, &r1)
	if len(r1.Created) != 3 || len(r1.Updated) != 0 || len(r1.Config) != 1 {
		t.Errorf("first import: %+v", r1)
	}
	e.must(200, "POST", "/admin/v1/cities/bcn/vehicles/import", vs(25)).JSON(t, &r2)
	if len(r2.Created) != 0 || len(r2.Updated) != 0 || r2.Unchanged != 3 || r2.Config[0].Version != r1.Config[0].Version {
		t.Errorf("second import changed something: %+v (first %+v)", r2, r1)
	}
	e.must(200, "POST", "/admin/v1/cities/bcn/vehicles/import", vs(20)).JSON(t, &r3)
	if len(r3.Updated) != 3 || r3.Config[0].Version <= r1.Config[0].Version {
		t.Errorf("third import: %+v", r3)
	}
	if r := e.Do("POST", "/admin/v1/cities/mad/vehicles/import", e.SuperToken, vs(20)); r.Status != 409 || r.Code() != CodeVehicleExists {
		t.Errorf("import into another city: %d %s", r.Status, r.Body)
	}
	bad := vs(25)
	bad["vehicles"].([]map[string]any)[1]["credential_hash"] = "plain-secret"
	if r := e.Do("POST", "/admin/v1/cities/bcn/vehicles/import", e.SuperToken, bad); r.Status != 422 {
		t.Errorf("import with a secret instead of a hash: %d %s", r.Status, r.Body)
	}
	if got := e.actions("city", "bcn"); !slices.Equal(got, []string{"city.create", "vehicle.import", "vehicle.import"}) {
		t.Errorf("audit: %v (an unchanged import writes nothing)", got)
	}
}

func TestZones(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.must(201, "POST", "/admin/v1/cities", map[string]any{"code": "bcn", "name": "Barcelona", "timezone": "Europe/Madrid", "currency": "EUR"})
	valid := square("slow-1", 2.17, 41.38, 0.01, 10)
	open := strings.Replace(valid, "[2.17,41.38]]]]", "[2.17,41.381]]]]", 1) // last point is not the first
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{"bad JSON", `{"data": `, 422, CodeZonesInvalid, ""},
		{"not GeoJSON", `{"version":"3.0","data":{"geofencing_zones":{"type":"Point"}}}`, 422, CodeZonesInvalid, "body.data.geofencing_zones"},
		{"open ring", open, 422, CodeZonesInvalid, "body.data.geofencing_zones.features[0].geometry.coordinates[0][0]"},
		{"speed 500", strings.Replace(valid, `"maximum_speed_kph":10`, `"maximum_speed_kph":500`, 1), 422, CodeZonesInvalid,
			"body.data.geofencing_zones.features[0].properties.rules[0].maximum_speed_kph"},
		{"speed 60 (above 50)", strings.Replace(valid, `"maximum_speed_kph":10`, `"maximum_speed_kph":60`, 1), 422, CodeZonesInvalid,
			"body.data.geofencing_zones.features[0].properties.rules[0].maximum_speed_kph"},
		{"empty body", ``, 400, "invalid_request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Do("PUT", "/admin/v1/cities/bcn/zones", e.SuperToken, tc.body)
			if r.Status != tc.status || r.Code() != tc.code {
				t.Fatalf("%d %s, want %d %s", r.Status, abbrev(r.Body), tc.status, tc.code)
			}
			if tc.field != "" && !strings.Contains(string(r.Body), `"location":"`+tc.field) {
				t.Errorf("problem does not name %s: %s", tc.field, r.Body)
			}
		})
	}
	// Oversized: the server answers 413 before reading the rest, which the client may still
	// be writing; a raw connection reads the answer whatever happens to the write.
	if status, body := rawPut(t, e.URL, "/admin/v1/cities/bcn/zones", e.SuperToken, MaxZonesBytes+1); status != 413 ||
		!strings.Contains(body, `"code":"invalid_request"`) {
		t.Errorf("oversized document: %d %s", status, abbrev([]byte(body)))
	}
	type put struct {
		Zones   ZoneVersionBody
		Created bool
		Config  []DocStateBody
	}
	var p1, p2, p3 put
	e.must(200, "PUT", "/admin/v1/cities/bcn/zones", valid).JSON(t, &p1)
	if p1.Zones.Version != 1 || !p1.Created || p1.Zones.Zones != 1 || p1.Zones.PublishedAt == nil || len(p1.Config) != 1 || !p1.Config[0].Pending {
		t.Errorf("first: %+v", p1)
	}
	e.must(200, "PUT", "/admin/v1/cities/bcn/zones", valid).JSON(t, &p2)
	if p2.Zones.Version != 1 || p2.Created || p2.Config[0].Version != p1.Config[0].Version {
		t.Errorf("same document again: %+v", p2)
	}
	e.must(200, "PUT", "/admin/v1/cities/bcn/zones", square("slow-2", 2.18, 41.39, 0.01, 6)).JSON(t, &p3)
	if p3.Zones.Version != 2 || !p3.Created || p3.Config[0].Version <= p1.Config[0].Version {
		t.Errorf("second: %+v", p3)
	}
	var versions struct{ Versions []ZoneVersionBody }
	e.must(200, "GET", "/admin/v1/cities/bcn/zones", nil).JSON(t, &versions)
	if len(versions.Versions) != 2 || versions.Versions[0].Version != 2 {
		t.Errorf("versions: %+v", versions)
	}
	var cur, v1 struct {
		Zones    ZoneVersionBody
		Document map[string]any
	}
	e.must(200, "GET", "/admin/v1/cities/bcn/zones/current", nil).JSON(t, &cur)
	e.must(200, "GET", "/admin/v1/cities/bcn/zones/1", nil).JSON(t, &v1)
	if cur.Zones.Version != 2 || !strings.Contains(mustJSON(t, cur.Document), "slow-2") || !strings.Contains(mustJSON(t, v1.Document), "slow-1") {
		t.Errorf("current %+v / v1 %+v", cur.Zones, v1.Zones)
	}
	if r := e.Do("GET", "/admin/v1/cities/bcn/zones/7", e.SuperToken, nil); r.Status != 404 {
		t.Errorf("missing version: %d", r.Status)
	}
	version, doc, err := CurrentZones(t.Context(), e.DB.Pool, mustCity(t, e, "bcn").ID)
	if err != nil || version != 2 || !strings.Contains(string(doc), "slow-2") {
		t.Errorf("CurrentZones: %d %v", version, err)
	}
	if got := e.actions("city", "bcn"); !slices.Equal(got, []string{"city.create", "zones.publish", "zones.publish"}) {
		t.Errorf("audit: %v", got)
	}
}

func TestTariffs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.must(201, "POST", "/admin/v1/cities", map[string]any{"code": "bcn", "name": "Barcelona", "currency": "EUR"})
	now := e.Clock.Now()
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type created struct {
		Tariff TariffBody
		Closed *TariffBody
		Config []DocStateBody
	}
	var t1 created
	e.must(201, "POST", "/admin/v1/cities/bcn/tariffs", map[string]any{"effective_from": jan, "unlock_fee_minor": 100,
		"per_minute_minor": 25, "zone_surcharges": []map[string]any{{"zone": "airport", "per_minute_minor": 5, "fixed_minor": 100}}}).JSON(t, &t1)
	if t1.Tariff.Version != 1 || t1.Tariff.Currency != "EUR" || t1.Tariff.EffectiveTo != nil || len(t1.Tariff.ZoneSurcharges) != 1 {
		t.Errorf("t1: %+v", t1)
	}
	if r := e.Do("POST", "/admin/v1/cities/bcn/tariffs", e.SuperToken, map[string]any{"effective_from": now.Add(24 * time.Hour),
		"unlock_fee_minor": 100, "per_minute_minor": 30}); r.Status != 409 || r.Code() != CodeTariffOverlap {
		t.Errorf("overlap: %d %s", r.Status, r.Body)
	}
	monday := now.Add(7 * 24 * time.Hour).Truncate(time.Hour)
	var t2 created
	e.must(201, "POST", "/admin/v1/cities/bcn/tariffs", map[string]any{"effective_from": monday, "unlock_fee_minor": 100,
		"per_minute_minor": 30, "supersede": true}).JSON(t, &t2)
	if t2.Tariff.Version != 2 || t2.Closed == nil || t2.Closed.ID != t1.Tariff.ID || !t2.Closed.EffectiveTo.Equal(monday) {
		t.Errorf("supersede: %+v closed %+v", t2.Tariff, t2.Closed)
	}
	if r := e.Do("POST", "/admin/v1/cities/bcn/tariffs", e.SuperToken, map[string]any{"effective_from": now.Add(-time.Hour),
		"unlock_fee_minor": 1, "per_minute_minor": 1, "supersede": true}); r.Status != 422 {
		t.Errorf("superseding from the past: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", "/admin/v1/cities/bcn/tariffs", e.SuperToken, map[string]any{"effective_from": jan,
		"effective_to": jan.Add(-time.Hour), "unlock_fee_minor": 1, "per_minute_minor": 1}); r.Status != 422 {
		t.Errorf("effective_to before from: %d %s", r.Status, r.Body)
	}
	at := func(ts time.Time) TariffBody {
		var tb TariffBody
		e.must(200, "GET", "/admin/v1/cities/bcn/tariffs/current?at="+ts.UTC().Format(time.RFC3339), nil).JSON(t, &tb)
		return tb
	}
	if got := at(now); got.ID != t1.Tariff.ID {
		t.Errorf("now: tariff %d", got.ID)
	}
	if got := at(monday.Add(time.Hour)); got.ID != t2.Tariff.ID || got.PerMinuteMinor != 30 {
		t.Errorf("after monday: %+v", got)
	}
	if got := at(monday); got.ID != t2.Tariff.ID {
		t.Errorf("at monday (effective_from is inclusive): %d", got.ID)
	}
	if r := e.Do("GET", "/admin/v1/cities/bcn/tariffs/current?at=2020-01-01T00:00:00Z", e.SuperToken, nil); r.Status != 404 {
		t.Errorf("before any tariff: %d", r.Status)
	}
	var cur TariffBody
	e.must(200, "GET", "/admin/v1/cities/bcn/tariffs/current", nil).JSON(t, &cur)
	if cur.ID != t1.Tariff.ID {
		t.Errorf("default now: %d", cur.ID)
	}
	var list struct{ Tariffs []TariffBody }
	e.must(200, "GET", "/admin/v1/cities/bcn/tariffs", nil).JSON(t, &list)
	if len(list.Tariffs) != 2 {
		t.Errorf("list: %+v", list)
	}
	tr, err := TariffAt(t.Context(), e.DB.Pool, mustCity(t, e, "bcn").ID, now)
	if err != nil || tr.ID != t1.Tariff.ID || tr.Surcharges[0] != (Surcharge{Zone: "airport", PerMinute: 5, Fixed: 100}) {
		t.Errorf("TariffAt: %+v %v", tr, err)
	}
	id1, id2 := fmt.Sprint(t1.Tariff.ID), fmt.Sprint(t2.Tariff.ID)
	if got := e.actions("tariff", id1); !slices.Equal(got, []string{"tariff.create", "tariff.close"}) {
		t.Errorf("audit t1: %v", got)
	}
	if got := e.actions("tariff", id2); !slices.Equal(got, []string{"tariff.create"}) {
		t.Errorf("audit t2: %v", got)
	}
	close := e.Audit(auditFilter("tariff.close", id1))
	if len(close) != 1 || !strings.Contains(string(close[0].Details), `"before"`) {
		t.Errorf("close audit: %+v", close)
	}
}

// TestPermissionBoundaries walks every route of the area: no session 401, no permission
// 403 naming it, exactly the permission passes.
func TestPermissionBoundaries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.must(201, "POST", "/admin/v1/cities", map[string]any{"code": "bcn", "name": "Barcelona", "currency": "EUR"})
	routes := e.API.Routes()
	mine := routes[:0]
	for _, r := range routes {
		if isAreaOp(r.OperationID) {
			mine = append(mine, r)
		}
	}
	if len(mine) != 18 {
		t.Fatalf("%d routes of the area", len(mine))
	}
	want := map[string]admin.Permission{
		"create-city": admin.PermVehiclesManage, "list-cities": admin.PermVehiclesRead, "put-zones": admin.PermZonesWrite,
		"get-current-zones": admin.PermZonesRead, "create-tariff": admin.PermTariffsWrite, "list-tariffs": admin.PermTariffsRead,
		"import-vehicles": admin.PermVehiclesManage, "rotate-vehicle-secret": admin.PermVehiclesManage,
	}
	for _, r := range mine {
		if p, ok := want[r.OperationID]; ok && r.Access.Permission != p {
			t.Errorf("%s requires %s, want %s", r.OperationID, r.Access.Permission, p)
		}
	}
	adminapitest.CheckAccess(t, e.Env, mine, map[string]string{"city": "bcn", "number": "BCN1", "version": "1"})
}

func TestOpenAPIDocumentIsPrecise(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.Do("GET", "/admin/v1/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatal(r.Status)
	}
	adminapitest.CheckDocument(t, r.Body)
	if !strings.Contains(string(r.Body), `"description":"A GBFS v3 geofencing_zones.json document`) {
		t.Error("the zones PUT body is not documented as a JSON object")
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct{ Description string }
		}
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct{ Enum []string }
			}
		}
	}
	r.JSON(t, &doc)
	for _, tc := range []struct{ path, method, status, want string }{
		{"/admin/v1/cities/{city}/tariffs", "post", "409", "codes: tariff_overlap)"},
		{"/admin/v1/cities/{city}/zones", "put", "422", "codes: zones_invalid, invalid_request)"},
		{"/admin/v1/cities", "post", "409", "codes: city_exists)"},
		{"/admin/v1/vehicles/{number}", "patch", "409", "codes: vehicle_busy)"},
	} {
		if got := doc.Paths[tc.path][tc.method].Responses[tc.status].Description; !strings.HasSuffix(got, tc.want) {
			t.Errorf("%s %s %s: %q", tc.method, tc.path, tc.status, got)
		}
	}
	if enum := doc.Components.Schemas["Problem"].Properties["code"].Enum; !slices.Contains(enum, CodeTariffOverlap) || !slices.Contains(enum, "forbidden") {
		t.Errorf("Problem code enum: %v", enum)
	}
}

func mustCity(t *testing.T, e *env, code string) City {
	t.Helper()
	c, err := CityByCode(context.Background(), e.DB.Pool, code)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func abbrev(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// rawPut sends a PUT with an n-byte JSON body over its own connection and returns the
// status and body of the answer; the body is written in the background (the server may
// close the connection before reading it all).
func rawPut(t *testing.T, base, path, token string, n int) (int, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() //nolint:errcheck // test connection
	body := `{"pad":"` + strings.Repeat("x", n-10) + `"}`
	go func() {
		// Errors (the server closing early) are expected and not the test's subject.
		_, _ = fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			path, u.Host, token, len(body))
		_, _ = io.WriteString(conn, body)
	}()
	if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // read below
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
