// Package paymentsandbox owns the sandbox payment provider: a payments.Provider that moves no
// real money, for development, demos and tests. It behaves like a card processor: test tokens
// (below) succeed, decline, or go pending and settle later; charges and refunds are idempotent
// by key; every outcome is also announced by a webhook POSTed over HTTP to Config.WebhookURL,
// signed with HMAC-SHA256 like real providers do.
//
// Test tokens (what a provider SDK would return after tokenising a card):
//
//	tok_visa               Visa ending 4242        charge succeeds
//	tok_mastercard         Mastercard ending 4444  charge succeeds
//	tok_declined           Visa ending 0002        declined (card_declined)
//	tok_insufficient_funds Visa ending 9995        declined (insufficient_funds)
//	tok_pending            Visa ending 3155        pending, then charge.succeeded by webhook
//	tok_pending_declined   Visa ending 3220        pending, then charge.failed by webhook
//
// Signature: header Fleetedge-Sandbox-Signature: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>" under the secret>" (several v1 entries allowed while a secret rotates). A
// receiver accepts a delivery when one v1 matches and t is within the tolerance (default
// 5 minutes) of its clock, which bounds replays of captured deliveries; the event id makes
// a redelivery recognisable.
//
// Concurrency: a Sandbox is safe for concurrent use. Webhook deliveries run on goroutines the
// Sandbox owns (retried with backoff until the receiver answers 2xx or attempts run out);
// Close cancels pending deliveries and waits for them.
package paymentsandbox
