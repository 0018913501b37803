package payments_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/payments"
	"github.com/fleetedge/fleetedge/cloud/internal/paymentsandbox"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi/riderapitest"
)

func (e *env) adminPost(token, path, key string, body any) adminapitest.Response {
	e.t.Helper()
	h := map[string]string{}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	return e.admin.DoHeaders("POST", "/admin/v1"+path, token, body, h)
}

// toppedUp signs up a rider and tops up amount with a Visa; returns the rider and payment id.
func (e *env) toppedUp(amount int64) (riderapitest.Rider, string) {
	e.t.Helper()
	r := e.rider.SignUp("")
	e.addMethod(r, paymentsandbox.TokenVisa)
	res := e.topUp(r, "t", map[string]any{"amount_minor": amount, "currency": "EUR"})
	var p payments.PaymentBody
	res.JSON(e.t, &p)
	if res.Status != 201 {
		e.t.Fatalf("top-up: %d %s", res.Status, res.Body)
	}
	return r, p.ID
}

func TestRefundTopUpToTheCard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, adminID := e.admin.TokenWith(admin.PermRidersRefund)
	r, pid := e.toppedUp(1000)

	if res := e.adminPost(tok, "/payments/"+pid+"/refunds", "", map[string]any{"amount_minor": 400, "reason": "scooter broken"}); res.Status != 400 || res.Code() != payments.CodeIdempotencyKeyRequired {
		t.Fatalf("no key: %d %s", res.Status, res.Body)
	}
	for _, reason := range []string{"", "  ", "x"} {
		if res := e.adminPost(tok, "/payments/"+pid+"/refunds", "nr"+reason, map[string]any{"amount_minor": 400, "reason": reason}); res.Status != 422 || res.Code() != payments.CodeReasonRequired {
			t.Fatalf("reason %q: %d %s", reason, res.Status, res.Body)
		}
	}
	first := e.adminPost(tok, "/payments/"+pid+"/refunds", "r1", map[string]any{"amount_minor": 400, "reason": "scooter broken"})
	if first.Status != 201 {
		t.Fatalf("refund: %d %s", first.Status, first.Body)
	}
	var ref payments.PaymentBody
	first.JSON(t, &ref)
	if ref.Status != "succeeded" || ref.Purpose != "refund" || ref.RefundOf != pid || ref.AmountMinor != 400 || ref.ProviderReference == "" {
		t.Fatalf("refund = %+v", ref)
	}
	// Same key, same body: the first answer, no second refund. Same key, other body: refused.
	again := e.adminPost(tok, "/payments/"+pid+"/refunds", "r1", map[string]any{"amount_minor": 400, "reason": "scooter broken"})
	if again.Status != 201 || !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("retry: %d %s", again.Status, again.Body)
	}
	if res := e.adminPost(tok, "/payments/"+pid+"/refunds", "r1", map[string]any{"amount_minor": 500, "reason": "scooter broken"}); res.Status != 422 || res.Code() != payments.CodeIdempotencyKeyReused {
		t.Fatalf("reused key: %d %s", res.Status, res.Body)
	}
	if e.balance(r.ID) != 600 {
		t.Fatalf("balance = %d, want 600", e.balance(r.ID))
	}
	// No refund above what was paid.
	if res := e.adminPost(tok, "/payments/"+pid+"/refunds", "r2", map[string]any{"amount_minor": 601, "reason": "too much"}); res.Status != 409 || res.Code() != payments.CodeRefundExceedsPaid {
		t.Fatalf("over-refund: %d %s", res.Status, res.Body)
	}
	// The rest (amount omitted).
	res := e.adminPost(tok, "/payments/"+pid+"/refunds", "r3", map[string]any{"reason": "customer left"})
	res.JSON(t, &ref)
	if res.Status != 201 || ref.AmountMinor != 600 {
		t.Fatalf("refund the rest: %d %s", res.Status, res.Body)
	}
	if p := e.payment(pid); p.Status != payments.StatusRefunded || e.balance(r.ID) != 0 {
		t.Fatalf("after full refund: %s, balance %d", p.Status, e.balance(r.ID))
	}
	if res := e.adminPost(tok, "/payments/"+pid+"/refunds", "r4", map[string]any{"amount_minor": 1, "reason": "again"}); res.Status != 409 {
		t.Fatalf("refund of a refunded payment: %d %s", res.Status, res.Body)
	}
	// The provider's refund webhooks arrive (racing the synchronous answer: whichever comes
	// first settles the refund) and move no money.
	waitFor(t, "refund webhooks", func() bool {
		return e.count(`SELECT count(*) FROM payment_webhook_events WHERE event_type = 'refund.succeeded' AND outcome IN ('applied', 'unchanged')`) == 2
	})
	if e.balance(r.ID) != 0 {
		t.Fatalf("balance after webhooks = %d", e.balance(r.ID))
	}
	// Audit: two entries, by this admin, with the reason; ledger refunds created by the admin.
	entries := e.admin.Audit(audit.Filter{Action: "payment.refund"})
	if len(entries) != 2 {
		t.Fatalf("%d payment.refund audit entries", len(entries))
	}
	for _, en := range entries {
		if en.AdminID != adminID || en.TargetID != pid || !strings.Contains(string(en.Details), "customer left") && !strings.Contains(string(en.Details), "scooter broken") {
			t.Fatalf("audit entry %+v %s", en, en.Details)
		}
	}
	if n := e.count(`SELECT count(*) FROM ledger_transactions WHERE kind = 'refund' AND created_by_admin = $1`, adminID); n != 2 {
		t.Fatalf("%d ledger refunds by the admin", n)
	}
}

func TestRefundRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, _ := e.admin.TokenWith(admin.PermRidersRefund)
	r, pid := e.toppedUp(1000)
	// The rider spent 800 on a ride: refunding 500 of the top-up to the card is refused.
	e.chargedRide(r.ID, 800, 0)
	if res := e.adminPost(tok, "/payments/"+pid+"/refunds", "a", map[string]any{"amount_minor": 500, "reason": "spent"}); res.Status != 409 || res.Code() != payments.CodeBalanceTooLow {
		t.Fatalf("refund above the balance: %d %s", res.Status, res.Body)
	}
	// A declined payment is not refundable; unknown ids are 404.
	m := e.addMethod(r, paymentsandbox.TokenDeclined)
	res := e.topUp(r, "d", map[string]any{"amount_minor": 1000, "currency": "EUR", "payment_method_id": m.ID})
	var prob struct{ Instance string }
	res.JSON(t, &prob)
	declined := strings.TrimPrefix(prob.Instance, "/v1/payments/")
	if res := e.adminPost(tok, "/payments/"+declined+"/refunds", "b", map[string]any{"reason": "declined"}); res.Status != 409 || res.Code() != payments.CodeNotRefundable {
		t.Fatalf("refund of a declined payment (%s): %d %s", declined, res.Status, res.Body)
	}
	for _, id := range []string{"00000000-0000-4000-8000-000000000000", "x'%20OR%201=1", strings.Repeat("1", 64)} {
		if res := e.adminPost(tok, "/payments/"+id+"/refunds", "c"+id[:3], map[string]any{"reason": "nothing"}); res.Status != 404 {
			t.Fatalf("refund of %q: %d %s", id, res.Status, res.Body)
		}
	}
	if res := e.adminPost(tok, "/payments/"+pid+"/refunds", "e", map[string]any{"amount_minor": -5, "reason": "negative"}); res.Status != 422 {
		t.Fatalf("negative refund: %d %s", res.Status, res.Body)
	}
	if res := e.adminPost(tok, "/payments/"+pid+"/refunds", "f", map[string]any{"reason": strings.Repeat("é", 501)}); res.Status != 422 {
		t.Fatalf("long reason: %d %s", res.Status, res.Body)
	}
	if e.balance(r.ID) != 200 || e.count(`SELECT count(*) FROM ledger_transactions WHERE kind = 'refund'`) != 0 {
		t.Fatalf("a refused refund moved money: balance %d", e.balance(r.ID))
	}
	if n := len(e.admin.Audit(audit.Filter{Action: "payment.refund"})); n != 0 {
		t.Fatalf("%d audit entries for refused refunds", n)
	}
}

