package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SQLSTATE codes the tests expect.
const (
	codeCheck        = "23514"
	codeUnique       = "23505"
	codeForeignKey   = "23503"
	codeExclusion    = "23P01"
	codeTruncation   = "22001"
	codeNoPrivilege  = "42501"
	codeReadOnlyTx   = "25006"
	codeMustBeOwner  = "42501"
	fixturePHCString = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
)

// sqlState returns the SQLSTATE of err, or "" when err is not a server error.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

type fixture struct {
	cityID    int64
	gatewayID int64
	vehicleID int64
	riderID   string
	revenue   int64 // ledger account ids
	clearing  int64
	riderAcct int64
}

// newFixture inserts one city, gateway, vehicle, rider, and the rider's and system ledger
// accounts, as the app role.
func newFixture(t testing.TB, ctx context.Context, pool *pgxpool.Pool, suffix string) fixture {
	t.Helper()
	var f fixture
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	must(pool.QueryRow(ctx, `INSERT INTO cities (code, name, currency) VALUES ($1, 'Test City', 'EUR') RETURNING id`, "city"+suffix).Scan(&f.cityID))
	must(pool.QueryRow(ctx, `INSERT INTO gateways (code, city_id) VALUES ($1, $2) RETURNING id`, "gw"+suffix, f.cityID).Scan(&f.gatewayID))
	must(pool.QueryRow(ctx, `INSERT INTO vehicles (number, model, city_id, gateway_id) VALUES ($1, 'ES4', $2, $3) RETURNING id`,
		"V"+suffix, f.cityID, f.gatewayID).Scan(&f.vehicleID))
	must(pool.QueryRow(ctx, `INSERT INTO riders (first_name, last_name, email, password_hash) VALUES ('Ana', 'Ruiz', $1, $2) RETURNING id::text`,
		"ana"+suffix+"@example.com", fixturePHCString).Scan(&f.riderID))
	must(pool.QueryRow(ctx, `INSERT INTO ledger_accounts (kind, rider_id, currency) VALUES ('rider_balance', $1, 'EUR') RETURNING id`, f.riderID).Scan(&f.riderAcct))
	f.revenue = systemAccount(t, ctx, pool, "revenue", "EUR")
	f.clearing = systemAccount(t, ctx, pool, "provider_clearing", "EUR")
	return f
}

func systemAccount(t testing.TB, ctx context.Context, pool *pgxpool.Pool, kind, currency string) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO ledger_accounts (kind, currency) VALUES ($1, $2)
			ON CONFLICT (kind, currency) WHERE rider_id IS NULL DO NOTHING RETURNING id)
		SELECT id FROM ins UNION ALL
		SELECT id FROM ledger_accounts WHERE kind = $1 AND currency = $2 AND rider_id IS NULL`, kind, currency).Scan(&id)
	if err != nil {
		t.Fatalf("system account %s: %v", kind, err)
	}
	return id
}

// entry is one ledger line for postTx.
type entry struct {
	account  int64
	currency string
	amount   int64
}

// postTx inserts a journal transaction with its entries in one database transaction and
// returns the commit's error (where the deferred balance check fires).
func postTx(ctx context.Context, pool *pgxpool.Pool, kind string, rideID, paymentID *string, entries ...entry) (int64, error) {
	var txID int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO ledger_transactions (kind, ride_id, payment_id) VALUES ($1, $2, $3) RETURNING id`,
			kind, rideID, paymentID).Scan(&txID); err != nil {
			return fmt.Errorf("insert transaction: %w", err)
		}
		for _, e := range entries {
			if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries (transaction_id, account_id, currency, amount_minor) VALUES ($1, $2, $3, $4)`,
				txID, e.account, e.currency, e.amount); err != nil {
				return fmt.Errorf("insert entry: %w", err)
			}
		}
		return nil
	})
	return txID, err
}
