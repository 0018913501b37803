package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
)

// TopUpRequest asks to charge Amount of Currency to the rider's method MethodID and credit
// the rider's balance.
type TopUpRequest struct {
	RiderID  string
	MethodID string
	Amount   int64
	Currency string
}

// Finish runs inside the transaction that records a money movement's result, before commit:
// the HTTP layer stores the Idempotency-Key response there, so the response and the effect
// commit together. An error rolls the result back.
type Finish func(ctx context.Context, tx pgx.Tx, p Payment) error

// TopUp charges the rider's payment method through its provider and credits the balance.
//
//  1. a pending payments row is committed (its id is the provider's idempotency key and
//     reference, so a webhook can name it even before the provider's reference is stored);
//  2. the provider is asked to charge (outside any database transaction);
//  3. in one transaction: the payment becomes succeeded with the ledger top_up (rider +amount,
//     provider_clearing −amount), or failed (no ledger entry), or stays pending for the webhook;
//     finish runs; commit.
//
// A decline is not an error: the returned payment is failed with its reason. When the
// provider's answer is unknown (ErrProviderUnavailable) the payment stays pending and the
// provider's webhook settles it.
func (s *Service) TopUp(ctx context.Context, r TopUpRequest, finish Finish) (Payment, error) {
	if !validUUID(r.RiderID) {
		return Payment{}, fmt.Errorf("%w: rider id", ErrInvalid)
	}
	if !s.currencyAllowed(r.Currency) {
		return Payment{}, fmt.Errorf("%w: %q (accepted: %v)", ErrCurrency, r.Currency, s.cfg.Currencies)
	}
	if r.Amount < s.cfg.MinTopUp || r.Amount > s.cfg.MaxTopUp {
		return Payment{}, fmt.Errorf("%w: %d not within %d..%d", ErrAmountOutOfRange, r.Amount, s.cfg.MinTopUp, s.cfg.MaxTopUp)
	}
	m, token, err := s.methodToken(ctx, r.RiderID, r.MethodID)
	if err != nil {
		return Payment{}, err
	}
	prov, err := s.Provider(m.Provider)
	if err != nil {
		return Payment{}, fmt.Errorf("%w: %w", ErrMethodUnavailable, err)
	}
	id := uuid.NewString()
	if _, err := s.pool.Exec(ctx, `INSERT INTO payments (id, rider_id, payment_method_id, method, purpose, amount_minor, currency, provider, status)
		VALUES ($1, $2, $3, $4, 'top_up', $5, $6, $7, 'pending')`,
		id, r.RiderID, m.ID, string(m.Kind), r.Amount, r.Currency, prov.Name()); err != nil {
		return Payment{}, fmt.Errorf("payments: top-up: insert: %w", err)
	}
	res, cerr := prov.Charge(ctx, ChargeRequest{PaymentID: id, IdempotencyKey: id, Amount: r.Amount, Currency: r.Currency, MethodToken: token})
	switch {
	case cerr == nil:
	case errors.Is(cerr, ErrInvalidToken):
		res = Result{Outcome: OutcomeFailed, FailureCode: "invalid_payment_method", FailureMessage: "the provider no longer accepts this payment method"}
	default:
		// Unknown outcome: leave it pending; the provider's webhook (or a retry of the
		// provider call under the same idempotency key) settles it.
		s.log.Warn("top-up charge outcome unknown", "payment", id, "provider", prov.Name(), "err", cerr)
		res = Result{Outcome: OutcomePending}
	}
	var out Payment
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		p, err := lockPayment(ctx, tx, id)
		if err != nil {
			return err
		}
		if p, _, err = s.applyChargeResult(ctx, tx, p, res); err != nil {
			return err
		}
		out = p
		if finish != nil {
			return finish(ctx, tx, p)
		}
		return nil
	})
	if err != nil {
		return Payment{}, fmt.Errorf("payments: top-up %s: %w: %w", id, errOutcomeNotSaved, err)
	}
	return out, nil
}

// errOutcomeNotSaved marks a failure after the provider was asked: the caller must not let the
// request be retried as new (the Idempotency-Key stays claimed).
var errOutcomeNotSaved = errors.New("provider outcome not saved")

func lockPayment(ctx context.Context, tx pgx.Tx, id string) (Payment, error) {
	p, err := scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, fmt.Errorf("%w: payment %s", ErrNotFound, id)
	}
	return p, err
}

func failureText(res Result) string {
	reason := res.FailureCode
	if res.FailureMessage != "" {
		if reason != "" {
			reason += ": "
		}
		reason += res.FailureMessage
	}
	if reason == "" {
		reason = "failed"
	}
	if r := []rune(reason); len(r) > 500 {
		reason = string(r[:500])
	}
	return reason
}

// applyChargeResult moves a locked top-up payment by a provider result (synchronous answer or
// webhook). It reports whether anything changed. Only pending payments move: a final state is
// never overwritten (a late or contradictory answer changes nothing and is logged).
func (s *Service) applyChargeResult(ctx context.Context, tx pgx.Tx, p Payment, res Result) (Payment, bool, error) {
	if p.ProviderReference == "" && res.Reference != "" {
		if err := tx.QueryRow(ctx, `UPDATE payments SET provider_reference = $2, updated_at = now() WHERE id = $1 RETURNING updated_at`,
			p.ID, res.Reference).Scan(&p.UpdatedAt); err != nil {
			return p, false, fmt.Errorf("store provider reference: %w", err)
		}
		p.ProviderReference = res.Reference
	}
	if p.Status != StatusPending || res.Outcome == OutcomePending {
		if p.Status != StatusPending && res.Outcome != OutcomePending && string(p.Status) != string(res.Outcome) {
			s.log.Warn("provider result contradicts a final payment state; ignored", "payment", p.ID, "status", p.Status, "outcome", res.Outcome)
		}
		return p, false, nil
	}
	switch res.Outcome {
	case OutcomeSucceeded:
		if err := tx.QueryRow(ctx, `UPDATE payments SET status = 'succeeded', failure_reason = NULL, updated_at = now() WHERE id = $1 RETURNING updated_at`,
			p.ID).Scan(&p.UpdatedAt); err != nil {
			return p, false, err
		}
		p.Status = StatusSucceeded
		rider, err := ledger.RiderAccount(ctx, tx, p.RiderID, p.Currency)
		if err != nil {
			return p, false, err
		}
		clearing, err := ledger.SystemAccount(ctx, tx, ledger.ProviderClearingAccount, p.Currency)
		if err != nil {
			return p, false, err
		}
		_, err = ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.TopUp, Currency: p.Currency, PaymentID: p.ID,
			Description: "top-up via " + p.Provider, Lines: []ledger.Line{{Account: rider, Amount: p.Amount}, {Account: clearing, Amount: -p.Amount}}})
		if err != nil && !errors.Is(err, ledger.ErrAlreadyPosted) {
			return p, false, err
		}
		return p, true, nil
	case OutcomeFailed:
		reason := failureText(res)
		if err := tx.QueryRow(ctx, `UPDATE payments SET status = 'failed', failure_reason = $2, updated_at = now() WHERE id = $1 RETURNING updated_at`,
			p.ID, reason).Scan(&p.UpdatedAt); err != nil {
			return p, false, err
		}
		p.Status, p.FailureReason = StatusFailed, reason
		return p, true, nil
	}
	return p, false, fmt.Errorf("%w: provider outcome %q", ErrInvalid, res.Outcome)
}
