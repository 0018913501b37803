package rides_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi/riderapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/rides"
	"github.com/fleetedge/fleetedge/protocol/link"
)

const testCity = "testcity"

// Test geography (Barcelona-ish): an operating area square, a no-parking strip inside it, a
// parking spot inside it; outside the square nothing is allowed (global rules).
const (
	startLat, startLon     = 41.3900, 2.1600 // inside the area, no other zone
	noParkLat, noParkLon   = 41.3960, 2.1660 // inside "no-park"
	parkingLat, parkingLon = 41.3855, 2.1505 // inside "parking-a"
	outsideLat, outsideLon = 41.5000, 2.3000 // outside the operating area
)

const zonesDoc = `{
 "last_updated": "2026-11-25T00:00:00Z", "ttl": 60, "version": "3.0",
 "data": {
  "geofencing_zones": {"type": "FeatureCollection", "features": [
   {"type": "Feature", "id": "no-park", "properties": {"name": [{"text": "Passeig No Parking", "language": "en"}],
     "fleetedge": {"kind": "no_parking"},
     "rules": [{"ride_start_allowed": true, "ride_end_allowed": false, "ride_through_allowed": true}]},
    "geometry": {"type": "MultiPolygon", "coordinates": [[[[2.165, 41.395], [2.167, 41.395], [2.167, 41.397], [2.165, 41.397], [2.165, 41.395]]]]}},
   {"type": "Feature", "id": "parking-a", "properties": {"name": [{"text": "Parking A", "language": "en"}],
     "fleetedge": {"kind": "parking"},
     "rules": [{"ride_start_allowed": true, "ride_end_allowed": true, "ride_through_allowed": true}]},
    "geometry": {"type": "MultiPolygon", "coordinates": [[[[2.150, 41.385], [2.151, 41.385], [2.151, 41.386], [2.150, 41.386], [2.150, 41.385]]]]}},
   {"type": "Feature", "id": "area", "properties": {"name": [{"text": "Service area", "language": "en"}],
     "fleetedge": {"kind": "operating_area"},
     "rules": [{"ride_start_allowed": true, "ride_end_allowed": true, "ride_through_allowed": true}]},
    "geometry": {"type": "MultiPolygon", "coordinates": [[[[2.14, 41.37], [2.19, 41.37], [2.19, 41.41], [2.14, 41.41], [2.14, 41.37]]]]}}
  ]},
  "global_rules": [{"ride_start_allowed": false, "ride_end_allowed": false, "ride_through_allowed": false}]
 }
}`

// Tariff of the tests (EUR minor units).
const (
	unlockFee      = 100
	perMinute      = 20
	pausePerMinute = 5
	outOfZoneFine  = 500
	minimumBalance = 300
)

// clock is the service's settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// scriptedGateway answers ride commands as a city gateway would report the scooter's
// outcome, per command code (acked unless told otherwise). It stands in for the gateway in
// the tests of the API logic; the real gateway path is proven by e2e_test.go.
type scriptedGateway struct {
	mu       sync.Mutex
	outcomes map[int]link.Outcome
	errs     map[int]error
	delay    time.Duration
	sent     []link.CommandRequest
}

func (g *scriptedGateway) SendCommand(ctx context.Context, city link.CityID, req link.CommandRequest) (link.CommandResult, error) {
	if err := req.Validate(); err != nil {
		return link.CommandResult{}, err
	}
	g.mu.Lock()
	g.sent = append(g.sent, req)
	out, ok := g.outcomes[req.Code]
	err := g.errs[req.Code]
	delay := g.delay
	g.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return link.CommandResult{}, ctx.Err()
		}
	}
	if err != nil {
		return link.CommandResult{}, err
	}
	if !ok {
		out = link.OutcomeAcked
	}
	return link.CommandResult{V: link.Version, ID: req.ID, Vehicle: req.Vehicle, Code: req.Code, Source: req.Source, Outcome: out}, nil
}

func (g *scriptedGateway) set(code int, o link.Outcome, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.outcomes == nil {
		g.outcomes, g.errs = map[int]link.Outcome{}, map[int]error{}
	}
	g.outcomes[code], g.errs[code] = o, err
}

func (g *scriptedGateway) commands() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, r := range g.sent {
		out = append(out, fmt.Sprintf("%d %s", r.Code, r.ID))
	}
	return out
}

// env is the rides service on the rider and admin APIs of one fresh database, with a seeded
// city (zones, tariff) and a scripted gateway.
type env struct {
	t      *testing.T
	admin  *adminapitest.Env
	rider  *riderapitest.Env
	svc    *rides.Service
	gw     *scriptedGateway
	live   *livestate.Fleet
	clock  *clock
	cityID int64
	seq    uint64
	reg    *prometheus.Registry
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ae := adminapitest.New(t)
	re := riderapitest.NewOn(t, ae.DB)
	e := &env{t: t, admin: ae, rider: re, gw: &scriptedGateway{}, live: livestate.New(),
		clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, reg: prometheus.NewRegistry()}
	svc, err := rides.New(rides.Config{Pool: ae.DB.Pool, Live: e.live, Now: e.clock.Now, Registerer: e.reg,
		Commander: func() rides.Commander { return e.gw }})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	svc.RegisterRider(re.API.Huma())
	svc.RegisterAdmin(ae.API)
	ctx := t.Context()
	pool := ae.DB.Pool
	if err := pool.QueryRow(ctx, `INSERT INTO cities (code, name, timezone, currency) VALUES ($1, 'Test City', 'Europe/Madrid', 'EUR') RETURNING id`,
		testCity).Scan(&e.cityID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO zones (city_id, version, document, published_at) VALUES ($1, 1, $2, now())`,
		e.cityID, zonesDoc); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO tariffs (city_id, version, effective_from, currency, unlock_fee_minor,
		per_minute_minor, pause_per_minute_minor, parking_outside_zone_fine_minor, minimum_balance_minor)
		VALUES ($1, 1, $2, 'EUR', $3, $4, $5, $6, $7)`, e.cityID, e.clock.Now().Add(-24*time.Hour),
		unlockFee, perMinute, pausePerMinute, outOfZoneFine, minimumBalance); err != nil {
		t.Fatal(err)
	}
	return e
}

