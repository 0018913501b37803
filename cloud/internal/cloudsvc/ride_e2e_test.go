package cloudsvc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/analytics"
	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/citycfg"
	"github.com/fleetedge/fleetedge/cloud/internal/fare"
	"github.com/fleetedge/fleetedge/cloud/internal/fleetops"
	"github.com/fleetedge/fleetedge/cloud/internal/rides"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// The whole system, as `make run` starts it, for one ride: the real cloud App (role all:
// PostgreSQL, ClickHouse, embedded NATS, ingest, every area of areas.go), the real gateway
// binary and a scooter-sim process whose scooter is an MQTT client that obeys commands. The
// test talks only to the public HTTP APIs (admin, rider, the gateway's local API); PostgreSQL
// and ClickHouse are read, never written, to verify the money and the route.

const (
	e2eCityCode   = "barcelona"
	e2eGatewayID  = "bcn-gw-e2e"
	e2eAdminEmail = "root@example.com"
	e2eAdminPass  = "a long bootstrap password for the ride test"
	e2eSlowZone   = "slow-e2e"
	e2eSlowKph    = 10
	e2ePause      = 3 * time.Second

	// The tariff: unlock, per started ride minute, per started paused minute, and a
	// per-minute surcharge inside the slow zone that appears mid-ride.
	e2eUnlock    = 100
	e2ePerMinute = 23
	e2ePauseMin  = 7
	e2eSlowMin   = 11
	e2eTopUp     = 2000
)

