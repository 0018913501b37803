package ledger_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

// BenchmarkPostCommitted measures one balance change as the areas make it: begin, lock the
// rider's account, look up two system accounts, post three lines, commit (the deferred
// balance trigger included).
func BenchmarkPostCommitted(b *testing.B) {
	db := pgstoretest.New(b)
	ctx := b.Context()
	var rider string
	if err := db.Pool.QueryRow(ctx, `INSERT INTO riders (first_name, last_name, email, password_hash) VALUES ('B', 'B', 'b@example.com', $1) RETURNING id::text`, phc).Scan(&rider); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		err := post(ctx, db.Pool, func(tx pgx.Tx) error {
			r, err := ledger.RiderAccount(ctx, tx, rider, "EUR")
			if err != nil {
				return err
			}
			rev, err := ledger.SystemAccount(ctx, tx, ledger.RevenueAccount, "EUR")
			if err != nil {
				return err
			}
			fines, err := ledger.SystemAccount(ctx, tx, ledger.FinesAccount, "EUR")
			if err != nil {
				return err
			}
			_, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.Adjustment, Currency: "EUR",
				Lines: []ledger.Line{{Account: r, Amount: -350}, {Account: rev, Amount: 300}, {Account: fines, Amount: 50}}})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