// vehicle registers a vehicle and reports it online at (lat, lon) with battery%.
func (e *env) vehicle(number string, lat, lon float64, battery int) {
	e.t.Helper()
	if _, err := e.admin.DB.Pool.Exec(e.t.Context(), `INSERT INTO vehicles (number, city_id, model) VALUES ($1, $2, 'S1')`,
		number, e.cityID); err != nil {
		e.t.Fatal(err)
	}
	e.report(number, lat, lon, battery)
	e.seq++
	e.live.ApplyEvent(testCity, "gw-1", &link.Event{Seq: e.seq, Vehicle: number, Time: e.clock.Now(), Kind: link.EventStateChanged,
		State: &link.StateEvent{From: "offline", To: "online"}})
}

// report feeds a telemetry record (position, battery) into the live state.
func (e *env) report(number string, lat, lon float64, battery int) {
	e.seq++
	e.live.Apply(testCity, "gw-1", &link.Telemetry{Seq: e.seq, Vehicle: number, Time: e.clock.Now(),
		Position: &link.Position{Lat: lat, Lon: lon}, BatteryPct: &battery})
}

// fund gives a rider a balance (an adjustment from the cash account).
func (e *env) fund(riderID string, amount int64) {
	e.t.Helper()
	ctx := e.t.Context()
	tx, err := e.admin.DB.Pool.Begin(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	ra, err := ledger.RiderAccount(ctx, tx, riderID, "EUR")
	if err != nil {
		e.t.Fatal(err)
	}
	cash, err := ledger.SystemAccount(ctx, tx, ledger.CashAccount, "EUR")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.Adjustment, Currency: "EUR", Description: "test funds",
		Lines: []ledger.Line{{Account: ra, Amount: amount}, {Account: cash, Amount: -amount}}}); err != nil {
		e.t.Fatal(err)
	}
	if err := ledger.Commit(ctx, tx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) balance(riderID string) int64 {
	e.t.Helper()
	b, err := ledger.RiderBalance(e.t.Context(), e.admin.DB.Pool, riderID, "EUR")
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// systemBalance is the balance of a system account kind in EUR (0 when it has none).
func (e *env) systemBalance(kind string) int64 {
	e.t.Helper()
	var b int64
	err := e.admin.DB.Pool.QueryRow(e.t.Context(), `SELECT coalesce(sum(balance_minor), 0)::bigint FROM ledger_account_balances
		WHERE kind = $1 AND currency = 'EUR'`, kind).Scan(&b)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) scalar(q string, args ...any) any {
	e.t.Helper()
	var v any
	if err := e.admin.DB.Pool.QueryRow(e.t.Context(), q, args...).Scan(&v); err != nil && err != pgx.ErrNoRows {
		e.t.Fatal(err)
	}
	return v
}

// fundedRider signs up a rider with a balance.
func (e *env) fundedRider(amount int64) riderapitest.Rider {
	r := e.rider.SignUp("")
	if amount != 0 {
		e.fund(r.ID, amount)
	}
	return r
}

func (e *env) do(method, path, token string, body any) riderapitest.Response {
	e.t.Helper()
	return e.rider.Do(method, path, token, body, nil)
}

func (e *env) start(token, vehicle string) riderapitest.Response {
	e.t.Helper()
	return e.do("POST", "/v1/rides", token, map[string]any{"vehicle": vehicle})
}

func qrURL(number string) string {
	return "https://ride.example.com/v/" + url.PathEscape(number) + "?src=qr"
}

type rideJSON struct {
	ID             string `json:"id"`
	State          string `json:"state"`
	Vehicle        string `json:"vehicle"`
	FareTotalMinor *int64 `json:"fare_total_minor"`
	EndReason      string `json:"end_reason"`
	FineAccepted   bool   `json:"fine_accepted"`
}

func (e *env) ride(r riderapitest.Response, want int) rideJSON {
	e.t.Helper()
	if r.Status != want {
		e.t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
	var out rideJSON
	r.JSON(e.t, &out)
	return out
}

// metric is the value of a counter series (name and label value), 0 when absent.
func (e *env) metric(name, label string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func urlEsc(s string) string { return url.PathEscape(s) }

// login logs a rider in again (a suspension revoked the sessions) and returns the token.
func (e *env) login(email string) string {
	e.t.Helper()
	r := e.rider.Do("POST", "/v1/auth/login", "", map[string]any{"email": email, "password": riderapitest.Password}, nil)
	var out riderapi.TokenBody
	r.JSON(e.t, &out)
	if r.Status != 200 || out.AccessToken == "" {
		e.t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	return out.AccessToken
}