func TestRefundRideCharge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, adminID := e.admin.TokenWith(admin.PermRidersRefund)
	r, _ := e.toppedUp(1000)
	ride := e.chargedRide(r.ID, 350, 50) // 300 revenue + 50 fine
	if e.balance(r.ID) != 650 {
		t.Fatalf("balance = %d", e.balance(r.ID))
	}
	if res := e.adminPost(tok, "/rides/"+ride+"/refunds", "a", map[string]any{"amount_minor": 351, "reason": "bad ride"}); res.Status != 409 || res.Code() != payments.CodeRefundExceedsPaid {
		t.Fatalf("over-refund: %d %s", res.Status, res.Body)
	}
	res := e.adminPost(tok, "/rides/"+ride+"/refunds", "b", map[string]any{"amount_minor": 280, "reason": "brakes failed"})
	var rr payments.RideRefundBody
	res.JSON(t, &rr)
	if res.Status != 201 || rr.AmountMinor != 280 || rr.ChargedMinor != 350 || rr.RefundedMinor != 280 || rr.RiderID != r.ID {
		t.Fatalf("refund: %d %s", res.Status, res.Body)
	}
	res = e.adminPost(tok, "/rides/"+ride+"/refunds", "c", map[string]any{"reason": "and the rest"})
	res.JSON(t, &rr)
	if res.Status != 201 || rr.AmountMinor != 70 || rr.RefundedMinor != 350 {
		t.Fatalf("refund rest: %d %s", res.Status, res.Body)
	}
	if res := e.adminPost(tok, "/rides/"+ride+"/refunds", "d", map[string]any{"amount_minor": 1, "reason": "more"}); res.Status != 409 {
		t.Fatalf("refund beyond the charge: %d %s", res.Status, res.Body)
	}
	if e.balance(r.ID) != 1000 {
		t.Fatalf("balance = %d, want 1000", e.balance(r.ID))
	}
	// Revenue gave back 300 and fines 50: both net to zero for this ride.
	var revenue, fines int64
	if err := e.admin.DB.Pool.QueryRow(t.Context(), `SELECT
		coalesce(sum(e.amount_minor) FILTER (WHERE a.kind = 'revenue'), 0), coalesce(sum(e.amount_minor) FILTER (WHERE a.kind = 'fines'), 0)
		FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id JOIN ledger_transactions t ON t.id = e.transaction_id
		WHERE t.ride_id = $1`, ride).Scan(&revenue, &fines); err != nil {
		t.Fatal(err)
	}
	if revenue != 0 || fines != 0 {
		t.Fatalf("after full refund: revenue %d, fines %d", revenue, fines)
	}
	if n := len(e.admin.Audit(audit.Filter{Action: "ride.refund", AdminID: adminID})); n != 2 {
		t.Fatalf("%d ride.refund audit entries", n)
	}
	if res := e.adminPost(tok, "/rides/00000000-0000-4000-8000-000000000000/refunds", "e", map[string]any{"reason": "no ride"}); res.Status != 404 {
		t.Fatalf("unknown ride: %d %s", res.Status, res.Body)
	}
}

