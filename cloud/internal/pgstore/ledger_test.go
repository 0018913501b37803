package pgstore_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

func TestLedgerRejectsUnbalancedTransactions(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool, "l")
	usd := systemAccount(t, ctx, db.Pool, "revenue", "USD")
	usdClearing := systemAccount(t, ctx, db.Pool, "provider_clearing", "USD")

	tests := []struct {
		name    string
		entries []entry
		ok      bool
	}{
		{"balanced", []entry{{f.riderAcct, "EUR", 1000}, {f.clearing, "EUR", -1000}}, true},
		{"balanced over three accounts", []entry{{f.riderAcct, "EUR", -350}, {f.revenue, "EUR", 300}, {f.clearing, "EUR", 50}}, true},
		{"balanced per currency", []entry{{f.riderAcct, "EUR", 5}, {f.clearing, "EUR", -5}, {usd, "USD", 7}, {usdClearing, "USD", -7}}, true},
		{"off by one", []entry{{f.riderAcct, "EUR", 1000}, {f.clearing, "EUR", -999}}, false},
		{"single entry", []entry{{f.riderAcct, "EUR", 1000}}, false},
		{"no entries", nil, false},
		{"sums to zero only across currencies", []entry{{f.riderAcct, "EUR", 5}, {usd, "USD", -5}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := postTx(ctx, db.Pool, "adjustment", nil, nil, tc.entries...)
			if tc.ok {
				if err != nil {
					t.Fatalf("balanced transaction rejected: %v", err)
				}
				return
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != codeCheck || pgErr.ConstraintName != "ledger_transaction_balanced" {
				t.Fatalf("unbalanced transaction: err = %v, want check violation of ledger_transaction_balanced", err)
			}
		})
	}
	// Rejected transactions left nothing behind; accepted ones are all there.
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM ledger_transactions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("ledger holds %d transactions, want the 3 balanced ones", n)
	}
}

