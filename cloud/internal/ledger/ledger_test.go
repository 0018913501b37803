package ledger_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

const phc = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

type fixture struct {
	riderID, rideID, paymentID, adminID string
}

func newFixture(t *testing.T, ctx context.Context, pool *pgxpool.Pool) fixture {
	t.Helper()
	var f fixture
	var city, gw, veh int64
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
	}
	must(pool.QueryRow(ctx, `INSERT INTO cities (code, name, currency) VALUES ('bcn', 'Barcelona', 'EUR') RETURNING id`).Scan(&city))
	must(pool.QueryRow(ctx, `INSERT INTO gateways (code, city_id) VALUES ('gw1', $1) RETURNING id`, city).Scan(&gw))
	must(pool.QueryRow(ctx, `INSERT INTO vehicles (number, model, city_id, gateway_id) VALUES ('V1', 'ES4', $1, $2) RETURNING id`, city, gw).Scan(&veh))
	must(pool.QueryRow(ctx, `INSERT INTO riders (first_name, last_name, email, password_hash) VALUES ('Ana', 'Ruiz', 'ana@example.com', $1) RETURNING id::text`, phc).Scan(&f.riderID))
	must(pool.QueryRow(ctx, `INSERT INTO rides (rider_id, vehicle_id, city_id, started_at, start_lat, start_lon, currency)
		VALUES ($1, $2, $3, now(), 41.39, 2.17, 'EUR') RETURNING id::text`, f.riderID, veh, city).Scan(&f.rideID))
	must(pool.QueryRow(ctx, `INSERT INTO payments (rider_id, method, purpose, amount_minor, currency, provider)
		VALUES ($1, 'card', 'top_up', 1000, 'EUR', 'sandbox') RETURNING id::text`, f.riderID).Scan(&f.paymentID))
	must(pool.QueryRow(ctx, `INSERT INTO admins (email, display_name, password_hash) VALUES ('ops@example.com', 'Ops', $1) RETURNING id::text`, phc).Scan(&f.adminID))
	return f
}

// post runs fn in one transaction and commits through ledger.Commit.
func post(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if err := fn(tx); err != nil {
		return err
	}
	return ledger.Commit(ctx, tx)
}