// TestRideE2E: admin sets up the city (gateway, scooter with a provisioned credential, zones,
// tariff) → the gateway gets its configuration from the cloud → a rider signs up, adds tok_visa
// and tops up 20.00 EUR (Idempotency-Key) → starts a ride by QR (active only after the
// scooter's ack) → an admin adds a slow zone around the riding scooter: the zone push reaches
// the gateway mid-ride, which sends 13 and the scooter slows down → pause, resume (73/75) →
// end (power off acked) → the receipt adds up, the fare equals an independent computation
// (fare.Rebuild over the ride's fixes read back from ClickHouse, fare.Compute with the
// tariff), the balance is 2000 − fare and the ledger's ride_charge balances and credits
// revenue.
func TestRideE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("whole system: builds and runs the gateway and scooter-sim, the cloud with every database")
	}
	t.Parallel()
	began := time.Now()
	root, gwBin, simBin := rideE2EBinaries(t)
	t.Logf("binaries built in %v", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	dir := t.TempDir()

	// ---- the cloud, as `make run` starts it (role all), with a bootstrap admin ----
	cfg := testConfig(t, RoleAll)
	cfg.ShutdownTimeout = Duration(15 * time.Second)
	pwFile := filepath.Join(dir, "admin-password")
	if err := os.WriteFile(pwFile, []byte(e2eAdminPass), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Admin = AdminConfig{BootstrapEmail: e2eAdminEmail, BootstrapName: "Root", BootstrapPasswordFile: pwFile}
	cloudLog := &e2eBuffer{}
	app, err := New(cfg, slog.New(slog.NewJSONHandler(cloudLog, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(runCtx) }()
	t.Cleanup(func() { // after the gateway and the scooter stopped, before the databases go
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("cloud Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("cloud did not stop 30 s after cancel")
		}
		if err := app.Close(); err != nil {
			t.Errorf("cloud Close: %v", err)
		}
		if t.Failed() {
			t.Logf("----- cloud: last lines -----\n%s", cloudLog.tail(120))
		}
	})
	waitReady(t, app, runErr)
	api := &e2eAPI{t: t, base: "http://" + app.HTTPAddr(), client: &http.Client{Timeout: 30 * time.Second}}
	ctx := t.Context()
	pool := app.pg.Load()
	t.Logf("cloud ready in %v", time.Since(began).Round(time.Millisecond))

	// ---- 1. admin: city, gateway, scooter, zones, tariff ----
	var login struct {
		Session struct{ Token string }
	}
	api.must(200, "POST", "/admin/v1/auth/login", "", map[string]any{"email": e2eAdminEmail, "password": e2eAdminPass}).JSON(t, &login)
	adm := login.Session.Token
	if adm == "" {
		t.Fatal("admin login: no session token")
	}
	ap := "/admin/v1/cities/" + e2eCityCode
	api.must(201, "POST", "/admin/v1/cities", adm, map[string]any{"code": e2eCityCode, "name": "Barcelona",
		"timezone": "Europe/Madrid", "currency": "EUR"})
	api.must(201, "POST", ap+"/gateways", adm, map[string]any{"code": e2eGatewayID, "name": "E2E gateway"})

	if out, err := execOut(simBin, "provision", "--n", "1", "--out", dir, "--city", e2eCityCode, "--prefix", "RE"); err != nil {
		t.Fatalf("scooter-sim provision: %v\n%s", err, out)
	}
	var provisioned link.VehiclesDoc
	readJSONFile(t, filepath.Join(dir, "vehicles.json"), &provisioned)
	if len(provisioned.Vehicles) != 1 || !strings.HasPrefix(provisioned.Vehicles[0].CredentialHash, "sha256:") {
		t.Fatalf("provisioned vehicles: %+v", provisioned)
	}
	number := provisioned.Vehicles[0].ID
	var imported struct{ Created []string }
	api.must(200, "POST", ap+"/vehicles/import", adm, map[string]any{"vehicles": []map[string]any{{
		"number": number, "credential_hash": provisioned.Vehicles[0].CredentialHash, "gateway": e2eGatewayID,
		"model": "sim", "normal_speed_limit_kmh": 25}}}).JSON(t, &imported)
	if !slices.Equal(imported.Created, []string{number}) {
		t.Fatalf("import created %v, want [%s]", imported.Created, number)
	}

	// The operating area covers the demo street graph (41.3745–41.4116 N, 2.127–2.1868 E) with
	// a margin; rides may start and end anywhere in it. Outside: nothing allowed.
	opArea := rectZone("operating-area", "E2E service area", "operating_area", 2.10, 41.36, 2.22, 41.43, -1)
	var zput struct {
		Zones   citycfg.ZoneVersionBody
		Created bool
	}
	api.must(200, "PUT", ap+"/zones", adm, string(zonesDoc(t, opArea))).JSON(t, &zput)
	if !zput.Created || zput.Zones.Version != 1 {
		t.Fatalf("zones v1: %+v", zput)
	}
	var tariff struct{ Tariff citycfg.TariffBody }
	api.must(201, "POST", ap+"/tariffs", adm, map[string]any{
		"effective_from": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "unlock_fee_minor": e2eUnlock,
		"per_minute_minor": e2ePerMinute, "pause_per_minute_minor": e2ePauseMin, "parking_outside_zone_fine_minor": 500,
		"minimum_balance_minor": 500, "zone_surcharges": []map[string]any{{"zone": e2eSlowZone, "per_minute_minor": e2eSlowMin, "fixed_minor": 0}},
	}).JSON(t, &tariff)
	eventually(t, "the city's zones, vehicles and tariffs pushed for its gateways", 20*time.Second, func() (bool, string) {
		var c citycfg.CityBody
		api.must(200, "GET", ap, adm, nil).JSON(t, &c)
		pushed := 0
		for _, d := range c.Config {
			if !d.Pending && d.PublishedVersion == d.Version && d.PublishedVersion > 0 {
				pushed++
			}
		}
		return pushed == 3 && len(c.Config) == 3, fmt.Sprintf("%+v", c.Config)
	})

	// ---- the gateway: nothing configured locally, everything comes from the cloud ----
	gwConf := filepath.Join(dir, "gateway.json")
	if err := os.WriteFile(gwConf, []byte(`{"cloud": {"cadence": {"position": "0s", "speed": "0s", "signal": "0s", "battery": "0s", "status": "0s"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := startE2EProc(t, "gateway", gwBin, "--config", gwConf, "--city", e2eCityCode, "--gateway-id", e2eGatewayID,
		"--data-dir", filepath.Join(dir, "gateway"), "--mqtt-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--cloud-nats-url", app.NATSURL(), "--log-format", "json", "--log-level", "info")
	var ready struct {
		MQTT string `json:"mqtt_tcp"`
		HTTP string `json:"http"`
	}
	eventually(t, "gateway ready", 30*time.Second, func() (bool, string) {
		if gw.exited() {
			t.Fatalf("gateway exited:\n%s", gw.out.tail(40))
		}
		l := gw.out.line(`"msg":"gateway ready"`)
		return l != "" && json.Unmarshal([]byte(l), &ready) == nil && ready.MQTT != "" && ready.HTTP != "", l
	})
	gwAPI := "http://" + ready.HTTP + "/api/v1"
	hc := &http.Client{Timeout: 10 * time.Second}
	eventually(t, "the gateway holds the cloud's vehicles and zones", 20*time.Second, func() (bool, string) {
		var st struct {
			Vehicles map[string]int
			Zones    int
		}
		ok, raw := getJSON(hc, gwAPI+"/status", &st)
		return ok && st.Vehicles["configured"] == 1 && st.Zones == 1, raw
	})

	// ---- the scooter ----
	startE2EProc(t, "scooter-sim", simBin, "run", "--broker", ready.MQTT, "--creds", filepath.Join(dir, "sim-credentials.json"),
		"--n", "1", "--city", filepath.Join(root, "deploy/demo/barcelona/streets.json"), "--zones", "",
		"--gps-interval", "1s", "--heartbeat-interval", "2s", "--gps-noise", "0", "--status-every", "0",
		"--vibration-per-hour", "0", "--quirk-rate", "0", "--old-firmware", "0", "--min-speed", "18", "--max-speed", "18",
		"--reconnect-delay", "500ms")
	detail := func() fleetops.FleetVehicleDetail {
		t.Helper()
		var d fleetops.FleetVehicleDetail
		api.must(200, "GET", "/admin/v1/fleet/vehicles/"+number+"?event_limit=200&telemetry_limit=1", adm, nil).JSON(t, &d)
		return d
	}
	eventually(t, "the scooter online with a position and battery on the admin live map", 30*time.Second, func() (bool, string) {
		var m fleetops.FleetLiveMap
		api.must(200, "GET", "/admin/v1/fleet/cities/"+e2eCityCode+"/live", adm, nil).JSON(t, &m)
		for _, v := range m.Vehicles {
			if v.Number == number {
				return v.Connectivity == fleetops.ConnOnline && v.HasPosition && v.BatteryPct > 0, fmt.Sprintf("%+v", v)
			}
		}
		return false, fmt.Sprintf("%+v", m)
	})
	t.Logf("city, gateway and scooter up after %v", time.Since(began).Round(time.Millisecond))

	// ---- 2. rider: sign up, card, top up 20.00 EUR ----
	var signup struct {
		AccessToken string `json:"access_token"`
		Rider       struct{ ID string }
	}
	api.must(201, "POST", "/v1/auth/signup", "", map[string]any{"first_name": "Ana", "last_name": "Ruiz",
		"email": "ana.ride@example.com", "password": "correct horse battery staple"}).JSON(t, &signup)
	tok, riderID := signup.AccessToken, signup.Rider.ID
	if tok == "" || riderID == "" {
		t.Fatalf("signup: %+v", signup)
	}
	var method struct{ ID string }
	api.must(201, "POST", "/v1/payment-methods", tok, map[string]any{"token": "tok_visa"}).JSON(t, &method)
	key := "ride-e2e-topup-" + riderID
	topUp := map[string]any{"amount_minor": e2eTopUp, "currency": "EUR", "payment_method_id": method.ID}
	var pay, again struct {
		ID, Status  string
		AmountMinor int64 `json:"amount_minor"`
	}
	api.must(201, "POST", "/v1/top-ups", tok, topUp, "Idempotency-Key", key).JSON(t, &pay)
	api.must(201, "POST", "/v1/top-ups", tok, topUp, "Idempotency-Key", key).JSON(t, &again) // a retry: charged once
	if pay.Status != "succeeded" || pay.AmountMinor != e2eTopUp || again.ID != pay.ID {
		t.Fatalf("top-up %+v, its retry %+v", pay, again)
	}
	balance := func() int64 {
		t.Helper()
		var b struct {
			Currency     string
			BalanceMinor int64 `json:"balance_minor"`
		}
		api.must(200, "GET", "/v1/balance?currency=EUR", tok, nil).JSON(t, &b)
		if b.Currency != "EUR" {
			t.Fatalf("balance currency %q", b.Currency)
		}
		return b.BalanceMinor
	}
	if b := balance(); b != e2eTopUp {
		t.Fatalf("balance after the top-up and its retry: %d, want %d", b, e2eTopUp)
	}

	// ---- 3. start by QR: active only after the scooter's ack ----
	var ride rides.RideBody
	api.must(201, "POST", "/v1/rides", tok, map[string]any{"vehicle": "https://ride.example.com/v/" + number}).JSON(t, &ride)
	if ride.State != "active" || ride.Vehicle != number || ride.City != e2eCityCode || ride.Currency != "EUR" {
		t.Fatalf("started ride: %+v", ride)
	}
	startAck := waitCommandEvent(t, detail, ride.ID+":start", 1, time.Time{})
	if startAck.At.After(ride.StartedAt) {
		t.Fatalf("the ride started at %v, before the scooter's ack of the power-on at %v", ride.StartedAt, startAck.At)
	}
	eventually(t, "the scooter riding away from the start", 20*time.Second, func() (bool, string) {
		d := detail()
		moved := math.Abs(d.Live.Lat-ride.Start.Lat)+math.Abs(d.Live.Lon-ride.Start.Lon) > 2e-4 // ≈ 20 m
		return d.Live.Powered && moved && d.Live.PositionAt.After(ride.StartedAt), fmt.Sprintf("%+v", d.Live)
	})

	// ---- 4. a slow zone appears around the riding scooter ----
	// The scooter, asked over the real path (admin → cloud → gateway → MQTT), reports its
	// speed limit and speed: first the normal limit and the rider's cruising speed, above the
	// slow zone's limit.
	query := func() (limit, speed float64, res fleetops.VehicleCommandResult) {
		t.Helper()
		api.must(200, "POST", "/admin/v1/fleet/vehicles/"+number+"/commands", adm, map[string]any{"code": 15}).JSON(t, &res)
		limit, _ = res.Reply["speed_limit"].(float64)
		speed, _ = res.Reply["speed"].(float64)
		if limit >= 2000 {
			limit -= 2000
		}
		return limit, speed, res
	}
	eventually(t, "the scooter cruising above the coming slow zone's limit", 15*time.Second, func() (bool, string) {
		limit, speed, res := query()
		return res.Outcome == "acked" && limit == 25 && speed > e2eSlowKph, fmt.Sprintf("%+v", res)
	})
	here := detail().Live
	const half = 0.01 // ± 1.1 km north-south, ± 0.8 km east-west: the rest of the ride stays inside
	slow := rectZone(e2eSlowZone, "E2E slow zone", "slow", here.Lon-half, here.Lat-half, here.Lon+half, here.Lat+half, e2eSlowKph)
	zonesV2 := zonesDoc(t, slow, opArea) // first: its rules win where the zones overlap
	zoneAt := time.Now()
	var zput2 struct {
		Zones   citycfg.ZoneVersionBody
		Created bool
		Config  []citycfg.DocStateBody
	}
	api.must(200, "PUT", ap+"/zones", adm, string(zonesV2)).JSON(t, &zput2)
	if !zput2.Created || zput2.Zones.Version != 2 || len(zput2.Config) != 1 || zput2.Config[0].Pending {
		t.Fatalf("zones v2 not pushed at once: %+v", zput2)
	}
	eventually(t, "the gateway's rules put the scooter in the slow zone and sent its limit", 20*time.Second, func() (bool, string) {
		var v struct {
			Rules struct {
				Zones    []string
				LimitKmh *int `json:"limit_kmh"`
				Pending  bool
			}
		}
		ok, raw := getJSON(hc, gwAPI+"/vehicles/"+number, &v)
		return ok && slices.Contains(v.Rules.Zones, e2eSlowZone) && v.Rules.LimitKmh != nil && *v.Rules.LimitKmh == e2eSlowKph &&
			!v.Rules.Pending, raw
	})
	limitAck := waitCommandEvent(t, detail, "", 13, zoneAt)
	t.Logf("slow zone: PUT at +0, the scooter's ack of 13 reported by the gateway at +%v", limitAck.At.Sub(zoneAt).Round(time.Millisecond))
	// The scooter itself says it obeys: the zone's limit and, once it braked, riding within it.
	eventually(t, "the scooter reports the slow zone's limit and rides within it", 15*time.Second, func() (bool, string) {
		limit, speed, res := query()
		return res.Outcome == "acked" && limit == e2eSlowKph && speed > 0 && speed <= e2eSlowKph, fmt.Sprintf("%+v", res)
	})

	// ---- 5. pause, resume, end ----
	rideOp := func(op string, body any, want string) rides.RideBody {
		t.Helper()
		var r rides.RideBody
		api.must(200, "POST", "/v1/rides/"+ride.ID+"/"+op, tok, body).JSON(t, &r)
		if r.State != want {
			t.Fatalf("%s: state %s, want %s: %+v", op, r.State, want, r)
		}
		return r
	}
	rideOp("pause", nil, "paused")
	pauseAck := waitCommandEvent(t, detail, ride.ID+":pause:1", 73, time.Time{})
	time.Sleep(e2ePause) // the paused time being billed
	rideOp("resume", nil, "active")
	resumeAck := waitCommandEvent(t, detail, ride.ID+":resume:1", 75, time.Time{})
	resumedAt := detail().Live
	eventually(t, "the scooter riding on after the resume", 30*time.Second, func() (bool, string) {
		d := detail()
		moved := math.Abs(d.Live.Lat-resumedAt.Lat)+math.Abs(d.Live.Lon-resumedAt.Lon) > 1e-4 // ≈ 10 m at ≤ 10 km/h
		return !d.Live.Paused && moved && d.Live.PositionAt.After(resumeAck.At), fmt.Sprintf("%+v", d.Live)
	})
	ended := rideOp("end", map[string]any{}, "ended")
	endAck := waitCommandEvent(t, detail, ride.ID+":end", 3, time.Time{})
	if ended.EndedAt == nil || ended.End == nil || ended.FareTotalMinor == nil || ended.EndReason != "rider" || ended.FineAccepted {
		t.Fatalf("ended ride: %+v", ended)
	}
	if endAck.At.After(*ended.EndedAt) {
		t.Fatalf("the ride ended at %v, before the scooter's ack of the power-off at %v", *ended.EndedAt, endAck.At)
	}
	// The gateway's ride tracker saw the ride's commands acked and reported each step.
	eventually(t, "the gateway's ride events in the vehicle's events", 20*time.Second, func() (bool, string) {
		var kinds []string
		for _, e := range detail().Events {
			if id, _ := e.Payload["ride_id"].(string); id == ride.ID {
				kinds = append(kinds, e.Kind)
			}
		}
		slices.Sort(kinds)
		return slices.Equal(kinds, []string{"ride_ended", "ride_paused", "ride_resumed", "ride_started"}), fmt.Sprint(kinds)
	})
	t.Logf("ride %s: %v, pause acked at +%v", ride.ID, ended.EndedAt.Sub(ride.StartedAt).Round(time.Millisecond),
		pauseAck.At.Sub(ride.StartedAt).Round(time.Millisecond))
	total := *ended.FareTotalMinor

	// ---- 6. the fare to the cent ----
	var rc rides.ReceiptBody
	api.must(200, "GET", "/v1/rides/"+ride.ID+"/receipt", tok, nil).JSON(t, &rc)
	var sum int64
	for _, l := range rc.Lines {
		sum += l.AmountMinor
	}
	if sum != total || rc.TotalMinor != total || rc.Currency != "EUR" || len(rc.Pauses) != 1 {
		t.Fatalf("receipt does not add up to the fare %d: lines sum %d, %+v", total, sum, rc)
	}

	// (a) By hand from the API's timestamps: every started minute counts; the whole route lies
	// in the slow zone (checked below), so its minutes are the riding time (to the second),
	// at most the ride minutes.
	pause := rc.Pauses[0].To.Sub(rc.Pauses[0].From)
	if pause < e2ePause || rc.Pauses[0].From.Before(ride.StartedAt) || rc.Pauses[0].To.After(*ended.EndedAt) {
		t.Fatalf("pause %+v of the ride %v…%v", rc.Pauses[0], ride.StartedAt, *ended.EndedAt)
	}
	startedMin := func(d time.Duration) int64 { return int64((d + time.Minute - 1) / time.Minute) }
	riding := ended.EndedAt.Sub(ride.StartedAt) - pause
	rideMin, pauseMin := startedMin(riding), startedMin(pause)
	slowMin := min(rideMin, startedMin(riding.Round(time.Second)))
	want := map[string]int64{"unlock": e2eUnlock, "time": rideMin * e2ePerMinute, "pause": pauseMin * e2ePauseMin,
		"surcharge:" + e2eSlowZone: slowMin * e2eSlowMin}
	got := map[string]int64{}
	for _, l := range rc.Lines {
		got[l.Code] += l.AmountMinor
	}
	var wantTotal int64
	for _, v := range want {
		wantTotal += v
	}
	if !maps.Equal(got, want) || total != wantTotal || int64(rc.RideMinutes) != rideMin || int64(rc.PauseMinutes) != pauseMin {
		t.Fatalf("receipt lines %v (total %d, %d ride min, %d pause min), want %v (total %d, %d, %d)",
			got, total, rc.RideMinutes, rc.PauseMinutes, want, wantTotal, rideMin, pauseMin)
	}

	// (b) Independently with cloud/internal/fare over the ride's fixes read back from ClickHouse,
	// the zones document this admin uploaded and the tariff as the admin API reports it.
	ch, err := chstore.Open(ctx, cfg.ClickHouse.DSN.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	pts, err := ch.Route(ctx, e2eCityCode, number, chstore.Window{From: ride.StartedAt, To: ended.EndedAt.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	var inRide []fare.Fix
	for _, p := range pts {
		if (p.Lat != 0 || p.Lon != 0) && !p.Time.Before(ride.StartedAt) && p.Time.Before(*ended.EndedAt) {
			inRide = append(inRide, fare.Fix{Time: p.Time, Lat: p.Lat, Lon: p.Lon})
		}
	}
	if len(inRide) < 5 {
		t.Fatalf("only %d fixes of the ride in ClickHouse", len(inRide))
	}
	withEnds := func(fs []fare.Fix) []fare.Fix {
		out := []fare.Fix{{Time: ride.StartedAt, Lat: ride.Start.Lat, Lon: ride.Start.Lon}}
		out = append(out, fs...)
		return append(out, fare.Fix{Time: *ended.EndedAt, Lat: ended.End.Lat, Lon: ended.End.Lon})
	}
	madrid, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	zs, err := zone.Load(zonesV2, zone.Options{Location: madrid})
	if err != nil {
		t.Fatal(err)
	}
	var cur citycfg.TariffBody
	api.must(200, "GET", ap+"/tariffs/current", adm, nil).JSON(t, &cur)
	if cur.ID != tariff.Tariff.ID {
		t.Fatalf("tariff in force %d, want %d", cur.ID, tariff.Tariff.ID)
	}
	ft := fare.Tariff{Currency: cur.Currency, UnlockFee: cur.UnlockFeeMinor, PerMinute: cur.PerMinuteMinor, PerKm: cur.PerKmMinor,
		PausePerMinute: cur.PausePerMinuteMinor, OutOfZoneFine: cur.ParkingOutsideZoneFineMinor}
	var ids []string
	for _, s := range cur.ZoneSurcharges {
		ft.Surcharges = append(ft.Surcharges, fare.Surcharge{ZoneID: s.Zone, PerMinute: s.PerMinuteMinor, Fixed: s.FixedMinor})
		ids = append(ids, s.Zone)
	}
	pauses := []fare.Interval{{From: rc.Pauses[0].From, To: rc.Pauses[0].To}}
	compute := func(fixes []fare.Fix) (fare.Breakdown, fare.Route) {
		t.Helper()
		route := fare.Rebuild(withEnds(fixes), fare.RouteOptions{})
		b, err := fare.Compute(ft, fare.Ride{Start: ride.StartedAt, End: *ended.EndedAt, Pauses: pauses, Route: route,
			ZoneMinutes: fare.ZoneMinutes(route, zs, ids, pauses),
			StartZones:  fare.ZonesAt(zs, ride.Start.Lat, ride.Start.Lon, ride.StartedAt),
			EndZones:    fare.ZonesAt(zs, ended.End.Lat, ended.End.Lon, *ended.EndedAt)})
		if err != nil {
			t.Fatal(err)
		}
		return b, route
	}
	indep, route := compute(inRide)
	slowIdx, _ := zs.Lookup(e2eSlowZone)
	for _, p := range route.Points {
		if !zs.Contains(slowIdx, orbPoint(p)) {
			t.Fatalf("route point %+v outside the slow zone: the by-hand expectation does not hold", p)
		}
	}
	if !sameLines(indep.Lines, rc.Lines) || indep.Total != total || indep.RideMinutes != rc.RideMinutes || indep.PauseMinutes != rc.PauseMinutes {
		t.Fatalf("independent fare %+v ≠ receipt %+v", indep, rc)
	}
	// The route and its length: the cloud priced the fixes ClickHouse held when the scooter
	// acked the power-off; fixes still on their way then (the last second or so) are there now.
	// Rebuilt from the same fixes (the first k in time), the route is the receipt's, to the metre.
	var bdRaw []byte
	if err := pool.QueryRow(ctx, `SELECT fare_breakdown::text FROM rides WHERE id = $1`, ride.ID).Scan(&bdRaw); err != nil {
		t.Fatal(err)
	}
	var stored rides.StoredBreakdown
	if err := json.Unmarshal(bdRaw, &stored); err != nil {
		t.Fatal(err)
	}
	cloudFixes := stored.RoutePoints + stored.DroppedFixes - 2 // less the start and end positions
	late := len(inRide) - cloudFixes
	if late < 0 || late > 20 {
		t.Fatalf("the cloud priced %d fixes, ClickHouse holds %d of the ride now", cloudFixes, len(inRide))
	}
	same, sameRoute := compute(inRide[:cloudFixes])
	if !sameLines(same.Lines, rc.Lines) || same.Total != total || same.DistanceM != rc.DistanceM || rc.DistanceM != ended.DistanceM ||
		!slices.EqualFunc(lineCoords(t, sameRoute.GeoJSON()), lineCoords(t, rc.Route), slices.Equal) || rc.DistanceM < 20 {
		t.Fatalf("route from the first %d fixes: %d m %s; receipt: %d m %s", cloudFixes, same.DistanceM, sameRoute.GeoJSON(),
			rc.DistanceM, rc.Route)
	}
	var lateDesc []string
	for i := cloudFixes; i < len(inRide); i++ {
		f, prev := inRide[i], inRide[max(i-1, 0)]
		lateDesc = append(lateDesc, fmt.Sprintf("%v before the end%s", ended.EndedAt.Sub(f.Time).Round(time.Millisecond),
			map[bool]string{true: " (same position)", false: " (new position)"}[f.Lat == prev.Lat && f.Lon == prev.Lon]))
	}
	t.Logf("fare %d = %v; %d fixes in ClickHouse, %d of them arrived after the end was priced %v; route %d m (%d m with them)",
		total, got, len(inRide), late, lateDesc, rc.DistanceM, indep.DistanceM)

	// ---- balance and ledger ----
	if b := balance(); b != e2eTopUp-total {
		t.Fatalf("balance %d, want %d − %d", b, e2eTopUp, total)
	}
	type entry struct {
		Kind    string
		RiderID string
		Amount  int64
	}
	entries := func(where string, args ...any) []entry {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT a.kind, coalesce(a.rider_id::text, ''), e.amount_minor
			FROM ledger_entries e JOIN ledger_transactions x ON x.id = e.transaction_id JOIN ledger_accounts a ON a.id = e.account_id
			WHERE `+where+` ORDER BY e.id`, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []entry
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.Kind, &e.RiderID, &e.Amount); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	charge := entries(`x.kind = 'ride_charge' AND x.ride_id = $1`, ride.ID)
	wantCharge := []entry{{"rider_balance", riderID, -total}, {"revenue", "", total}}
	if !slices.Equal(charge, wantCharge) {
		t.Fatalf("ride_charge entries %+v, want %+v (sum zero, revenue gets the fare)", charge, wantCharge)
	}
	topUpEntries := entries(`x.kind = 'top_up' AND x.payment_id = $1`, pay.ID)
	var topUpSum, riderCredit int64
	for _, e := range topUpEntries {
		topUpSum += e.Amount
		if e.Kind == "rider_balance" && e.RiderID == riderID {
			riderCredit += e.Amount
		}
	}
	if len(topUpEntries) < 2 || topUpSum != 0 || riderCredit != e2eTopUp {
		t.Fatalf("top-up entries %+v", topUpEntries)
	}
	var revenue, riderSum, txs int64
	if err := pool.QueryRow(ctx, `SELECT
		coalesce(sum(e.amount_minor) FILTER (WHERE a.kind = 'revenue'), 0),
		coalesce(sum(e.amount_minor) FILTER (WHERE a.rider_id = $1), 0),
		count(DISTINCT e.transaction_id)
		FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id`, riderID).Scan(&revenue, &riderSum, &txs); err != nil {
		t.Fatal(err)
	}
	if revenue != total || riderSum != e2eTopUp-total || txs != 2 {
		t.Fatalf("ledger: revenue %d, rider %d, %d transactions; want %d, %d, 2 (one top-up, one ride charge)",
			revenue, riderSum, txs, total, e2eTopUp-total)
	}
	// The scooter is free again, powered off.
	var veh struct{ Vehicle citycfg.VehicleBody }
	api.must(200, "GET", "/admin/v1/vehicles/"+number, adm, nil).JSON(t, &veh)
	if veh.Vehicle.Status != "available" {
		t.Fatalf("vehicle after the ride: %+v", veh.Vehicle)
	}
	// The admin analytics (ClickHouse, fed by the ride sync) count this ride with its fare.
	q := url.Values{"city": {e2eCityCode}, "bucket": {"day"},
		"from": {began.Add(-time.Hour).UTC().Format(time.RFC3339)}, "to": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}
	eventually(t, "the ride in the admin analytics", 40*time.Second, func() (bool, string) {
		var stats analytics.RideStatsBody
		api.must(200, "GET", "/admin/v1/analytics/rides?"+q.Encode(), adm, nil).JSON(t, &stats)
		var rides, revenue int64
		for _, b := range stats.Buckets {
			rides, revenue = rides+b.Rides, revenue+b.RevenueMinor
		}
		return rides == 1 && revenue == total, fmt.Sprintf("%d rides, revenue %d (want 1, %d)", rides, revenue, total)
	})
	t.Logf("whole ride test (without the build) took %v", time.Since(began).Round(time.Millisecond))
}

// commandEvent is a command_result event of the vehicle as the admin vehicle detail shows it.
type commandEvent struct {
	At      time.Time
	ID      string
	Code    int
	Outcome string
}

// waitCommandEvent waits until the vehicle's events hold an acked command_result of code
// (with id when given; at or after `after` when not zero) and returns it.
func waitCommandEvent(t *testing.T, detail func() fleetops.FleetVehicleDetail, id string, code int, after time.Time) commandEvent {
	t.Helper()
	var found commandEvent
	eventually(t, fmt.Sprintf("an acked command_result %d %s in the vehicle's events", code, id), 20*time.Second, func() (bool, string) {
		var seen []string
		for _, e := range detail().Events {
			if e.Kind != string(link.EventCommand) {
				continue
			}
			c, _ := e.Payload["code"].(float64)
			cid, _ := e.Payload["id"].(string)
			out, _ := e.Payload["outcome"].(string)
			seen = append(seen, fmt.Sprintf("%d %s %s", int(c), cid, out))
			if int(c) == code && (id == "" || cid == id) && out == string(link.OutcomeAcked) && !e.At.Before(after) {
				found = commandEvent{At: e.At, ID: cid, Code: code, Outcome: out}
				return true, ""
			}
		}
		return false, strings.Join(seen, "; ")
	})
	return found
}

func sameLines(a []fare.Line, b []rides.ReceiptLineBody) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Code != b[i].Code || a[i].Amount != b[i].AmountMinor || a[i].Description != b[i].Description {
			return false
		}
	}
	return true
}
