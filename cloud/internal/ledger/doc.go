// Package ledger owns posting to fleetedge's double-entry ledger (tables ledger_accounts,
// ledger_transactions, ledger_entries of pgstore migration 00006) and reading balances.
//
// Every balance change is one journal transaction whose lines (signed amounts in integer minor
// units of one currency) sum to zero. Post refuses an unbalanced transaction before it touches
// the database (ErrUnbalanced); the deferred trigger ledger_assert_balanced refuses it again at
// COMMIT should any other path insert entries (Commit turns that failure into ErrUnbalanced).
//
// Sign convention (see 00006): a rider_balance account's sum is what the operator owes the
// rider. Top-up of 10.00: rider +1000, provider_clearing −1000. Ride charge of 3.50 with no
// fine: rider −350, revenue +350. A refund reverses the movement it refunds.
//
// Invariants:
//   - a ride is charged once and a payment credited once: Post returns ErrAlreadyPosted for a
//     second ride_charge of a ride or a second top_up of a payment, and the caller's database
//     transaction stays usable (the insert is ON CONFLICT DO NOTHING, nothing is aborted);
//   - RiderAccount locks the rider's account row until the caller's transaction ends, so
//     "read balance, decide, post" is serialised per rider and cannot interleave;
//   - SystemAccount does not lock: system accounts (revenue, clearing, …) are shared by every
//     posting and locking them would serialise the whole ledger;
//   - a balance is always the sum of entries (RiderBalance), never a stored number.
//
// The package holds no state; every function works inside the caller's pgx transaction, so a
// posting commits or rolls back together with whatever business row it belongs to.
package ledger