func balance(t *testing.T, ctx context.Context, q ledger.Querier, rider string) int64 {
	t.Helper()
	b, err := ledger.RiderBalance(ctx, q, rider, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateRefusesBeforeTheDatabase(t *testing.T) {
	t.Parallel()
	ok := ledger.Transaction{Kind: ledger.Adjustment, Currency: "EUR", Lines: []ledger.Line{{1, 100}, {2, -100}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid transaction: %v", err)
	}
	tests := []struct {
		name string
		edit func(*ledger.Transaction)
		want error
	}{
		{"off by one", func(x *ledger.Transaction) { x.Lines = []ledger.Line{{1, 100}, {2, -99}} }, ledger.ErrUnbalanced},
		{"one line", func(x *ledger.Transaction) { x.Lines = []ledger.Line{{1, 100}} }, ledger.ErrUnbalanced},
		{"no lines", func(x *ledger.Transaction) { x.Lines = nil }, ledger.ErrUnbalanced},
		{"overflow", func(x *ledger.Transaction) {
			x.Lines = []ledger.Line{{1, 1 << 62}, {2, 1 << 62}, {3, -(1 << 62)}, {4, -(1 << 62)}}
		}, ledger.ErrInvalid},
		{"zero line", func(x *ledger.Transaction) { x.Lines = []ledger.Line{{1, 0}, {2, 0}} }, ledger.ErrInvalid},
		{"bad account", func(x *ledger.Transaction) { x.Lines = []ledger.Line{{0, 5}, {2, -5}} }, ledger.ErrInvalid},
		{"bad kind", func(x *ledger.Transaction) { x.Kind = "gift'; DROP TABLE ledger_entries; --" }, ledger.ErrInvalid},
		{"bad currency", func(x *ledger.Transaction) { x.Currency = "eur" }, ledger.ErrInvalid},
		{"ride charge without ride", func(x *ledger.Transaction) { x.Kind = ledger.RideCharge }, ledger.ErrInvalid},
		{"top-up without payment", func(x *ledger.Transaction) { x.Kind = ledger.TopUp }, ledger.ErrInvalid},
		{"bad ride id", func(x *ledger.Transaction) { x.RideID = "1 OR 1=1" }, ledger.ErrInvalid},
		{"long description", func(x *ledger.Transaction) { x.Description = strings.Repeat("é", 501) }, ledger.ErrInvalid},
		{"NUL in description", func(x *ledger.Transaction) { x.Description = "a\x00b" }, ledger.ErrInvalid},
		{"invalid UTF-8", func(x *ledger.Transaction) { x.Description = "\xff" }, ledger.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := ok
			tc.edit(&x)
			if err := x.Validate(); !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
			// Post refuses the same way, with a nil transaction: it must not touch the DB.
			if _, err := ledger.Post(t.Context(), nil, x); !errors.Is(err, tc.want) {
				t.Fatalf("Post = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPostAndBalances(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool)

	if got := balance(t, ctx, db.Pool, f.riderID); got != 0 {
		t.Fatalf("balance without an account = %d, want 0", got)
	}
	// Top-up 10.00, ride 3.50 of which a 0.50 fine, adjustment +1.25 by an admin.
	err := post(ctx, db.Pool, func(tx pgx.Tx) error {
		rider, err := ledger.RiderAccount(ctx, tx, f.riderID, "EUR")
		if err != nil {
			return err
		}
		clearing, err := ledger.SystemAccount(ctx, tx, ledger.ProviderClearingAccount, "EUR")
		if err != nil {
			return err
		}
		revenue, err := ledger.SystemAccount(ctx, tx, ledger.RevenueAccount, "EUR")
		if err != nil {
			return err
		}
		fines, err := ledger.SystemAccount(ctx, tx, ledger.FinesAccount, "EUR")
		if err != nil {
			return err
		}
		if _, err := ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.TopUp, Currency: "EUR", PaymentID: f.paymentID,
			Lines: []ledger.Line{{rider, 1000}, {clearing, -1000}}}); err != nil {
			return err
		}
		if _, err := ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.RideCharge, Currency: "EUR", RideID: f.rideID,
			Description: "ride", OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Lines: []ledger.Line{{rider, -350}, {revenue, 300}, {fines, 50}}}); err != nil {
			return err
		}
		promo, err := ledger.SystemAccount(ctx, tx, ledger.PromotionsAccount, "EUR")
		if err != nil {
			return err
		}
		_, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.Adjustment, Currency: "EUR", AdminID: f.adminID,
			Description: "goodwill", Lines: []ledger.Line{{rider, 125}, {promo, -125}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := balance(t, ctx, db.Pool, f.riderID); got != 1000-350+125 {
		t.Fatalf("balance = %d, want %d", got, 1000-350+125)
	}
	// The view the reporting side reads agrees with RiderBalance.
	var view int64
	if err := db.Pool.QueryRow(ctx, `SELECT balance_minor FROM rider_balances WHERE rider_id = $1 AND currency = 'EUR'`, f.riderID).Scan(&view); err != nil {
		t.Fatal(err)
	}
	if view != 775 {
		t.Fatalf("rider_balances = %d, want 775", view)
	}
	var occurred time.Time
	var admin string
	if err := db.Pool.QueryRow(ctx, `SELECT occurred_at FROM ledger_transactions WHERE kind = 'ride_charge'`).Scan(&occurred); err != nil {
		t.Fatal(err)
	}
	if !occurred.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("occurred_at = %v", occurred)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT created_by_admin::text FROM ledger_transactions WHERE kind = 'adjustment'`).Scan(&admin); err != nil || admin != f.adminID {
		t.Fatalf("created_by_admin = %q, %v", admin, err)
	}
	// Other currencies are other accounts.
	usd, err := ledger.RiderBalance(ctx, db.Pool, f.riderID, "USD")
	if err != nil || usd != 0 {
		t.Fatalf("USD balance = %d, %v", usd, err)
	}
}

func TestChargedOnceAndCreditedOnce(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool)

	charge := func(tx pgx.Tx) error {
		rider, err := ledger.RiderAccount(ctx, tx, f.riderID, "EUR")
		if err != nil {
			return err
		}
		revenue, err := ledger.SystemAccount(ctx, tx, ledger.RevenueAccount, "EUR")
		if err != nil {
			return err
		}
		_, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.RideCharge, Currency: "EUR", RideID: f.rideID,
			Lines: []ledger.Line{{rider, -350}, {revenue, 350}}})
		return err
	}
	credit := func(tx pgx.Tx) error {
		rider, err := ledger.RiderAccount(ctx, tx, f.riderID, "EUR")
		if err != nil {
			return err
		}
		clearing, err := ledger.SystemAccount(ctx, tx, ledger.ProviderClearingAccount, "EUR")
		if err != nil {
			return err
		}
		_, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.TopUp, Currency: "EUR", PaymentID: f.paymentID,
			Lines: []ledger.Line{{rider, 1000}, {clearing, -1000}}})
		return err
	}
	for _, tc := range []struct {
		name string
		fn   func(pgx.Tx) error
	}{{"ride charge", charge}, {"top-up", credit}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := post(ctx, db.Pool, tc.fn); err != nil {
				t.Fatalf("first: %v", err)
			}
			// The repeat in another transaction: ErrAlreadyPosted, and the transaction is still
			// usable (the caller can go on and commit what else it did).
			err := post(ctx, db.Pool, func(tx pgx.Tx) error {
				err := tc.fn(tx)
				if !errors.Is(err, ledger.ErrAlreadyPosted) {
					t.Errorf("second = %v, want ErrAlreadyPosted", err)
				}
				var one int
				return tx.QueryRow(ctx, `SELECT 1`).Scan(&one)
			})
			if err != nil {
				t.Fatalf("transaction after ErrAlreadyPosted: %v", err)
			}
		})
	}
	if got := balance(t, ctx, db.Pool, f.riderID); got != 650 {
		t.Fatalf("balance = %d, want 650 (one credit, one charge)", got)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM ledger_entries`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("entries = %d, %v; want 4", n, err)
	}
}

func TestTriggerRefusesUnbalancedInsertsAtCommit(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool)
	// A path that bypasses Post (raw SQL) is still refused, at COMMIT, as ErrUnbalanced.
	err := post(ctx, db.Pool, func(tx pgx.Tx) error {
		rider, err := ledger.RiderAccount(ctx, tx, f.riderID, "EUR")
		if err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO ledger_transactions (kind) VALUES ('adjustment') RETURNING id`).Scan(&id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO ledger_entries (transaction_id, account_id, currency, amount_minor) VALUES ($1, $2, 'EUR', 500)`, id, rider)
		return err
	})
	if !errors.Is(err, ledger.ErrUnbalanced) {
		t.Fatalf("commit = %v, want ErrUnbalanced", err)
	}
	if got := balance(t, ctx, db.Pool, f.riderID); got != 0 {
		t.Fatalf("balance = %d after a refused transaction", got)
	}
}

func TestUnknownReferences(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool)
	const nobody = "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name string
		fn   func(tx pgx.Tx) error
		want error
	}{
		{"unknown rider", func(tx pgx.Tx) error { _, err := ledger.RiderAccount(ctx, tx, nobody, "EUR"); return err }, ledger.ErrUnknownReference},
		{"malformed rider", func(tx pgx.Tx) error { _, err := ledger.RiderAccount(ctx, tx, "x' OR '1'='1", "EUR"); return err }, ledger.ErrInvalid},
		{"rider account of a bad currency", func(tx pgx.Tx) error { _, err := ledger.RiderAccount(ctx, tx, f.riderID, "EURO"); return err }, ledger.ErrInvalid},
		{"system account of rider kind", func(tx pgx.Tx) error {
			_, err := ledger.SystemAccount(ctx, tx, ledger.RiderBalanceAccount, "EUR")
			return err
		}, ledger.ErrInvalid},
		{"unknown ride", func(tx pgx.Tx) error {
			r, err := ledger.RiderAccount(ctx, tx, f.riderID, "EUR")
			if err != nil {
				return err
			}
			rev, err := ledger.SystemAccount(ctx, tx, ledger.RevenueAccount, "EUR")
			if err != nil {
				return err
			}
			_, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.RideCharge, Currency: "EUR", RideID: nobody, Lines: []ledger.Line{{r, -1}, {rev, 1}}})
			return err
		}, ledger.ErrUnknownReference},
		{"account in another currency", func(tx pgx.Tx) error {
			r, err := ledger.RiderAccount(ctx, tx, f.riderID, "EUR")
			if err != nil {
				return err
			}
			rev, err := ledger.SystemAccount(ctx, tx, ledger.RevenueAccount, "USD")
			if err != nil {
				return err
			}
			_, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.Adjustment, Currency: "EUR", Lines: []ledger.Line{{r, -1}, {rev, 1}}})
			return err
		}, ledger.ErrUnknownReference},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := post(ctx, db.Pool, tc.fn); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := ledger.RiderBalance(ctx, db.Pool, "not-a-uuid", "EUR"); !errors.Is(err, ledger.ErrInvalid) {
		t.Fatalf("RiderBalance(bad id) = %v", err)
	}
}

