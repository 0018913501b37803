package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
)

// Reason bounds, in characters (after trimming spaces).
const (
	MinReason = 3
	MaxReason = 500
)

func checkReason(reason string) (string, error) {
	r := strings.TrimSpace(reason)
	if !utf8.ValidString(r) || strings.ContainsRune(r, 0) {
		return "", fmt.Errorf("%w: reason is not valid text", ErrReasonRequired)
	}
	if n := utf8.RuneCountInString(r); n < MinReason || n > MaxReason {
		return "", fmt.Errorf("%w: %d..%d characters", ErrReasonRequired, MinReason, MaxReason)
	}
	return r, nil
}

// PaymentRefundRequest refunds Amount (0: everything not yet refunded) of a succeeded top-up
// to the method it was paid with.
type PaymentRefundRequest struct {
	PaymentID string
	Amount    int64
	Reason    string
}

// RefundPayment refunds (part of) a card top-up through its provider, for an admin.
//
//  1. In one transaction, under the rider's ledger lock: the top-up must be succeeded and the
//     amount at most what it paid minus its live (pending or succeeded) refunds, and at most the
//     rider's balance (the money was credited there); a refund row (purpose refund, refund_of)
//     is inserted pending, the ledger refund posted (rider −amount, provider_clearing +amount),
//     the top-up marked refunded when nothing is left, the audit entry recorded; commit.
//  2. The provider refunds (idempotency key: the refund row's id).
//  3. In one transaction: the refund row becomes succeeded, or failed with the ledger
//     movement reversed (an adjustment giving the rider the money back), or stays pending for
//     the webhook; finish runs; commit.
func (s *Service) RefundPayment(ctx context.Context, actor audit.Actor, r PaymentRefundRequest, finish Finish) (Payment, error) {
	reason, err := checkReason(r.Reason)
	if err != nil {
		return Payment{}, err
	}
	if !validUUID(r.PaymentID) {
		return Payment{}, fmt.Errorf("%w: payment", ErrNotFound)
	}
	if r.Amount < 0 {
		return Payment{}, fmt.Errorf("%w: amount must be positive", ErrAmountOutOfRange)
	}
	refundID := uuid.NewString()
	var orig, refund Payment
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if orig, err = lockPayment(ctx, tx, r.PaymentID); err != nil {
			return err
		}
		if orig.Purpose != PurposeTopUp || orig.ProviderReference == "" || (orig.Status != StatusSucceeded && orig.Status != StatusRefunded) {
			return fmt.Errorf("%w: only a succeeded top-up can be refunded to its payment method (this is a %s %s)", ErrNotRefundable, orig.Status, orig.Purpose)
		}
		if _, err := s.Provider(orig.Provider); err != nil {
			return fmt.Errorf("%w: %w", ErrNotRefundable, err)
		}
		riderAcct, err := ledger.RiderAccount(ctx, tx, orig.RiderID, orig.Currency)
		if err != nil {
			return err
		}
		var refunded int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount_minor), 0)::bigint FROM payments
			WHERE refund_of = $1 AND status IN ('pending', 'succeeded')`, orig.ID).Scan(&refunded); err != nil {
			return err
		}
		left := orig.Amount - refunded
		amount := r.Amount
		if amount == 0 {
			amount = left
		}
		if amount <= 0 || amount > left {
			return fmt.Errorf("%w: %d requested, %d of %d %s left to refund", ErrRefundTooLarge, amount, left, orig.Amount, orig.Currency)
		}
		bal, err := ledger.RiderBalance(ctx, tx, orig.RiderID, orig.Currency)
		if err != nil {
			return err
		}
		if bal < amount {
			return fmt.Errorf("%w: the rider's balance is %d %s, the refund %d (the top-up was spent)", ErrBalanceTooLow, bal, orig.Currency, amount)
		}
		refund, err = scanPayment(tx.QueryRow(ctx, `INSERT INTO payments
			(id, rider_id, payment_method_id, method, purpose, refund_of, amount_minor, currency, provider, status)
			VALUES ($1, $2, $3, $4, 'refund', $5, $6, $7, $8, 'pending') RETURNING `+paymentColumns,
			refundID, orig.RiderID, nullUUID(orig.MethodID), orig.Method, orig.ID, amount, orig.Currency, orig.Provider))
		if err != nil {
			return fmt.Errorf("insert refund: %w", err)
		}
		clearing, err := ledger.SystemAccount(ctx, tx, ledger.ProviderClearingAccount, orig.Currency)
		if err != nil {
			return err
		}
		txID, err := ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.Refund, Currency: orig.Currency, PaymentID: refund.ID,
			AdminID: actor.AdminID, Description: reason,
			Lines: []ledger.Line{{Account: riderAcct, Amount: -amount}, {Account: clearing, Amount: amount}}})
		if err != nil {
			return err
		}
		if amount == left {
			if _, err := tx.Exec(ctx, `UPDATE payments SET status = 'refunded', updated_at = now() WHERE id = $1`, orig.ID); err != nil {
				return err
			}
		}
		_, err = audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "payment.refund", TargetType: "payment", TargetID: orig.ID,
			Before: map[string]any{"refunded_minor": refunded, "balance_minor": bal},
			After:  map[string]any{"refunded_minor": refunded + amount, "balance_minor": bal - amount},
			Details: map[string]any{"refund_id": refund.ID, "rider_id": orig.RiderID, "amount_minor": amount, "currency": orig.Currency,
				"reason": reason, "ledger_transaction_id": txID, "provider": orig.Provider}})
		return err
	})
	if err != nil {
		return Payment{}, fmt.Errorf("payments: refund %s: %w", r.PaymentID, err)
	}
	prov, err := s.Provider(orig.Provider)
	if err != nil {
		return Payment{}, err
	}
	res, perr := prov.Refund(ctx, RefundRequest{RefundID: refund.ID, IdempotencyKey: refund.ID, ChargeReference: orig.ProviderReference,
		Amount: refund.Amount, Currency: refund.Currency})
	if perr != nil {
		s.log.Warn("refund outcome unknown; left pending for the webhook", "refund", refund.ID, "provider", prov.Name(), "err", perr)
		res = Result{Outcome: OutcomePending}
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		p, err := lockPayment(ctx, tx, refund.ID)
		if err != nil {
			return err
		}
		if refund, _, err = s.applyRefundResult(ctx, tx, p, res); err != nil {
			return err
		}
		if finish != nil {
			return finish(ctx, tx, refund)
		}
		return nil
	})
	if err != nil {
		return Payment{}, fmt.Errorf("payments: refund %s: record result: %w: %w", r.PaymentID, errOutcomeNotSaved, err)
	}
	return refund, nil
}

func nullUUID(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// applyRefundResult moves a locked, pending refund row by a provider result. A failed refund
// gives the rider the money back (ledger adjustment) and re-opens the refunded top-up.
func (s *Service) applyRefundResult(ctx context.Context, tx pgx.Tx, p Payment, res Result) (Payment, bool, error) {
	if p.ProviderReference == "" && res.Reference != "" {
		if err := tx.QueryRow(ctx, `UPDATE payments SET provider_reference = $2, updated_at = now() WHERE id = $1 RETURNING updated_at`,
			p.ID, res.Reference).Scan(&p.UpdatedAt); err != nil {
			return p, false, fmt.Errorf("store provider reference: %w", err)
		}
		p.ProviderReference = res.Reference
	}
	if p.Status != StatusPending || res.Outcome == OutcomePending {
		return p, false, nil
	}
	switch res.Outcome {
	case OutcomeSucceeded:
		if err := tx.QueryRow(ctx, `UPDATE payments SET status = 'succeeded', updated_at = now() WHERE id = $1 RETURNING updated_at`,
			p.ID).Scan(&p.UpdatedAt); err != nil {
			return p, false, err
		}
		p.Status = StatusSucceeded
		return p, true, nil
	case OutcomeFailed:
		reason := failureText(res)
		if err := tx.QueryRow(ctx, `UPDATE payments SET status = 'failed', failure_reason = $2, updated_at = now() WHERE id = $1 RETURNING updated_at`,
			p.ID, reason).Scan(&p.UpdatedAt); err != nil {
			return p, false, err
		}
		p.Status, p.FailureReason = StatusFailed, reason
		rider, err := ledger.RiderAccount(ctx, tx, p.RiderID, p.Currency)
		if err != nil {
			return p, false, err
		}
		clearing, err := ledger.SystemAccount(ctx, tx, ledger.ProviderClearingAccount, p.Currency)
		if err != nil {
			return p, false, err
		}
		if _, err := ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.Adjustment, Currency: p.Currency, PaymentID: p.ID,
			Description: "refund failed at the provider: " + reason,
			Lines:       []ledger.Line{{Account: rider, Amount: p.Amount}, {Account: clearing, Amount: -p.Amount}}}); err != nil {
			return p, false, err
		}
		if _, err := tx.Exec(ctx, `UPDATE payments SET status = 'succeeded', updated_at = now() WHERE id = $1 AND status = 'refunded'`, p.RefundOf); err != nil {
			return p, false, err
		}
		return p, true, nil
	}
	return p, false, fmt.Errorf("%w: provider outcome %q", ErrInvalid, res.Outcome)
}

// RideRefund is the result of refunding a ride charge to the rider's balance.
type RideRefund struct {
	RideID              string
	RiderID             string
	Amount              int64
	Currency            string
	Charged             int64 // the ride's charge
	Refunded            int64 // refunded so far, this refund included
	LedgerTransactionID int64
}

// RideRefundRequest refunds Amount (0: everything not yet refunded) of a ride's charge.
type RideRefundRequest struct {
	RideID string
	Amount int64
	Reason string
}

// RefundRide gives (part of) a ride's charge back to the rider's balance, for an admin: a
// ledger refund (rider +amount; revenue, then fines, −) in one transaction with its audit
// entry, under the rider's ledger lock, never above what the ride's charge took minus earlier
// refunds.
func (s *Service) RefundRide(ctx context.Context, actor audit.Actor, r RideRefundRequest, finish func(ctx context.Context, tx pgx.Tx, rr RideRefund) error) (RideRefund, error) {
	reason, err := checkReason(r.Reason)
	if err != nil {
		return RideRefund{}, err
	}
	if !validUUID(r.RideID) {
		return RideRefund{}, fmt.Errorf("%w: ride", ErrNotFound)
	}
	if r.Amount < 0 {
		return RideRefund{}, fmt.Errorf("%w: amount must be positive", ErrAmountOutOfRange)
	}
	out := RideRefund{RideID: r.RideID}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// The charge: the rider's line is negative, the system accounts' lines positive.
		type line struct {
			account int64
			kind    string
			amount  int64
		}
		var lines []line
		rows, err := tx.Query(ctx, `SELECT e.account_id, a.kind, coalesce(a.rider_id::text, ''), e.amount_minor, e.currency
			FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id JOIN ledger_accounts a ON a.id = e.account_id
			WHERE t.kind = 'ride_charge' AND t.ride_id = $1`, r.RideID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var l line
			var rider, cur string
			if err := rows.Scan(&l.account, &l.kind, &rider, &l.amount, &cur); err != nil {
				rows.Close()
				return err
			}
			out.Currency = cur
			if rider != "" {
				out.RiderID = rider
				out.Charged = -l.amount
				continue
			}
			lines = append(lines, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if out.RiderID == "" {
			return fmt.Errorf("%w: ride %s has no charge", ErrNotFound, r.RideID)
		}
		riderAcct, err := ledger.RiderAccount(ctx, tx, out.RiderID, out.Currency)
		if err != nil {
			return err
		}
		// What earlier refunds of this ride took back from each system account.
		taken := map[int64]int64{}
		rows, err = tx.Query(ctx, `SELECT e.account_id, sum(e.amount_minor)::bigint FROM ledger_transactions t
			JOIN ledger_entries e ON e.transaction_id = t.id
			WHERE t.kind = 'refund' AND t.ride_id = $1 AND e.account_id <> $2 GROUP BY e.account_id`, r.RideID, riderAcct)
		if err != nil {
			return err
		}
		for rows.Next() {
			var acct, sum int64
			if err := rows.Scan(&acct, &sum); err != nil {
				rows.Close()
				return err
			}
			taken[acct] = -sum
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var before int64
		for _, v := range taken {
			before += v
		}
		left := out.Charged - before
		amount := r.Amount
		if amount == 0 {
			amount = left
		}
		if amount <= 0 || amount > left {
			return fmt.Errorf("%w: %d requested, %d of the ride's %d %s left to refund", ErrRefundTooLarge, amount, left, out.Charged, out.Currency)
		}
		// Revenue first, then fines, then anything else the charge credited.
		rank := func(kind string) int {
			switch kind {
			case string(ledger.RevenueAccount):
				return 0
			case string(ledger.FinesAccount):
				return 1
			}
			return 2
		}
		ledgerLines := []ledger.Line{{Account: riderAcct, Amount: amount}}
		rest := amount
		for pass := 0; pass < 3 && rest > 0; pass++ {
			for _, l := range lines {
				if rank(l.kind) != pass || l.amount <= 0 {
					continue
				}
				avail := l.amount - taken[l.account]
				take := min(avail, rest)
				if take > 0 {
					ledgerLines = append(ledgerLines, ledger.Line{Account: l.account, Amount: -take})
					taken[l.account] += take
					rest -= take
				}
			}
		}
		if rest != 0 {
			return fmt.Errorf("%w: the ride's charge lines cannot cover %d", ErrRefundTooLarge, amount)
		}
		out.Amount, out.Refunded = amount, before+amount
		if out.LedgerTransactionID, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.Refund, Currency: out.Currency, RideID: r.RideID,
			AdminID: actor.AdminID, Description: reason, Lines: ledgerLines}); err != nil {
			return err
		}
		if _, err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "ride.refund", TargetType: "ride", TargetID: r.RideID,
			Before: map[string]any{"refunded_minor": before}, After: map[string]any{"refunded_minor": out.Refunded},
			Details: map[string]any{"rider_id": out.RiderID, "amount_minor": amount, "currency": out.Currency, "charged_minor": out.Charged,
				"reason": reason, "ledger_transaction_id": out.LedgerTransactionID}}); err != nil {
			return err
		}
		if finish != nil {
			return finish(ctx, tx, out)
		}
		return nil
	})
	if err != nil {
		return RideRefund{}, fmt.Errorf("payments: refund ride %s: %w", r.RideID, err)
	}
	return out, nil
}

// Adjustment is the result of a manual balance adjustment.
type Adjustment struct {
	RiderID             string
	Amount              int64
	Currency            string
	Counter             string // the system account kind on the other side
	BalanceBefore       int64
	BalanceAfter        int64
	LedgerTransactionID int64
}

// AdjustmentRequest credits (Amount > 0) or debits (< 0) a rider's balance with a mandatory
// reason. Counter is the system account on the other side: promotions (default: goodwill and
// corrections), cash (money handed over outside the app), revenue or fines.
type AdjustmentRequest struct {
	RiderID  string
	Amount   int64
	Currency string
	Reason   string
	Counter  string
}

// Adjust posts a manual balance adjustment (ledger adjustment with created_by_admin) and its
// audit entry in one transaction, under the rider's ledger lock.
func (s *Service) Adjust(ctx context.Context, actor audit.Actor, r AdjustmentRequest, finish func(ctx context.Context, tx pgx.Tx, a Adjustment) error) (Adjustment, error) {
	reason, err := checkReason(r.Reason)
	if err != nil {
		return Adjustment{}, err
	}
	if !validUUID(r.RiderID) {
		return Adjustment{}, fmt.Errorf("%w: rider", ErrNotFound)
	}
	if r.Amount == 0 || r.Amount > s.cfg.MaxAdjustment || r.Amount < -s.cfg.MaxAdjustment {
		return Adjustment{}, fmt.Errorf("%w: a non-zero amount within ±%d", ErrAmountOutOfRange, s.cfg.MaxAdjustment)
	}
	if !currencyRE.MatchString(r.Currency) {
		return Adjustment{}, fmt.Errorf("%w: %q", ErrCurrency, r.Currency)
	}
	counter := ledger.AccountKind(r.Counter)
	switch counter {
	case "":
		counter = ledger.PromotionsAccount
	case ledger.PromotionsAccount, ledger.CashAccount, ledger.RevenueAccount, ledger.FinesAccount:
	default:
		return Adjustment{}, fmt.Errorf("%w: counter account %q", ErrInvalid, r.Counter)
	}
	out := Adjustment{RiderID: r.RiderID, Amount: r.Amount, Currency: r.Currency, Counter: string(counter)}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		riderAcct, err := ledger.RiderAccount(ctx, tx, r.RiderID, r.Currency)
		if errors.Is(err, ledger.ErrUnknownReference) {
			return fmt.Errorf("%w: rider", ErrNotFound)
		}
		if err != nil {
			return err
		}
		if out.BalanceBefore, err = ledger.RiderBalance(ctx, tx, r.RiderID, r.Currency); err != nil {
			return err
		}
		other, err := ledger.SystemAccount(ctx, tx, counter, r.Currency)
		if err != nil {
			return err
		}
		if out.LedgerTransactionID, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.Adjustment, Currency: r.Currency,
			AdminID: actor.AdminID, Description: reason,
			Lines: []ledger.Line{{Account: riderAcct, Amount: r.Amount}, {Account: other, Amount: -r.Amount}}}); err != nil {
			return err
		}
		out.BalanceAfter = out.BalanceBefore + r.Amount
		if _, err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "rider.balance_adjust", TargetType: "rider", TargetID: r.RiderID,
			Before: map[string]any{"balance_minor": out.BalanceBefore}, After: map[string]any{"balance_minor": out.BalanceAfter},
			Details: map[string]any{"amount_minor": r.Amount, "currency": r.Currency, "counter_account": string(counter),
				"reason": reason, "ledger_transaction_id": out.LedgerTransactionID}}); err != nil {
			return err
		}
		if finish != nil {
			return finish(ctx, tx, out)
		}
		return nil
	})
	if err != nil {
		return Adjustment{}, fmt.Errorf("payments: adjust rider %s: %w", r.RiderID, err)
	}
	return out, nil
}
