// Package providertest is the contract every payments.Provider must meet, as one test suite
// run against each implementation (the sandbox's tests run it; a real provider's tests run it
// against the provider's own test mode).
package providertest

import (
	"errors"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/fleetedge/fleetedge/cloud/internal/payments"
)

// Tokens are payment-method tokens of the provider's test mode.
type Tokens struct {
	Succeeds string // a method whose charges succeed at once
	Declines string // a method whose charges are declined at once
}

// Run checks p against the contract.
func Run(t *testing.T, p payments.Provider, tok Tokens) {
	t.Helper()
	ctx := t.Context()
	t.Run("name", func(t *testing.T) {
		n := p.Name()
		if n == "" || len(n) > 64 {
			t.Fatalf("name %q", n)
		}
		for _, c := range n {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
				t.Fatalf("name %q: character %q", n, c)
			}
		}
	})
	t.Run("describe", func(t *testing.T) {
		mi, err := p.DescribeMethod(ctx, tok.Succeeds)
		if err != nil {
			t.Fatal(err)
		}
		if mi.Label == "" || utf8.RuneCountInString(mi.Label) > 64 {
			t.Fatalf("label %q", mi.Label)
		}
		switch mi.Kind {
		case payments.KindCard, payments.KindWallet, payments.KindBankAccount:
		default:
			t.Fatalf("kind %q", mi.Kind)
		}
		for _, bad := range []string{"4242424242424242", "not-a-token", "'; DROP TABLE payments; --"} {
			if _, err := p.DescribeMethod(ctx, bad); !errors.Is(err, payments.ErrInvalidToken) {
				t.Errorf("DescribeMethod(%q) = %v, want ErrInvalidToken", bad, err)
			}
		}
	})
	var charged payments.Result
	t.Run("charge is idempotent", func(t *testing.T) {
		key := uuid.NewString()
		req := payments.ChargeRequest{PaymentID: key, IdempotencyKey: key, Amount: 1234, Currency: "EUR", MethodToken: tok.Succeeds}
		res, err := p.Charge(ctx, req)
		if err != nil || res.Outcome != payments.OutcomeSucceeded || res.Reference == "" {
			t.Fatalf("charge = %+v, %v", res, err)
		}
		again, err := p.Charge(ctx, req)
		if err != nil || again != res {
			t.Fatalf("repeated charge = %+v, %v; want %+v", again, err, res)
		}
		other := uuid.NewString()
		res2, err := p.Charge(ctx, payments.ChargeRequest{PaymentID: other, IdempotencyKey: other, Amount: 1234, Currency: "EUR", MethodToken: tok.Succeeds})
		if err != nil || res2.Reference == res.Reference {
			t.Fatalf("a new key reused the charge: %+v, %v", res2, err)
		}
		charged = res
	})
	t.Run("decline", func(t *testing.T) {
		key := uuid.NewString()
		res, err := p.Charge(ctx, payments.ChargeRequest{PaymentID: key, IdempotencyKey: key, Amount: 500, Currency: "EUR", MethodToken: tok.Declines})
		if err != nil || res.Outcome != payments.OutcomeFailed || res.FailureCode == "" {
			t.Fatalf("declined charge = %+v, %v", res, err)
		}
	})
	t.Run("refund", func(t *testing.T) {
		if charged.Reference == "" {
			t.Skip("no charge to refund")
		}
		key := uuid.NewString()
		req := payments.RefundRequest{RefundID: key, IdempotencyKey: key, ChargeReference: charged.Reference, Amount: 1000, Currency: "EUR"}
		res, err := p.Refund(ctx, req)
		if err != nil || res.Outcome == payments.OutcomeFailed || res.Reference == "" {
			t.Fatalf("refund = %+v, %v", res, err)
		}
		if again, err := p.Refund(ctx, req); err != nil || again != res {
			t.Fatalf("repeated refund = %+v, %v", again, err)
		}
		over := uuid.NewString()
		res, err = p.Refund(ctx, payments.RefundRequest{RefundID: over, IdempotencyKey: over, ChargeReference: charged.Reference, Amount: 235, Currency: "EUR"})
		if err == nil && res.Outcome != payments.OutcomeFailed {
			t.Fatalf("refund beyond the charge = %+v", res)
		}
	})
	t.Run("webhook signature", func(t *testing.T) {
		body := []byte(`{"id":"evt_forged","type":"charge.succeeded","data":{"reference":"x","payment_id":"` + uuid.NewString() + `","amount":1,"currency":"EUR"}}`)
		for _, h := range []http.Header{{}, {"Signature": {"forged"}}} {
			if _, err := p.VerifyWebhook(h, body); !errors.Is(err, payments.ErrBadSignature) {
				t.Errorf("unsigned webhook: %v, want ErrBadSignature", err)
			}
		}
	})
}
