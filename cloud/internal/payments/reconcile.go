package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
)

// ReconcileBatch bounds the payments one ReconcilePending call looks at.
const ReconcileBatch = 100

// ReconcilePending settles payments left pending for longer than olderThan: a top-up whose
// provider call never happened or whose answer was lost (crash, timeout) and whose webhook did
// not come. It asks the provider again under the payment's own idempotency key — the provider
// answers with the first call's outcome, or makes the charge once if it never saw it — and
// records the result like a synchronous answer. Pending refunds are asked again the same way.
// It returns how many payments it settled.
func (s *Service) ReconcilePending(ctx context.Context, olderThan time.Duration) (int, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE status = 'pending' AND purpose IN ('top_up', 'refund') AND created_at < $1
		ORDER BY created_at LIMIT $2`, s.cfg.Now().Add(-olderThan), ReconcileBatch)
	if err != nil {
		return 0, fmt.Errorf("payments: reconcile: %w", err)
	}
	pending, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Payment, error) { return scanPayment(r) })
	if err != nil {
		return 0, fmt.Errorf("payments: reconcile: %w", err)
	}
	settled := 0
	for _, p := range pending {
		if ctx.Err() != nil {
			return settled, ctx.Err()
		}
		changed, err := s.reconcileOne(ctx, p)
		if err != nil {
			s.log.Warn("reconcile pending payment", "payment", p.ID, "err", err)
			continue
		}
		if changed {
			settled++
		}
	}
	return settled, nil
}

func (s *Service) reconcileOne(ctx context.Context, p Payment) (bool, error) {
	prov, err := s.Provider(p.Provider)
	if err != nil {
		return false, err
	}
	var res Result
	if p.Purpose == PurposeRefund {
		var chargeRef string
		if err := s.pool.QueryRow(ctx, `SELECT coalesce(provider_reference, '') FROM payments WHERE id = $1`, p.RefundOf).Scan(&chargeRef); err != nil {
			return false, err
		}
		if res, err = prov.Refund(ctx, RefundRequest{RefundID: p.ID, IdempotencyKey: p.ID, ChargeReference: chargeRef, Amount: p.Amount, Currency: p.Currency}); err != nil {
			return false, err
		}
	} else {
		token, err := s.anyMethodToken(ctx, p.MethodID)
		switch {
		case errors.Is(err, ErrNotFound), errors.Is(err, fieldcrypt.ErrDecrypt), errors.Is(err, fieldcrypt.ErrUnknownKeyID):
			res = Result{Outcome: OutcomeFailed, FailureCode: "payment_method_unusable", FailureMessage: "the payment method cannot be charged"}
		case err != nil:
			return false, err
		default:
			res, err = prov.Charge(ctx, ChargeRequest{PaymentID: p.ID, IdempotencyKey: p.ID, Amount: p.Amount, Currency: p.Currency, MethodToken: token})
			if errors.Is(err, ErrInvalidToken) {
				res, err = Result{Outcome: OutcomeFailed, FailureCode: "invalid_payment_method", FailureMessage: "the provider no longer accepts this payment method"}, nil
			}
			if err != nil {
				return false, err
			}
		}
	}
	var changed bool
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		locked, err := lockPayment(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		if locked.Status != StatusPending {
			// The provider's webhook for this very charge got here first: settled all the same.
			changed = true
			return nil
		}
		if p.Purpose == PurposeRefund {
			_, changed, err = s.applyRefundResult(ctx, tx, locked, res)
		} else {
			_, changed, err = s.applyChargeResult(ctx, tx, locked, res)
		}
		return err
	})
	return changed && err == nil, err
}

// anyMethodToken opens a method's token whether or not the rider removed it since (a pending
// charge was authorised while it was active).
func (s *Service) anyMethodToken(ctx context.Context, methodID string) (string, error) {
	if !validUUID(methodID) {
		return "", fmt.Errorf("%w: payment method", ErrNotFound)
	}
	var sealed fieldcrypt.Sealed
	err := s.pool.QueryRow(ctx, `SELECT token_ciphertext, token_key_id FROM payment_methods WHERE id = $1`, methodID).
		Scan(&sealed.Ciphertext, &sealed.KeyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%w: payment method", ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	tok, err := s.cfg.Keyring.Open(sealed, tokenContext(methodID))
	if err != nil {
		return "", err
	}
	return string(tok), nil
}
