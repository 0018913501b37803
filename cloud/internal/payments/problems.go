package payments

// Problem codes of the payments area (stable: clients switch on them). Shared codes
// (unauthorized, not_found, invalid_request, forbidden, internal) come from riderapi/adminapi.
const (
	CodePaymentDeclined         = "payment_declined"
	CodePaymentMethodNotFound   = "payment_method_not_found"
	CodeInvalidPaymentMethod    = "invalid_payment_method"
	CodeTooManyPaymentMethods   = "too_many_payment_methods"
	CodeIdempotencyKeyRequired  = "idempotency_key_required"
	CodeIdempotencyKeyReused    = "idempotency_key_reused"
	CodeIdempotencyInProgress   = "idempotency_in_progress"
	CodeAmountOutOfRange        = "amount_out_of_range"
	CodeUnsupportedCurrency     = "unsupported_currency"
	CodeUnknownProvider         = "unknown_provider"
	CodeInvalidSignature        = "invalid_signature"
	CodeMalformedEvent          = "malformed_event"
	CodeNotRefundable           = "not_refundable"
	CodeRefundExceedsPaid       = "refund_exceeds_paid"
	CodeBalanceTooLow           = "balance_too_low"
	CodeReasonRequired          = "reason_required"
	CodePaymentMethodUnusable   = "payment_method_unusable"
	CodeProviderOutcomeNotSaved = "provider_outcome_not_saved"
)
