package payments_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fleetedge/fleetedge/cloud/internal/payments"
	"github.com/fleetedge/fleetedge/cloud/internal/paymentsandbox"
)

// A top-up left pending by a crash before the provider was called (the row exists, no charge,
// no webhook) is settled by the reconciler: charged once, credited once.
func TestReconcilePendingTopUps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.rider.SignUp("")
	visa := e.addMethod(r, paymentsandbox.TokenVisa)
	declined := e.addMethod(r, paymentsandbox.TokenDeclined)
	insert := func(methodID string, amount int64, age time.Duration) string {
		id := uuid.NewString()
		if _, err := e.admin.DB.Pool.Exec(t.Context(), `INSERT INTO payments (id, rider_id, payment_method_id, method, purpose, amount_minor, currency, provider, created_at)
			VALUES ($1, $2, $3, 'card', 'top_up', $4, 'EUR', 'sandbox', now() - $5::interval)`, id, r.ID, methodID, amount, age.String()); err != nil {
			t.Fatal(err)
		}
		return id
	}
	old := insert(visa.ID, 800, 10*time.Minute)
	bad := insert(declined.ID, 300, 10*time.Minute)
	fresh := insert(visa.ID, 100, 0)
	// The rider removed the method since: the authorised charge still goes through.
	if res := e.rider.Do("DELETE", "/v1/payment-methods/"+visa.ID, r.Token, nil, nil); res.Status != 204 {
		t.Fatal(res.Status)
	}
	n, err := e.svc.ReconcilePending(t.Context(), 5*time.Minute)
	if err != nil || n != 2 {
		t.Fatalf("reconcile = %d, %v; want 2 settled", n, err)
	}
	if p := e.payment(old); p.Status != payments.StatusSucceeded || p.ProviderReference == "" {
		t.Fatalf("old = %+v", p)
	}
	if p := e.payment(bad); p.Status != payments.StatusFailed {
		t.Fatalf("declined = %+v", p)
	}
	if p := e.payment(fresh); p.Status != payments.StatusPending {
		t.Fatalf("a fresh pending payment was touched: %+v", p)
	}
	// Again: nothing left to settle, nothing charged twice (the webhooks also arrive).
	if n, err := e.svc.ReconcilePending(t.Context(), 5*time.Minute); err != nil || n != 0 {
		t.Fatalf("second reconcile = %d, %v", n, err)
	}
	waitFor(t, "webhooks", func() bool { return e.count(`SELECT count(*) FROM payment_webhook_events`) == 2 })
	if e.sb.Charges() != 2 || e.balance(r.ID) != 800 {
		t.Fatalf("charges %d, balance %d; want 2 and 800", e.sb.Charges(), e.balance(r.ID))
	}
}