// Riders race to spend the same credit: RiderAccount's lock makes each "check balance, then
// post" see the previous one's result, so the balance never goes below zero.
func TestConcurrentPostsOnOneRiderAreSerialised(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	f := newFixture(t, ctx, db.Pool)
	const credit, spend, workers = 500, 100, 8
	if err := post(ctx, db.Pool, func(tx pgx.Tx) error {
		r, err := ledger.RiderAccount(ctx, tx, f.riderID, "EUR")
		if err != nil {
			return err
		}
		promo, err := ledger.SystemAccount(ctx, tx, ledger.PromotionsAccount, "EUR")
		if err != nil {
			return err
		}
		_, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.Promotion, Currency: "EUR", Lines: []ledger.Line{{r, credit}, {promo, -credit}}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errInsufficient := errors.New("insufficient")
	var wg sync.WaitGroup
	results := make(chan error, workers*2)
	for range workers * 2 {
		wg.Go(func() {
			results <- post(ctx, db.Pool, func(tx pgx.Tx) error {
				r, err := ledger.RiderAccount(ctx, tx, f.riderID, "EUR")
				if err != nil {
					return err
				}
				bal, err := ledger.RiderBalance(ctx, tx, f.riderID, "EUR")
				if err != nil {
					return err
				}
				if bal < spend {
					return errInsufficient
				}
				rev, err := ledger.SystemAccount(ctx, tx, ledger.RevenueAccount, "EUR")
				if err != nil {
					return err
				}
				_, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.Adjustment, Currency: "EUR", Lines: []ledger.Line{{r, -spend}, {rev, spend}}})
				return err
			})
		})
	}
	wg.Wait()
	close(results)
	var ok, refused int
	for err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, errInsufficient):
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != credit/spend || refused != workers*2-credit/spend {
		t.Fatalf("%d spends succeeded and %d were refused, want %d and %d", ok, refused, credit/spend, workers*2-credit/spend)
	}
	if got := balance(t, ctx, db.Pool, f.riderID); got != 0 {
		t.Fatalf("balance = %d, want 0", got)
	}
}

// First creation of a system account by concurrent transactions yields one account.
func TestSystemAccountConcurrentCreation(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	ids := make(chan int64, 6)
	for range 6 {
		wg.Go(func() {
			err := post(ctx, db.Pool, func(tx pgx.Tx) error {
				id, err := ledger.SystemAccount(ctx, tx, ledger.CashAccount, "GBP")
				ids <- id
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(ids)
	var first int64
	for id := range ids {
		if first == 0 {
			first = id
		}
		if id != first || id == 0 {
			t.Fatalf("system account ids differ: %d vs %d", id, first)
		}
	}
}
