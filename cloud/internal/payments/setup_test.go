package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/idempotency"
	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
	"github.com/fleetedge/fleetedge/cloud/internal/payments"
	"github.com/fleetedge/fleetedge/cloud/internal/paymentsandbox"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi/riderapitest"
)

var webhookSecret = bytes.Repeat([]byte("w"), 32)

// env is the rider and admin APIs on one fresh database with the payments area registered and
// a sandbox provider delivering its webhooks to the rider API over HTTP.
type env struct {
	t     *testing.T
	admin *adminapitest.Env
	rider *riderapitest.Env
	sb    *paymentsandbox.Sandbox
	svc   *payments.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ae := adminapitest.New(t)
	re := riderapitest.NewOn(t, ae.DB)
	sb, err := paymentsandbox.New(paymentsandbox.Config{Secrets: [][]byte{webhookSecret},
		WebhookURL: re.URL + "/v1/payments/webhooks/sandbox", PendingDelay: 50 * time.Millisecond, Log: re.Log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	idem, err := idempotency.New(ae.DB.Pool, idempotency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := payments.New(payments.Config{Pool: ae.DB.Pool, Keyring: re.Keyring, Providers: []payments.Provider{sb},
		Idempotency: idem, Currencies: []string{"EUR", "USD"}, Log: re.Log})
	if err != nil {
		t.Fatal(err)
	}
	svc.RegisterRider(re.API.Huma())
	svc.RegisterAdmin(ae.API)
	return &env{t: t, admin: ae, rider: re, sb: sb, svc: svc}
}

func (e *env) addMethod(r riderapitest.Rider, token string) payments.MethodBody {
	e.t.Helper()
	res := e.rider.Do("POST", "/v1/payment-methods", r.Token, map[string]any{"token": token}, nil)
	if res.Status != 201 {
		e.t.Fatalf("add method %s: %d %s", token, res.Status, res.Body)
	}
	var m payments.MethodBody
	res.JSON(e.t, &m)
	return m
}

func (e *env) topUp(r riderapitest.Rider, key string, body map[string]any) riderapitest.Response {
	e.t.Helper()
	h := map[string]string{}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	return e.rider.Do("POST", "/v1/top-ups", r.Token, body, h)
}

func (e *env) balance(riderID string) int64 {
	e.t.Helper()
	b, err := ledger.RiderBalance(e.t.Context(), e.admin.DB.Pool, riderID, "EUR")
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.admin.DB.Pool.QueryRow(e.t.Context(), sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (e *env) payment(id string) payments.Payment {
	e.t.Helper()
	p, err := e.svc.Get(e.t.Context(), "", id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// postWebhook sends body to the webhook endpoint with the given signature header value.
func (e *env) postWebhook(provider string, body []byte, sig string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), "POST", e.rider.URL+"/v1/payments/webhooks/"+provider, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(paymentsandbox.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct{ Code, Outcome string }
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if p.Code != "" {
		return resp.StatusCode, p.Code
	}
	return resp.StatusCode, p.Outcome
}

// chargedRide inserts a ride of the rider and charges it total (revenue) + fine (fines), as
// the rides area does.
func (e *env) chargedRide(riderID string, total, fine int64) string {
	e.t.Helper()
	ctx := e.t.Context()
	pool := e.admin.DB.Pool
	var city, gw, veh int64
	suffix := uuid.NewString()[:8]
	must := func(err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatal(err)
		}
	}
	must(pool.QueryRow(ctx, `INSERT INTO cities (code, name, currency) VALUES ($1, 'Barcelona', 'EUR') RETURNING id`, "c"+suffix).Scan(&city))
	must(pool.QueryRow(ctx, `INSERT INTO gateways (code, city_id) VALUES ($1, $2) RETURNING id`, "g"+suffix, city).Scan(&gw))
	must(pool.QueryRow(ctx, `INSERT INTO vehicles (number, model, city_id, gateway_id) VALUES ($1, 'ES4', $2, $3) RETURNING id`, "V"+suffix, city, gw).Scan(&veh))
	var ride string
	must(pool.QueryRow(ctx, `INSERT INTO rides (rider_id, vehicle_id, city_id, started_at, ended_at, state, start_lat, start_lon, fare_total_minor, currency)
		VALUES ($1, $2, $3, now() - interval '10 minutes', now(), 'ended', 41.39, 2.17, $4, 'EUR') RETURNING id::text`, riderID, veh, city, total).Scan(&ride))
	must(pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		r, err := ledger.RiderAccount(ctx, tx, riderID, "EUR")
		if err != nil {
			return err
		}
		rev, err := ledger.SystemAccount(ctx, tx, ledger.RevenueAccount, "EUR")
		if err != nil {
			return err
		}
		lines := []ledger.Line{{Account: r, Amount: -total}, {Account: rev, Amount: total - fine}}
		if fine > 0 {
			fines, err := ledger.SystemAccount(ctx, tx, ledger.FinesAccount, "EUR")
			if err != nil {
				return err
			}
			lines = append(lines, ledger.Line{Account: fines, Amount: fine})
		}
		_, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.RideCharge, Currency: "EUR", RideID: ride, Lines: lines})
		return err
	}))
	return ride
}

var _ = context.Background