func TestBalanceAdjustment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, adminID := e.admin.TokenWith(admin.PermRidersRefund)
	r := e.rider.SignUp("")
	path := "/riders/" + r.ID + "/balance-adjustments"
	if res := e.adminPost(tok, path, "missing", map[string]any{"amount_minor": 500, "currency": "EUR"}); res.Status != 422 || !strings.Contains(string(res.Body), "reason") {
		t.Fatalf("adjustment without a reason: %d %s", res.Status, res.Body)
	}
	for i, body := range []map[string]any{
		{"amount_minor": 500, "currency": "EUR", "reason": ""},
		{"amount_minor": 500, "currency": "EUR", "reason": "   \t "},
	} {
		if res := e.adminPost(tok, path, "n"+string(rune('a'+i)), body); res.Status != 422 || res.Code() != payments.CodeReasonRequired {
			t.Fatalf("adjustment without a reason %v: %d %s", body, res.Status, res.Body)
		}
	}
	for _, bad := range []map[string]any{
		{"amount_minor": 0, "currency": "EUR", "reason": "zero"},
		{"amount_minor": 10_000_000, "currency": "EUR", "reason": "huge"},
		{"amount_minor": 5, "currency": "eur", "reason": "bad currency"},
		{"amount_minor": 5, "currency": "EUR", "reason": "bad account", "counter_account": "rider_balance"},
	} {
		if res := e.adminPost(tok, path, "bad", bad); res.Status != 422 {
			t.Fatalf("bad adjustment %v: %d %s", bad, res.Status, res.Body)
		}
	}
	res := e.adminPost(tok, path, "ok1", map[string]any{"amount_minor": 500, "currency": "EUR", "reason": "apology for a broken scooter"})
	var adj payments.AdjustmentBody
	res.JSON(t, &adj)
	if res.Status != 201 || adj.BalanceBeforeMinor != 0 || adj.BalanceAfterMinor != 500 || adj.CounterAccount != "promotions" {
		t.Fatalf("adjust: %d %s", res.Status, res.Body)
	}
	if again := e.adminPost(tok, path, "ok1", map[string]any{"amount_minor": 500, "currency": "EUR", "reason": "apology for a broken scooter"}); !bytes.Equal(again.Body, res.Body) {
		t.Fatalf("retry: %s", again.Body)
	}
	res = e.adminPost(tok, path, "ok2", map[string]any{"amount_minor": -200, "currency": "EUR", "reason": "cash refund at the office", "counter_account": "cash"})
	if res.Status != 201 || e.balance(r.ID) != 300 {
		t.Fatalf("debit: %d %s; balance %d", res.Status, res.Body, e.balance(r.ID))
	}
	if n := e.count(`SELECT count(*) FROM ledger_transactions WHERE kind = 'adjustment' AND created_by_admin = $1 AND description <> ''`, adminID); n != 2 {
		t.Fatalf("%d adjustments by the admin with a description", n)
	}
	entries := e.admin.Audit(audit.Filter{Action: "rider.balance_adjust"})
	if len(entries) != 2 || entries[0].TargetID != r.ID || !strings.Contains(string(entries[0].Details), "cash refund at the office") {
		t.Fatalf("audit: %+v", entries)
	}
	var details struct {
		Before struct {
			BalanceMinor int64 `json:"balance_minor"`
		} `json:"before"`
		After struct {
			BalanceMinor int64 `json:"balance_minor"`
		} `json:"after"`
	}
	if err := json.Unmarshal(entries[0].Details, &details); err != nil || details.Before.BalanceMinor != 500 || details.After.BalanceMinor != 300 {
		t.Fatalf("audit before/after: %s %v", entries[0].Details, err)
	}
	if res := e.adminPost(tok, "/riders/00000000-0000-4000-8000-000000000000/balance-adjustments", "x", map[string]any{"amount_minor": 5, "currency": "EUR", "reason": "nobody"}); res.Status != 404 {
		t.Fatalf("unknown rider: %d %s", res.Status, res.Body)
	}
	// Admin balance read needs riders.read.
	rtok, _ := e.admin.TokenWith(admin.PermRidersRead)
	if res := e.admin.Do("GET", "/admin/v1/riders/"+r.ID+"/balance", rtok, nil); res.Status != 200 || !strings.Contains(string(res.Body), `"balance_minor":300`) {
		t.Fatalf("admin balance: %d %s", res.Status, res.Body)
	}
}

func TestAdminPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mine []string
	routes := e.admin.API.Routes()
	var ours = routes[:0:0]
	for _, r := range routes {
		switch r.OperationID {
		case "payment-refund", "ride-refund", "rider-balance-adjust", "rider-balance":
			ours = append(ours, r)
			mine = append(mine, r.OperationID)
		}
	}
	if len(ours) != 4 {
		t.Fatalf("registered admin routes: %v", mine)
	}
	adminapitest.CheckAccess(t, e.admin, ours, nil)
	// The walk's requests moved no money and wrote no audit entries.
	if n := e.count(`SELECT count(*) FROM ledger_transactions`); n != 0 {
		t.Fatalf("%d ledger transactions after the walk", n)
	}
	// The served document stays precise with the area's routes.
	adminapitest.CheckDocument(t, e.admin.Do("GET", "/admin/v1/openapi.json", "", nil).Body)
}

