package pgstore_test

import (
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

func TestRiderEmailUniqueCaseInsensitive(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	ins := `INSERT INTO riders (first_name, last_name, email) VALUES ('A', 'B', $1)`
	if _, err := db.Pool.Exec(ctx, ins, "Ana.Ruiz@Example.com"); err != nil {
		t.Fatalf("first rider: %v", err)
	}
	for _, email := range []string{"ana.ruiz@example.com", "ANA.RUIZ@EXAMPLE.COM", "Ana.Ruiz@Example.com"} {
		if _, err := db.Pool.Exec(ctx, ins, email); sqlState(err) != codeUnique {
			t.Errorf("second rider %q: err = %v, want unique violation", email, err)
		}
	}
	if _, err := db.Pool.Exec(ctx, ins, "ana.ruiz2@example.com"); err != nil {
		t.Errorf("different email: %v", err)
	}
	// Admins are a separate table with the same rule.
	insAdmin := `INSERT INTO admins (email, display_name, password_hash) VALUES ($1, 'Ops', $2)`
	if _, err := db.Pool.Exec(ctx, insAdmin, "ops@example.com", fixturePHCString); err != nil {
		t.Fatalf("admin: %v", err)
	}
	if _, err := db.Pool.Exec(ctx, insAdmin, "OPS@example.com", fixturePHCString); sqlState(err) != codeUnique {
		t.Errorf("second admin: err = %v, want unique violation", err)
	}
}

func TestConstraints(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool, "c")

	tests := []struct {
		name string
		sql  string
		args []any
		code string // "" = must succeed
	}{
		{"speed limit 30 ok", `UPDATE vehicles SET normal_speed_limit_kmh = 30 WHERE id = $1`, []any{f.vehicleID}, ""},
		{"speed limit 0 ok", `UPDATE vehicles SET normal_speed_limit_kmh = 0 WHERE id = $1`, []any{f.vehicleID}, ""},
		{"speed limit 31", `UPDATE vehicles SET normal_speed_limit_kmh = 31 WHERE id = $1`, []any{f.vehicleID}, codeCheck},
		{"speed limit -1", `UPDATE vehicles SET normal_speed_limit_kmh = -1 WHERE id = $1`, []any{f.vehicleID}, codeCheck},
		{"vehicle number with slash (MQTT topic)", `INSERT INTO vehicles (number, city_id) VALUES ('a/b', $1)`, []any{f.cityID}, codeCheck},
		{"vehicle number unique", `INSERT INTO vehicles (number, city_id) VALUES ('Vc', $1)`, []any{f.cityID}, codeUnique},
		{"vehicle status unknown", `UPDATE vehicles SET status = 'flying' WHERE id = $1`, []any{f.vehicleID}, codeCheck},
		{"vehicle credential not devicecred", `UPDATE vehicles SET credential_hash = 'secret' WHERE id = $1`, []any{f.vehicleID}, codeCheck},
		{"vehicle gateway of another city", `WITH c AS (INSERT INTO cities (code, name, currency) VALUES ('other', 'O', 'EUR') RETURNING id)
			INSERT INTO vehicles (number, city_id, gateway_id) SELECT 'X1', c.id, $1 FROM c`, []any{f.gatewayID}, codeForeignKey},
		{"city code upper case (NATS token)", `INSERT INTO cities (code, name, currency) VALUES ('Paris', 'P', 'EUR')`, nil, codeCheck},
		{"currency lower case", `INSERT INTO cities (code, name, currency) VALUES ('lc', 'L', 'eur')`, nil, codeCheck},
		{"currency with digit", `INSERT INTO cities (code, name, currency) VALUES ('dg', 'D', 'EU1')`, nil, codeCheck},
		{"currency too long", `INSERT INTO cities (code, name, currency) VALUES ('tl', 'T', 'EURO')`, nil, codeTruncation},
		{"rider plain password", `INSERT INTO riders (first_name, last_name, email, password_hash) VALUES ('a', 'b', 'p@x.io', 'hunter2')`, nil, codeCheck},
		{"rider bad email", `INSERT INTO riders (first_name, last_name, email) VALUES ('a', 'b', 'not-an-email')`, nil, codeCheck},
		{"rider phone without key id", `UPDATE riders SET phone_ciphertext = '\x01' WHERE id = $1`, []any{f.riderID}, codeCheck},
		{"rider status unknown", `UPDATE riders SET status = 'deleted' WHERE id = $1`, []any{f.riderID}, codeCheck},
		{"tariff negative unlock fee", `INSERT INTO tariffs (city_id, version, effective_from, currency, unlock_fee_minor, per_minute_minor)
			VALUES ($1, 1, now(), 'EUR', -1, 10)`, []any{f.cityID}, codeCheck},
		{"tariff negative per km", `INSERT INTO tariffs (city_id, version, effective_from, currency, unlock_fee_minor, per_minute_minor, per_km_minor)
			VALUES ($1, 1, now(), 'EUR', 100, 10, -5)`, []any{f.cityID}, codeCheck},
		{"tariff v1 ok", `INSERT INTO tariffs (city_id, version, effective_from, effective_to, currency, unlock_fee_minor, per_minute_minor)
			VALUES ($1, 1, '2026-01-01', '2026-06-01', 'EUR', 100, 20)`, []any{f.cityID}, ""},
		{"tariff overlapping v1", `INSERT INTO tariffs (city_id, version, effective_from, currency, unlock_fee_minor, per_minute_minor)
			VALUES ($1, 2, '2026-05-01', 'EUR', 100, 25)`, []any{f.cityID}, codeExclusion},
		{"tariff v2 after v1 ok", `INSERT INTO tariffs (city_id, version, effective_from, currency, unlock_fee_minor, per_minute_minor)
			VALUES ($1, 2, '2026-06-01', 'EUR', 100, 25)`, []any{f.cityID}, ""},
		{"tariff ends before it starts", `INSERT INTO tariffs (city_id, version, effective_from, effective_to, currency, unlock_fee_minor, per_minute_minor)
			VALUES ($1, 3, '2025-02-01', '2025-01-01', 'EUR', 100, 25)`, []any{f.cityID}, codeCheck},
		{"zone surcharges not an array", `UPDATE tariffs SET zone_surcharges = '{}' WHERE city_id = $1`, []any{f.cityID}, codeCheck},
		{"zones version 0", `INSERT INTO zones (city_id, version, document) VALUES ($1, 0, '{}')`, []any{f.cityID}, codeCheck},
		{"zones document not an object", `INSERT INTO zones (city_id, version, document) VALUES ($1, 1, '[]')`, []any{f.cityID}, codeCheck},
		{"charging station latitude 91", `INSERT INTO charging_stations (city_id, name, latitude, longitude) VALUES ($1, 'S', 91, 0)`, []any{f.cityID}, codeCheck},
		{"charging station negative capacity", `INSERT INTO charging_stations (city_id, name, latitude, longitude, capacity) VALUES ($1, 'S', 1, 1, -1)`, []any{f.cityID}, codeCheck},
		{"ride ok", `INSERT INTO rides (rider_id, vehicle_id, city_id, started_at, start_lat, start_lon, currency) VALUES ($1, $2, $3, now(), 40.4, -3.7, 'EUR')`,
			[]any{f.riderID, f.vehicleID, f.cityID}, ""},
		{"second open ride on the vehicle", `INSERT INTO rides (rider_id, vehicle_id, city_id, started_at, start_lat, start_lon, currency) VALUES ($1, $2, $3, now(), 40.4, -3.7, 'EUR')`,
			[]any{f.riderID, f.vehicleID, f.cityID}, codeUnique},
		{"ride negative distance", `UPDATE rides SET distance_m = -1 WHERE vehicle_id = $1`, []any{f.vehicleID}, codeCheck},
		{"ride ended without end time", `UPDATE rides SET state = 'ended', fare_total_minor = 100 WHERE vehicle_id = $1`, []any{f.vehicleID}, codeCheck},
		{"ride ended without fare", `UPDATE rides SET state = 'ended', ended_at = now() WHERE vehicle_id = $1`, []any{f.vehicleID}, codeCheck},
		{"ride ends before start", `UPDATE rides SET state = 'ended', ended_at = started_at - interval '1 s', fare_total_minor = 1 WHERE vehicle_id = $1`, []any{f.vehicleID}, codeCheck},
		{"ride negative fare", `UPDATE rides SET state = 'ended', ended_at = now(), fare_total_minor = -1 WHERE vehicle_id = $1`, []any{f.vehicleID}, codeCheck},
		{"ride end ok", `UPDATE rides SET state = 'ended', ended_at = now(), fare_total_minor = 350, end_lat = 40.41, end_lon = -3.71 WHERE vehicle_id = $1`, []any{f.vehicleID}, ""},
		{"payment zero amount", `INSERT INTO payments (rider_id, method, purpose, amount_minor, currency, provider) VALUES ($1, 'card', 'top_up', 0, 'EUR', 'sandbox')`, []any{f.riderID}, codeCheck},
		{"payment negative amount", `INSERT INTO payments (rider_id, method, purpose, amount_minor, currency, provider) VALUES ($1, 'card', 'top_up', -100, 'EUR', 'sandbox')`, []any{f.riderID}, codeCheck},
		{"payment bad currency", `INSERT INTO payments (rider_id, method, purpose, amount_minor, currency, provider) VALUES ($1, 'card', 'top_up', 100, 'eu ', 'sandbox')`, []any{f.riderID}, codeCheck},
		{"payment ok", `INSERT INTO payments (rider_id, method, purpose, amount_minor, currency, provider, provider_reference) VALUES ($1, 'card', 'top_up', 1000, 'EUR', 'sandbox', 'ref-1')`, []any{f.riderID}, ""},
		{"payment provider reference unique", `INSERT INTO payments (rider_id, method, purpose, amount_minor, currency, provider, provider_reference) VALUES ($1, 'card', 'top_up', 1000, 'EUR', 'sandbox', 'ref-1')`, []any{f.riderID}, codeUnique},
		{"payment method token without key id", `INSERT INTO payment_methods (rider_id, provider, kind, token_ciphertext) VALUES ($1, 'sandbox', 'card', '\x01')`, []any{f.riderID}, "23502"},
		{"ledger zero entry", `WITH t AS (INSERT INTO ledger_transactions (kind) VALUES ('adjustment') RETURNING id)
			INSERT INTO ledger_entries (transaction_id, account_id, currency, amount_minor) SELECT t.id, $1, 'EUR', 0 FROM t`, []any{f.riderAcct}, codeCheck},
		{"ledger entry in another currency than its account", `WITH t AS (INSERT INTO ledger_transactions (kind) VALUES ('adjustment') RETURNING id)
			INSERT INTO ledger_entries (transaction_id, account_id, currency, amount_minor) SELECT t.id, $1, 'USD', 5 FROM t`, []any{f.riderAcct}, codeForeignKey},
		{"ledger rider account without rider", `INSERT INTO ledger_accounts (kind, currency) VALUES ('rider_balance', 'EUR')`, nil, codeCheck},
		{"ledger second rider account same currency", `INSERT INTO ledger_accounts (kind, rider_id, currency) VALUES ('rider_balance', $1, 'EUR')`, []any{f.riderID}, codeUnique},
		{"ride charge without ride", `INSERT INTO ledger_transactions (kind) VALUES ('ride_charge')`, nil, codeCheck},
		{"audit details not an object", `INSERT INTO admin_audit_log (admin_email, action, target_type, details) VALUES ('a@b.c', 'rider.suspend', 'rider', '[1]')`, nil, codeCheck},
		{"idempotency key short hash", `INSERT INTO idempotency_keys (scope, key, request_hash, expires_at) VALUES ('s', 'k', '\x00', now() + interval '1 day')`, nil, codeCheck},
		{"idempotency key expired at creation", `INSERT INTO idempotency_keys (scope, key, request_hash, expires_at) VALUES ('s', 'k', decode(repeat('00', 32), 'hex'), now() - interval '1 s')`, nil, codeCheck},
		{"session token hash not sha256", `INSERT INTO rider_sessions (rider_id, family_id, token_hash, expires_at) VALUES ($1, gen_random_uuid(), '\x00', now() + interval '1 day')`, []any{f.riderID}, codeCheck},
	}
	// Cases run in order: later ones build on rows earlier ones created.
	for _, tc := range tests {
		_, err := db.Pool.Exec(ctx, tc.sql, tc.args...)
		if got := sqlState(err); got != tc.code || (tc.code == "" && err != nil) {
			t.Errorf("%s: err = %v (SQLSTATE %q), want SQLSTATE %q", tc.name, err, got, tc.code)
		}
	}
}