func TestLedgerChargesOnceAndBalancesAreSums(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool, "s")

	// A second rider, so balances must be per account, not global.
	var rider2 string
	var acct2 int64
	if err := db.Pool.QueryRow(ctx, `INSERT INTO riders (first_name, last_name, email) VALUES ('Bo', 'Li', 'bo@example.com') RETURNING id::text`).Scan(&rider2); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool.QueryRow(ctx, `INSERT INTO ledger_accounts (kind, rider_id, currency) VALUES ('rider_balance', $1, 'EUR') RETURNING id`, rider2).Scan(&acct2); err != nil {
		t.Fatal(err)
	}
	riders := []struct {
		id   string
		acct int64
	}{{f.riderID, f.riderAcct}, {rider2, acct2}}
	want := map[string]int64{}

	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		r := riders[rng.IntN(len(riders))]
		amount := int64(1 + rng.IntN(5000))
		switch rng.IntN(3) {
		case 0: // top-up through the provider, credited once per payment
			var pay string
			if err := db.Pool.QueryRow(ctx, `INSERT INTO payments (rider_id, method, purpose, amount_minor, currency, provider, status)
				VALUES ($1, 'card', 'top_up', $2, 'EUR', 'sandbox', 'succeeded') RETURNING id::text`, r.id, amount).Scan(&pay); err != nil {
				t.Fatal(err)
			}
			if _, err := postTx(ctx, db.Pool, "top_up", nil, &pay, entry{r.acct, "EUR", amount}, entry{f.clearing, "EUR", -amount}); err != nil {
				t.Fatalf("top-up %d: %v", i, err)
			}
			want[r.id] += amount
			if _, err := postTx(ctx, db.Pool, "top_up", nil, &pay, entry{r.acct, "EUR", amount}, entry{f.clearing, "EUR", -amount}); sqlState(err) != codeUnique {
				t.Fatalf("second credit of one payment: err = %v, want unique violation", err)
			}
		default: // a ride, ended and charged once
			var ride string
			if err := db.Pool.QueryRow(ctx, `INSERT INTO rides (rider_id, vehicle_id, city_id, state, started_at, ended_at, start_lat, start_lon, fare_total_minor, currency)
				VALUES ($1, $2, $3, 'ended', now() - interval '10 min', now(), 40.4, -3.7, $4, 'EUR') RETURNING id::text`,
				r.id, f.vehicleID, f.cityID, amount).Scan(&ride); err != nil {
				t.Fatal(err)
			}
			if _, err := postTx(ctx, db.Pool, "ride_charge", &ride, nil, entry{r.acct, "EUR", -amount}, entry{f.revenue, "EUR", amount}); err != nil {
				t.Fatalf("charge %d: %v", i, err)
			}
			want[r.id] -= amount
			if _, err := postTx(ctx, db.Pool, "ride_charge", &ride, nil, entry{r.acct, "EUR", -amount}, entry{f.revenue, "EUR", amount}); sqlState(err) != codeUnique {
				t.Fatalf("second charge of one ride: err = %v, want unique violation", err)
			}
		}
	}

	// Every transaction balances per currency.
	var unbalanced int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM ledger_entries GROUP BY transaction_id, currency HAVING sum(amount_minor) <> 0) u`).Scan(&unbalanced); err != nil {
		t.Fatal(err)
	}
	if unbalanced != 0 {
		t.Fatalf("%d unbalanced transactions in the ledger", unbalanced)
	}
	// A rider's balance is the sum of their account's entries, and matches the model.
	for _, r := range riders {
		var viewBal, sumBal int64
		if err := db.Pool.QueryRow(ctx, `SELECT balance_minor FROM rider_balances WHERE rider_id = $1 AND currency = 'EUR'`, r.id).Scan(&viewBal); err != nil {
			t.Fatal(err)
		}
		if err := db.Pool.QueryRow(ctx, `SELECT coalesce(sum(amount_minor), 0) FROM ledger_entries WHERE account_id = $1`, r.acct).Scan(&sumBal); err != nil {
			t.Fatal(err)
		}
		if viewBal != want[r.id] || sumBal != want[r.id] {
			t.Errorf("rider %s: view balance %d, sum of entries %d, model %d", r.id, viewBal, sumBal, want[r.id])
		}
	}
	// The whole book sums to zero.
	var total int64
	if err := db.Pool.QueryRow(ctx, `SELECT coalesce(sum(balance_minor), 0) FROM ledger_account_balances WHERE currency = 'EUR'`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != 0 {
		t.Fatalf("sum of all EUR balances = %d, want 0", total)
	}
}

func TestLedgerIsAppendOnlyForTheApp(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool, "a")
	txID, err := postTx(ctx, db.Pool, "adjustment", nil, nil, entry{f.riderAcct, "EUR", 100}, entry{f.clearing, "EUR", -100})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE ledger_entries SET amount_minor = 1 WHERE transaction_id = $1`,
		`DELETE FROM ledger_entries WHERE transaction_id = $1`,
		`UPDATE ledger_transactions SET description = 'x' WHERE id = $1`,
		`DELETE FROM ledger_transactions WHERE id = $1`,
	} {
		if _, err := db.Pool.Exec(ctx, q, txID); sqlState(err) != codeNoPrivilege {
			t.Errorf("%s: err = %v, want permission denied", q, err)
		}
	}
	// Accounts: the app may lock a row to serialise balance checks, and touch last_posted_at,
	// nothing else.
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM ledger_accounts WHERE id = $1 FOR UPDATE`, f.riderAcct).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE ledger_accounts SET last_posted_at = now() WHERE id = $1`, f.riderAcct)
		return err
	})
	if err != nil {
		t.Fatalf("app locking and touching its account row: %v", err)
	}
	for _, q := range []string{
		`UPDATE ledger_accounts SET currency = 'USD' WHERE id = $1`,
		`UPDATE ledger_accounts SET rider_id = NULL, kind = 'revenue' WHERE id = $1`,
		`DELETE FROM ledger_accounts WHERE id = $1`,
	} {
		if _, err := db.Pool.Exec(ctx, q, f.riderAcct); sqlState(err) != codeNoPrivilege {
			t.Errorf("%s: err = %v, want permission denied", q, err)
		}
	}
	// Even the owner cannot unbalance a committed transaction: the deferred check runs on UPDATE.
	mig, err := pgx.Connect(ctx, db.MigratorDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer mig.Close(ctx) //nolint:errcheck
	if _, err := mig.Exec(ctx, `UPDATE ledger_entries SET amount_minor = 99 WHERE transaction_id = $1 AND amount_minor = 100`, txID); sqlState(err) != codeCheck {
		t.Errorf("owner unbalancing a transaction: err = %v, want check violation", err)
	}
}

// TestPipelinedEndRideIsOneTransaction proves the one-round-trip end of ride (bench_test.go)
// is atomic: when the charge fails, the ride is not ended either.
func TestPipelinedEndRideIsOneTransaction(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool, "q")
	rides := func(n int) []benchRide {
		rows, err := db.Pool.Query(ctx, `
			WITH v AS (INSERT INTO vehicles (number, city_id) SELECT 'Q' || g, $1 FROM generate_series(1, $2) g RETURNING id)
			INSERT INTO rides (rider_id, vehicle_id, city_id, started_at, start_lat, start_lon, currency)
			SELECT $3, v.id, $1, now(), 40.4, -3.7, 'EUR' FROM v RETURNING id::text, vehicle_id`, f.cityID, n, f.riderID)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[benchRide])
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}(2)
	if err := endRidePipelined(ctx, db.Pool, f, rides[0]); err != nil {
		t.Fatalf("pipelined end ride: %v", err)
	}
	// Charge the second ride first, so the pipelined charge collides.
	if _, err := postTx(ctx, db.Pool, "ride_charge", &rides[1].ID, nil, entry{f.riderAcct, "EUR", -1}, entry{f.revenue, "EUR", 1}); err != nil {
		t.Fatal(err)
	}
	if err := endRidePipelined(ctx, db.Pool, f, rides[1]); sqlState(err) != codeUnique {
		t.Fatalf("pipelined end ride charged twice: err = %v, want unique violation", err)
	}
	for i, want := range []string{"ended", "active"} {
		var state string
		if err := db.Pool.QueryRow(ctx, `SELECT state FROM rides WHERE id = $1`, rides[i].ID).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != want {
			t.Errorf("ride %d state %q, want %q", i, state, want)
		}
	}
}