// Concurrent refunds of one top-up (different keys, different admins) never exceed it.
func TestConcurrentRefundsNeverExceedThePayment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r, pid := e.toppedUp(1000)
	rideID := e.chargedRide(r.ID, 300, 0) // balance 700
	tok1, _ := e.admin.TokenWith(admin.PermRidersRefund)
	tok2, _ := e.admin.TokenWith(admin.PermRidersRefund)
	var wg sync.WaitGroup
	results := make(chan int, 8)
	for i := range 4 {
		tok := tok1
		if i%2 == 1 {
			tok = tok2
		}
		wg.Go(func() {
			results <- e.adminPost(tok, "/payments/"+pid+"/refunds", fmt.Sprint("p", i), map[string]any{"amount_minor": 300, "reason": "race"}).Status
		})
		wg.Go(func() {
			results <- e.adminPost(tok, "/rides/"+rideID+"/refunds", fmt.Sprint("r", i), map[string]any{"amount_minor": 200, "reason": "race"}).Status
		})
	}
	wg.Wait()
	close(results)
	var ok, refused int
	for st := range results {
		switch st {
		case 201:
			ok++
		case 409:
			refused++
		default:
			t.Errorf("status %d", st)
		}
	}
	// The ride allows one refund of 200 (300 charged); the top-up allows two of 300 out of 1000
	// only while the balance covers them: 700 + 200 (ride refund) = 900 ≥ 600.
	refundedTopUp := e.count(`SELECT coalesce(sum(amount_minor), 0)::int FROM payments WHERE refund_of = $1 AND status = 'succeeded'`, pid)
	refundedRide := e.count(`SELECT coalesce(sum(e.amount_minor), 0)::int FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
		JOIN ledger_accounts a ON a.id = e.account_id WHERE t.kind = 'refund' AND t.ride_id = $1 AND a.kind = 'rider_balance'`, rideID)
	if refundedRide != 200 || refundedTopUp > 1000 || refundedTopUp%300 != 0 || refundedTopUp < 300 {
		t.Fatalf("refunded %d of the top-up and %d of the ride (%d ok, %d refused)", refundedTopUp, refundedRide, ok, refused)
	}
	if bal := e.balance(r.ID); bal < 0 || bal != 700+int64(refundedRide)-int64(refundedTopUp) {
		t.Fatalf("balance %d", bal)
	}
}

func TestAdminHostileInputsNever500(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, _ := e.admin.TokenWith(admin.PermRidersRefund, admin.PermRidersRead)
	r, pid := e.toppedUp(1000)
	inj := "'; DROP TABLE ledger_entries; --"
	big := strings.Repeat("Z", 20_000)
	for i, q := range []struct {
		path string
		body any
		key  string
	}{
		{"/payments/" + pid + "/refunds", map[string]any{"reason": big}, "b"},
		{"/payments/" + pid + "/refunds", map[string]any{"reason": "ok reason", "amount_minor": int64(1) << 62}, "c"},
		{"/payments/" + pid + "/refunds", map[string]any{"reason": "a\x00b"}, "d"},
		{"/payments/" + pid + "/refunds", `{"reason":`, "e"},
		{"/payments/" + pid + "/refunds", big, "f"},
		{"/payments/" + pid + "/refunds", map[string]any{"reason": "ok reason"}, strings.Repeat("k", 300)},
		{"/riders/" + r.ID + "/balance-adjustments", map[string]any{"amount_minor": int64(-1) << 63, "currency": "EUR", "reason": "min int"}, "g"},
		{"/riders/" + r.ID + "/balance-adjustments", map[string]any{"amount_minor": 5, "currency": inj, "reason": "inj"}, "h"},
		{"/riders/" + r.ID + "/balance-adjustments", map[string]any{"amount_minor": 5, "currency": "EUR", "reason": "inj", "counter_account": inj}, "i"},
		{"/riders/" + inj + "/balance-adjustments", map[string]any{"amount_minor": 5, "currency": "EUR", "reason": "inj"}, "j"},
		{"/rides/" + strings.Repeat("r", 64) + "/refunds", map[string]any{"reason": "inj"}, "k"},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			res := e.adminPost(tok, strings.ReplaceAll(q.path, " ", "%20"), q.key, q.body)
			if res.Status >= 500 || res.Status < 400 || res.Code() == "" {
				t.Fatalf("%s: %d %s", q.path, res.Status, res.Body)
			}
		})
	}
	if res := e.admin.Do("GET", "/admin/v1/riders/"+r.ID+"/balance?currency=%27%3B--", tok, nil); res.Status != 422 {
		t.Fatalf("balance with a bad currency: %d %s", res.Status, res.Body)
	}
	if e.balance(r.ID) != 1000 || e.count(`SELECT count(*) FROM ledger_transactions`) != 1 {
		t.Fatal("a refused request moved money")
	}
	// SQL in a reason is just text: stored verbatim, harmless.
	if res := e.adminPost(tok, "/payments/"+pid+"/refunds", "a", map[string]any{"reason": inj, "amount_minor": 100}); res.Status != 201 {
		t.Fatalf("refund with an odd reason: %d %s", res.Status, res.Body)
	}
	if n := e.count(`SELECT count(*) FROM ledger_transactions WHERE kind = 'refund' AND description = $1`, inj); n != 1 || e.balance(r.ID) != 900 {
		t.Fatalf("reason stored %d times, balance %d", n, e.balance(r.ID))
	}
}
