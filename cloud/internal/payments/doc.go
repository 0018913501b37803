// Package payments owns the riders' money apart from rides: payment methods (provider tokens,
// sealed at rest), balance top-ups through a payment provider, provider webhooks, payment
// history, and the admin's refunds and manual balance adjustments. Every balance change is a
// ledger transaction (package ledger) committed with the row it belongs to.
//
// Providers: Provider (provider.go) is the interface a payment service provider implements;
// paymentsandbox ships one with test cards, and a real one plugs in by configuration
// (cloudsvc area_payments.go picks providers by name). Card numbers never reach fleetedge:
// the rider's app tokenises the card with the provider's SDK, fleetedge stores the provider's
// token sealed with fieldcrypt (context "payment_methods.token_ciphertext:<method id>") and
// shows only a label such as "Visa ending 4242".
//
// Money movements and their invariants:
//   - top-up: a pending payment is committed first (its id is the provider's idempotency key
//     and is echoed in webhooks), the provider is called outside any transaction, then the
//     result is recorded in one transaction: succeeded together with the ledger top_up (rider
//     +amount, provider_clearing −amount; at most once per payment by a unique index), failed
//     with no ledger entry, or still pending until the webhook;
//   - webhooks are signature-checked by the provider (401 invalid_signature, nothing written),
//     matched to the payment by id, provider, amount and currency, and applied once: the event
//     id is recorded in payment_webhook_events in the same transaction, so a redelivery changes
//     nothing; a final state is never overwritten;
//   - refunds: of a card top-up (to the card, through the provider) or of a ride charge (to the
//     balance), never above what was paid minus earlier refunds, checked under the rider's ledger
//     lock; a failed provider refund gives the money back to the balance;
//   - adjustments need a reason and are ledger adjustments created by the admin;
//   - every admin money write records its audit entry in the same transaction;
//   - a payment left pending (provider answer lost, crash before the call, no webhook) is asked
//     again under its own idempotency key by ReconcilePending (the cloud runs it every minute),
//     so the provider charges at most once and the ledger is credited at most once;
//   - every money-moving POST requires an Idempotency-Key (package idempotency); the answer is
//     stored in the transaction that records the outcome, so a retry gets the first answer and
//     money moves once. The key is released (the client may retry) only when nothing was sent to
//     the provider.
//
// HTTP: RegisterRider adds /v1/payment-methods, /v1/top-ups, /v1/balance, /v1/payments (history
// and one payment) and the webhook /v1/payments/webhooks/{provider} to the rider API;
// RegisterAdmin adds refunds, adjustments and a rider's balance to the admin API. Problem codes
// are the Code* constants. List is the query behind histories and admin lists/exports;
// HasActiveMethod answers "may this rider pay by method" for other areas.
//
// Known limits: a request whose process died after claiming its Idempotency-Key keeps
// answering 409 idempotency_in_progress for that key until it expires (24 h) — the payment
// itself is settled by the reconciler and visible in GET /v1/payments; the sandbox keeps its
// charges in memory, so it suits one process (development, demos, tests).
package payments
