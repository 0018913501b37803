package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"
)

// WebhookOutcome says what a webhook delivery did.
type WebhookOutcome string

// Webhook outcomes.
const (
	WebhookApplied   WebhookOutcome = "applied"   // a payment changed
	WebhookUnchanged WebhookOutcome = "unchanged" // the payment was already in that state
	WebhookIgnored   WebhookOutcome = "ignored"   // unknown payment or mismatching event (logged)
	WebhookDuplicate WebhookOutcome = "duplicate" // this event id was processed before: nothing done
)

// HandleWebhook verifies a provider's webhook delivery and applies it once: the event id is
// recorded (payment_webhook_events) in the transaction that applies it, so a redelivery, even
// concurrent, changes nothing. Errors: ErrUnknownProvider, ErrBadSignature, ErrMalformedEvent
// (nothing is written for any of them).
func (s *Service) HandleWebhook(ctx context.Context, provider string, header http.Header, body []byte) (WebhookOutcome, error) {
	prov, err := s.Provider(provider)
	if err != nil {
		return "", err
	}
	ev, err := prov.VerifyWebhook(header, body)
	if err != nil {
		return "", fmt.Errorf("payments: webhook from %s: %w", provider, err)
	}
	var outcome WebhookOutcome
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var paymentID *string
		var err error
		outcome, paymentID, err = s.applyEvent(ctx, tx, prov.Name(), ev)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO payment_webhook_events (provider, event_id, event_type, payment_id, outcome)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, event_id) DO NOTHING`,
			prov.Name(), ev.ID, string(ev.Type), paymentID, string(outcome))
		if err != nil {
			return fmt.Errorf("record event: %w", err)
		}
		if tag.RowsAffected() == 0 {
			outcome = WebhookDuplicate
			return errDuplicate // roll back whatever applyEvent did
		}
		return nil
	})
	if errors.Is(err, errDuplicate) {
		return WebhookDuplicate, nil
	}
	if err != nil {
		return "", fmt.Errorf("payments: webhook %s/%s: %w", provider, ev.ID, err)
	}
	s.log.Info("webhook processed", "provider", provider, "event", ev.ID, "type", ev.Type, "outcome", outcome)
	return outcome, nil
}

var errDuplicate = errors.New("duplicate event")

// applyEvent applies a verified event inside tx. The payment is found by fleetedge's id the
// provider echoes, and must be of this provider, purpose and amount.
func (s *Service) applyEvent(ctx context.Context, tx pgx.Tx, provider string, ev Event) (WebhookOutcome, *string, error) {
	// A quick duplicate check keeps a redelivery from even locking the payment.
	var seen bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM payment_webhook_events WHERE provider = $1 AND event_id = $2)`,
		provider, ev.ID).Scan(&seen); err != nil {
		return "", nil, err
	}
	if seen {
		return WebhookDuplicate, nil, errDuplicate
	}
	if !validUUID(ev.PaymentID) {
		s.log.Warn("webhook names no payment of ours", "provider", provider, "event", ev.ID)
		return WebhookIgnored, nil, nil
	}
	p, err := lockPayment(ctx, tx, ev.PaymentID)
	if errors.Is(err, ErrNotFound) {
		s.log.Warn("webhook for an unknown payment", "provider", provider, "event", ev.ID, "payment", ev.PaymentID)
		return WebhookIgnored, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	id := p.ID
	refund := ev.Type == RefundSucceeded || ev.Type == RefundFailed
	switch {
	case p.Provider != provider,
		p.Amount != ev.Amount || p.Currency != ev.Currency,
		p.ProviderReference != "" && p.ProviderReference != ev.Reference,
		refund != (p.Purpose == PurposeRefund),
		!refund && p.Purpose != PurposeTopUp:
		s.log.Error("webhook does not match its payment; ignored", "provider", provider, "event", ev.ID, "payment", p.ID,
			"type", ev.Type, "amount", ev.Amount, "currency", ev.Currency)
		return WebhookIgnored, &id, nil
	}
	res := Result{Reference: ev.Reference, FailureCode: ev.FailureCode, FailureMessage: ev.FailureMessage, Outcome: OutcomeSucceeded}
	if ev.Type == ChargeFailed || ev.Type == RefundFailed {
		res.Outcome = OutcomeFailed
	}
	var changed bool
	if refund {
		_, changed, err = s.applyRefundResult(ctx, tx, p, res)
	} else {
		_, changed, err = s.applyChargeResult(ctx, tx, p, res)
	}
	if err != nil {
		return "", nil, err
	}
	if changed {
		return WebhookApplied, &id, nil
	}
	return WebhookUnchanged, &id, nil
}
