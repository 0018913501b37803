package payments

import (
	"context"
	"errors"
	"net/http"
)

// Provider is a payment service provider as the payments area uses it. Card data never
// reaches fleetedge: the rider's app tokenises the card with the provider's SDK and sends the
// token; the provider charges and refunds by token and reports results synchronously and by
// signed webhooks. paymentsandbox ships one; a real provider (Stripe, Adyen, …) is another
// implementation, selected by configuration (cloudsvc area_payments.go).
//
// Implementations must be safe for concurrent use and honour IdempotencyKey: a repeated
// request with the same key must not charge or refund twice, and answers like the first.
type Provider interface {
	// Name is the provider's id as stored in payments.provider (^[a-z0-9_.-]{1,64}$) and used
	// in the webhook path /v1/payments/webhooks/{name}.
	Name() string
	// DescribeMethod checks a payment-method token from the provider's SDK and describes it
	// for display. ErrInvalidToken when the provider does not know it or it cannot be used.
	DescribeMethod(ctx context.Context, token string) (MethodInfo, error)
	// Charge takes money from the method. A declined charge is Outcome failed, not an error;
	// errors mean the outcome is unknown (ErrProviderUnavailable) or the request was refused
	// (ErrInvalidToken). Outcome pending means a webhook will say.
	Charge(ctx context.Context, r ChargeRequest) (Result, error)
	// Refund gives (part of) a succeeded charge back to its method, same conventions.
	Refund(ctx context.Context, r RefundRequest) (Result, error)
	// VerifyWebhook authenticates a webhook delivery (signature over the exact body, with a
	// freshness window) and decodes it: ErrBadSignature or ErrMalformedEvent otherwise.
	VerifyWebhook(header http.Header, body []byte) (Event, error)
}

// MethodKind is what a payment method is (payment_methods.kind).
type MethodKind string

// Payment method kinds.
const (
	KindCard        MethodKind = "card"
	KindWallet      MethodKind = "wallet"
	KindBankAccount MethodKind = "bank_account"
)

// MethodInfo describes a payment method without its secrets: Label is display text such as
// "Visa ending 4242" (at most 64 characters).
type MethodInfo struct {
	Kind  MethodKind
	Brand string
	Last4 string
	Label string
}

// ChargeRequest asks for Amount minor units of Currency from the method MethodToken.
// PaymentID is fleetedge's payment id: the provider echoes it in webhooks, so an event can be
// matched even before the provider's reference is stored.
type ChargeRequest struct {
	PaymentID      string
	IdempotencyKey string
	Amount         int64
	Currency       string
	MethodToken    string
}

// RefundRequest gives Amount back on the provider's charge ChargeReference. RefundID is
// fleetedge's id of the refund (a payments row of purpose refund), echoed in webhooks.
type RefundRequest struct {
	RefundID        string
	IdempotencyKey  string
	ChargeReference string
	Amount          int64
	Currency        string
}

// Outcome is a provider's answer to a charge or refund.
type Outcome string

// Outcomes.
const (
	OutcomeSucceeded Outcome = "succeeded"
	OutcomePending   Outcome = "pending"
	OutcomeFailed    Outcome = "failed"
)

// Result is a provider's answer: its reference for the operation, the outcome, and why it
// failed (a short code such as "card_declined" and a message).
type Result struct {
	Reference      string
	Outcome        Outcome
	FailureCode    string
	FailureMessage string
}

// EventType is a webhook event's type.
type EventType string

// Webhook event types.
const (
	ChargeSucceeded EventType = "charge.succeeded"
	ChargeFailed    EventType = "charge.failed"
	RefundSucceeded EventType = "refund.succeeded"
	RefundFailed    EventType = "refund.failed"
)

// Event is a verified webhook event. PaymentID is fleetedge's id of the payment (or refund)
// the event is about, Reference the provider's; Amount and Currency are checked against it.
type Event struct {
	ID             string
	Type           EventType
	Reference      string
	PaymentID      string
	Amount         int64
	Currency       string
	FailureCode    string
	FailureMessage string
}

var (
	// ErrInvalidToken means the provider does not accept the payment-method token.
	ErrInvalidToken = errors.New("payments: payment method token not accepted by the provider")
	// ErrProviderUnavailable means the provider could not be reached or answered an error: the
	// outcome of the request is unknown (a retry with the same idempotency key is safe).
	ErrProviderUnavailable = errors.New("payments: provider unavailable")
	// ErrBadSignature means a webhook whose signature is missing, wrong or stale.
	ErrBadSignature = errors.New("payments: webhook signature invalid")
	// ErrMalformedEvent means a correctly signed webhook body that cannot be understood.
	ErrMalformedEvent = errors.New("payments: malformed webhook event")
)
