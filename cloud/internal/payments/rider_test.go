package payments_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fleetedge/fleetedge/cloud/internal/payments"
	"github.com/fleetedge/fleetedge/cloud/internal/paymentsandbox"
)

func TestTopUpCreditsTheBalanceOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.rider.SignUp("")
	m := e.addMethod(r, paymentsandbox.TokenVisa)
	if m.Label != "Visa ending 4242" || !m.IsDefault || m.Kind != "card" {
		t.Fatalf("method = %+v", m)
	}
	// The token is stored sealed: not as plain text anywhere in the row.
	var sealed []byte
	if err := e.admin.DB.Pool.QueryRow(t.Context(), `SELECT token_ciphertext FROM payment_methods WHERE id = $1`, m.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(paymentsandbox.TokenVisa)) || len(sealed) < 29 {
		t.Fatalf("token stored in the clear: %q", sealed)
	}

	res := e.topUp(r, "k1", map[string]any{"amount_minor": 1000, "currency": "EUR"})
	if res.Status != 201 {
		t.Fatalf("top-up: %d %s", res.Status, res.Body)
	}
	var p payments.PaymentBody
	res.JSON(t, &p)
	if p.Status != "succeeded" || p.AmountMinor != 1000 || p.PaymentMethodID != m.ID || p.ProviderReference == "" {
		t.Fatalf("payment = %+v", p)
	}
	bal := e.rider.Do("GET", "/v1/balance", r.Token, nil, nil)
	var b payments.BalanceBody
	bal.JSON(t, &b)
	if bal.Status != 200 || b.BalanceMinor != 1000 || b.Currency != "EUR" {
		t.Fatalf("balance: %d %s", bal.Status, bal.Body)
	}
	// The provider's charge.succeeded webhook arrives over HTTP (racing the synchronous
	// answer: whichever is first settles the payment) and credits nothing more.
	waitFor(t, "the webhook", func() bool {
		return e.count(`SELECT count(*) FROM payment_webhook_events WHERE payment_id = $1 AND outcome IN ('applied', 'unchanged')`, p.ID) == 1
	})
	if got := e.balance(r.ID); got != 1000 {
		t.Fatalf("balance after webhook = %d", got)
	}
	if n := e.count(`SELECT count(*) FROM ledger_transactions WHERE kind = 'top_up' AND payment_id = $1`, p.ID); n != 1 {
		t.Fatalf("%d top_up transactions", n)
	}
	// History shows it.
	h := e.rider.Do("GET", "/v1/payments", r.Token, nil, nil)
	var page payments.PaymentPageBody
	h.JSON(t, &page)
	if h.Status != 200 || len(page.Payments) != 1 || page.Payments[0].ID != p.ID {
		t.Fatalf("history: %d %s", h.Status, h.Body)
	}
	if g := e.rider.Do("GET", "/v1/payments/"+p.ID, r.Token, nil, nil); g.Status != 200 {
		t.Fatalf("get payment: %d %s", g.Status, g.Body)
	}
	// Another rider sees neither the payment nor the balance.
	other := e.rider.SignUp("")
	if g := e.rider.Do("GET", "/v1/payments/"+p.ID, other.Token, nil, nil); g.Status != 404 {
		t.Fatalf("other rider's payment: %d %s", g.Status, g.Body)
	}
	if g := e.rider.Do("GET", "/v1/balance", "", nil, nil); g.Status != 401 {
		t.Fatalf("balance without token: %d", g.Status)
	}
}

func TestIdempotencyKeyOnTopUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.rider.SignUp("")
	e.addMethod(r, paymentsandbox.TokenVisa)
	body := map[string]any{"amount_minor": 1500, "currency": "EUR"}

	if res := e.topUp(r, "", body); res.Status != 400 || res.Code() != payments.CodeIdempotencyKeyRequired {
		t.Fatalf("no key: %d %s", res.Status, res.Body)
	}
	if res := e.topUp(r, "bad key", body); res.Status != 400 || res.Code() != payments.CodeIdempotencyKeyRequired {
		t.Fatalf("bad key: %d %s", res.Status, res.Body)
	}
	first := e.topUp(r, "same", body)
	second := e.topUp(r, "same", body)
	if first.Status != 201 || second.Status != 201 || !bytes.Equal(first.Body, second.Body) {
		t.Fatalf("retry differs:\n%d %s\n%d %s", first.Status, first.Body, second.Status, second.Body)
	}
	if res := e.topUp(r, "same", map[string]any{"amount_minor": 2000, "currency": "EUR"}); res.Status != 422 || res.Code() != payments.CodeIdempotencyKeyReused {
		t.Fatalf("other body, same key: %d %s", res.Status, res.Body)
	}
	if e.sb.Charges() != 1 || e.balance(r.ID) != 1500 {
		t.Fatalf("charges = %d, balance = %d; want 1 and 1500", e.sb.Charges(), e.balance(r.ID))
	}
	// The same key of another rider is another key.
	r2 := e.rider.SignUp("")
	e.addMethod(r2, paymentsandbox.TokenVisa)
	if res := e.topUp(r2, "same", body); res.Status != 201 {
		t.Fatalf("other rider, same key: %d %s", res.Status, res.Body)
	}
	// Concurrent retries of one new key: one charge; the others get the stored answer or 409.
	var wg sync.WaitGroup
	statuses := make(chan int, 6)
	for range 6 {
		wg.Go(func() { statuses <- e.topUp(r, "race", body).Status })
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != 201 && st != 409 {
			t.Errorf("concurrent retry answered %d", st)
		}
	}
	if e.sb.Charges() != 3 || e.balance(r.ID) != 3000 {
		t.Fatalf("after the race: charges = %d, balance = %d; want 3 and 3000", e.sb.Charges(), e.balance(r.ID))
	}
}

func TestDeclinedCardCreditsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.rider.SignUp("")
	for _, tok := range []string{paymentsandbox.TokenDeclined, paymentsandbox.TokenInsufficientFunds} {
		t.Run(tok, func(t *testing.T) {
			m := e.addMethod(r, tok)
			body := map[string]any{"amount_minor": 1000, "currency": "EUR", "payment_method_id": m.ID}
			res := e.topUp(r, "k-"+tok, body)
			if res.Status != 402 || res.Code() != payments.CodePaymentDeclined {
				t.Fatalf("declined: %d %s", res.Status, res.Body)
			}
			again := e.topUp(r, "k-"+tok, body)
			if again.Status != 402 || !bytes.Equal(again.Body, res.Body) {
				t.Fatalf("retry of a decline: %d %s", again.Status, again.Body)
			}
		})
	}
	waitFor(t, "the failure webhooks", func() bool { return e.count(`SELECT count(*) FROM payment_webhook_events`) == 2 })
	if n := e.count(`SELECT count(*) FROM ledger_entries`); n != 0 || e.balance(r.ID) != 0 {
		t.Fatalf("a declined card left %d ledger entries, balance %d", n, e.balance(r.ID))
	}
	if n := e.count(`SELECT count(*) FROM payments WHERE status = 'failed' AND failure_reason LIKE '%declined%'`); n != 1 {
		t.Fatalf("failed payments with reason: %d", n)
	}
	if e.sb.Charges() != 2 {
		t.Fatalf("charges = %d", e.sb.Charges())
	}
}

func TestPendingSettledByWebhookAndDuplicatesChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.rider.SignUp("")
	m := e.addMethod(r, paymentsandbox.TokenPending)
	res := e.topUp(r, "p1", map[string]any{"amount_minor": 700, "currency": "EUR", "payment_method_id": m.ID})
	if res.Status != 202 {
		t.Fatalf("pending top-up: %d %s", res.Status, res.Body)
	}
	var p payments.PaymentBody
	res.JSON(t, &p)
	if p.Status != "pending" || e.balance(r.ID) != 0 {
		t.Fatalf("pending: %+v balance %d", p, e.balance(r.ID))
	}
	waitFor(t, "the settling webhook", func() bool { return e.payment(p.ID).Status == payments.StatusSucceeded })
	if e.balance(r.ID) != 700 {
		t.Fatalf("balance = %d", e.balance(r.ID))
	}
	// The provider delivers the same event again, twice at once: nothing changes.
	evs := e.sb.Events()
	ev := evs[len(evs)-1]
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if st, err := e.sb.Redeliver(t.Context(), ev.ID); err != nil || st != 200 {
				t.Errorf("redeliver: %d %v", st, err)
			}
		})
	}
	wg.Wait()
	st, out := e.postWebhook("sandbox", ev.Body, paymentsandbox.Sign(webhookSecret, time.Now(), ev.Body))
	if st != 200 || out != string(payments.WebhookDuplicate) {
		t.Fatalf("duplicate: %d %s", st, out)
	}
	if e.balance(r.ID) != 700 || e.count(`SELECT count(*) FROM ledger_transactions`) != 1 ||
		e.count(`SELECT count(*) FROM payment_webhook_events WHERE event_id = $1`, ev.ID) != 1 {
		t.Fatalf("a duplicate webhook changed something: balance %d", e.balance(r.ID))
	}
	// A pending charge the provider then declines: failed, no ledger entry.
	m2 := e.addMethod(r, paymentsandbox.TokenPendingDeclined)
	res = e.topUp(r, "p2", map[string]any{"amount_minor": 300, "currency": "EUR", "payment_method_id": m2.ID})
	res.JSON(t, &p)
	if res.Status != 202 {
		t.Fatalf("pending: %d %s", res.Status, res.Body)
	}
	waitFor(t, "the failing webhook", func() bool { return e.payment(p.ID).Status == payments.StatusFailed })
	if e.balance(r.ID) != 700 {
		t.Fatalf("balance = %d after a failed pending charge", e.balance(r.ID))
	}
}

// pendingPayment inserts a pending sandbox top-up directly (no provider call, no webhook).
func (e *env) pendingPayment(riderID string, amount int64) string {
	e.t.Helper()
	id := uuid.NewString()
	if _, err := e.admin.DB.Pool.Exec(e.t.Context(), `INSERT INTO payments (id, rider_id, method, purpose, amount_minor, currency, provider)
		VALUES ($1, $2, 'card', 'top_up', $3, 'EUR', 'sandbox')`, id, riderID, amount); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func event(id, typ, paymentID string, amount int64, currency string) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "type": typ, "created": time.Now().Unix(),
		"data": map[string]any{"reference": "ch_" + id, "payment_id": paymentID, "amount": amount, "currency": currency}})
	return b
}

func TestWebhookSignatureAndMatching(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.rider.SignUp("")
	pid := e.pendingPayment(r.ID, 500)
	body := event("evt_a", "charge.succeeded", pid, 500, "EUR")
	now := time.Now()
	wrong := bytes.Repeat([]byte("x"), 32)
	tests := []struct {
		name, provider string
		body           []byte
		sig            string
		status         int
		code           string
	}{
		{"no signature", "sandbox", body, "", 401, payments.CodeInvalidSignature},
		{"wrong secret", "sandbox", body, paymentsandbox.Sign(wrong, now, body), 401, payments.CodeInvalidSignature},
		{"stale", "sandbox", body, paymentsandbox.Sign(webhookSecret, now.Add(-time.Hour), body), 401, payments.CodeInvalidSignature},
		{"signature of another body", "sandbox", body, paymentsandbox.Sign(webhookSecret, now, event("evt_a", "charge.succeeded", pid, 50000, "EUR")), 401, payments.CodeInvalidSignature},
		{"garbage signature", "sandbox", body, "t=1,v1=' OR 1=1 --", 401, payments.CodeInvalidSignature},
		{"unknown provider", "stripe", body, paymentsandbox.Sign(webhookSecret, now, body), 404, payments.CodeUnknownProvider},
		{"provider name injection", "sandbox'%20OR%201=1", body, paymentsandbox.Sign(webhookSecret, now, body), 404, payments.CodeUnknownProvider},
		{"signed but malformed", "sandbox", []byte(`{"id":"x"}`), paymentsandbox.Sign(webhookSecret, now, []byte(`{"id":"x"}`)), 400, payments.CodeMalformedEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, code := e.postWebhook(tc.provider, tc.body, tc.sig)
			if st != tc.status || code != tc.code {
				t.Fatalf("got %d %s, want %d %s", st, code, tc.status, tc.code)
			}
		})
	}
	if p := e.payment(pid); p.Status != payments.StatusPending || e.balance(r.ID) != 0 || e.count(`SELECT count(*) FROM payment_webhook_events`) != 0 {
		t.Fatalf("a refused webhook changed something: %+v", p)
	}
	// Signed events that do not match their payment are recorded as ignored and change nothing.
	for i, b := range [][]byte{
		event("evt_amount", "charge.succeeded", pid, 50000, "EUR"),
		event("evt_currency", "charge.succeeded", pid, 500, "USD"),
		event("evt_refund_type", "refund.succeeded", pid, 500, "EUR"),
		event("evt_unknown", "charge.succeeded", uuid.NewString(), 500, "EUR"),
	} {
		if st, out := e.postWebhook("sandbox", b, paymentsandbox.Sign(webhookSecret, now, b)); st != 200 || out != "ignored" {
			t.Fatalf("mismatch %d: %d %s", i, st, out)
		}
	}
	if p := e.payment(pid); p.Status != payments.StatusPending || e.balance(r.ID) != 0 {
		t.Fatalf("a mismatching webhook changed the payment: %+v", p)
	}
	// The right one applies, once.
	if st, out := e.postWebhook("sandbox", body, paymentsandbox.Sign(webhookSecret, now, body)); st != 200 || out != "applied" {
		t.Fatalf("valid: %d %s", st, out)
	}
	if st, out := e.postWebhook("sandbox", body, paymentsandbox.Sign(webhookSecret, now, body)); st != 200 || out != "duplicate" {
		t.Fatalf("again: %d %s", st, out)
	}
	// A contradicting later event (failed after succeeded) never overwrites the final state.
	fail := event("evt_b", "charge.failed", pid, 500, "EUR")
	var tmp map[string]any
	_ = json.Unmarshal(fail, &tmp)
	tmp["data"].(map[string]any)["reference"] = "ch_evt_a"
	fail, _ = json.Marshal(tmp)
	if st, out := e.postWebhook("sandbox", fail, paymentsandbox.Sign(webhookSecret, now, fail)); st != 200 || out != "unchanged" {
		t.Fatalf("contradiction: %d %s", st, out)
	}
	if p := e.payment(pid); p.Status != payments.StatusSucceeded || e.balance(r.ID) != 500 {
		t.Fatalf("final: %+v balance %d", p, e.balance(r.ID))
	}
}

func TestPaymentMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.rider.SignUp("")
	other := e.rider.SignUp("")
	if has, err := payments.HasActiveMethod(t.Context(), e.admin.DB.Pool, r.ID); err != nil || has {
		t.Fatalf("HasActiveMethod before adding = %v, %v", has, err)
	}
	visa := e.addMethod(r, paymentsandbox.TokenVisa)
	mc := e.addMethod(r, paymentsandbox.TokenMastercard)
	if has, err := payments.HasActiveMethod(t.Context(), e.admin.DB.Pool, r.ID); err != nil || !has {
		t.Fatalf("HasActiveMethod = %v, %v", has, err)
	}
	if mc.IsDefault {
		t.Fatal("second method became default without asking")
	}
	res := e.rider.Do("POST", "/v1/payment-methods", r.Token, map[string]any{"token": "4242424242424242"}, nil)
	if res.Status != 422 || res.Code() != payments.CodeInvalidPaymentMethod {
		t.Fatalf("card number as token: %d %s", res.Status, res.Body)
	}
	list := func(rd string) []payments.MethodBody {
		res := e.rider.Do("GET", "/v1/payment-methods", rd, nil, nil)
		var out struct{ Methods []payments.MethodBody }
		res.JSON(t, &out)
		return out.Methods
	}
	if ms := list(r.Token); len(ms) != 2 || ms[0].ID != visa.ID {
		t.Fatalf("list = %+v", ms)
	}
	if ms := list(other.Token); len(ms) != 0 {
		t.Fatalf("another rider sees %d methods", len(ms))
	}
	// Another rider can neither remove nor charge it.
	if res := e.rider.Do("DELETE", "/v1/payment-methods/"+visa.ID, other.Token, nil, nil); res.Status != 404 {
		t.Fatalf("other rider removes: %d", res.Status)
	}
	res = e.topUp(other, "x", map[string]any{"amount_minor": 1000, "currency": "EUR", "payment_method_id": visa.ID})
	if res.Status != 404 || res.Code() != payments.CodePaymentMethodNotFound {
		t.Fatalf("other rider charges: %d %s", res.Status, res.Body)
	}
	if res := e.rider.Do("DELETE", "/v1/payment-methods/"+visa.ID, r.Token, nil, nil); res.Status != 204 {
		t.Fatalf("remove: %d %s", res.Status, res.Body)
	}
	if ms := list(r.Token); len(ms) != 1 || ms[0].ID != mc.ID || !ms[0].IsDefault {
		t.Fatalf("after removing the default: %+v", ms)
	}
	if res := e.rider.Do("DELETE", "/v1/payment-methods/"+visa.ID, r.Token, nil, nil); res.Status != 404 {
		t.Fatalf("remove twice: %d", res.Status)
	}
	res = e.topUp(r, "y", map[string]any{"amount_minor": 1000, "currency": "EUR", "payment_method_id": visa.ID})
	if res.Status != 404 {
		t.Fatalf("charge a removed method: %d %s", res.Status, res.Body)
	}
	// The key of a refused request is released: the same key works once the request is fixed.
	if res := e.topUp(r, "y", map[string]any{"amount_minor": 1000, "currency": "EUR", "payment_method_id": mc.ID}); res.Status != 201 {
		t.Fatalf("reuse of a released key: %d %s", res.Status, res.Body)
	}
	// Too many methods.
	for i := 0; i < 9; i++ {
		e.addMethod(other, paymentsandbox.TokenVisa)
	}
	e.addMethod(other, paymentsandbox.TokenVisa)
	res = e.rider.Do("POST", "/v1/payment-methods", other.Token, map[string]any{"token": paymentsandbox.TokenVisa}, nil)
	if res.Status != 409 || res.Code() != payments.CodeTooManyPaymentMethods {
		t.Fatalf("11th method: %d %s", res.Status, res.Body)
	}
}

// Hostile and oversized inputs on every field are refused or harmless, never a 500.
func TestHostileInputsNever500(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.rider.SignUp("")
	m := e.addMethod(r, paymentsandbox.TokenVisa)
	inj := "'; DROP TABLE payments; --"
	big := strings.Repeat("A", 20_000)
	type req struct {
		method, path string
		body         any
		key          string
	}
	reqs := []req{
		{"POST", "/v1/payment-methods", map[string]any{"token": inj}, ""},
		{"POST", "/v1/payment-methods", map[string]any{"token": big}, ""},
		{"POST", "/v1/payment-methods", map[string]any{"token": "tok\x00visa"}, ""},
		{"POST", "/v1/payment-methods", `{"token":`, ""},
		{"POST", "/v1/payment-methods", map[string]any{"token": 42}, ""},
		{"DELETE", "/v1/payment-methods/" + "x'%20OR%20'1'='1", nil, ""},
		{"DELETE", "/v1/payment-methods/" + strings.Repeat("9", 300), nil, ""},
		{"GET", "/v1/payments/" + "1%20OR%201=1", nil, ""},
		{"GET", "/v1/payments?cursor=" + "pc1_%27%3B--", nil, ""},
		{"GET", "/v1/payments?cursor=" + strings.Repeat("z", 150), nil, ""},
		{"GET", "/v1/payments?limit=-1", nil, ""},
		{"GET", "/v1/payments?limit=100000", nil, ""},
		{"GET", "/v1/balance?currency=" + "EU'", nil, ""},
		{"GET", "/v1/balance?currency=eur", nil, ""},
		{"POST", "/v1/top-ups", map[string]any{"amount_minor": 1000, "currency": "EUR", "payment_method_id": inj}, "h1"},
		{"POST", "/v1/top-ups", map[string]any{"amount_minor": 1000, "currency": inj, "payment_method_id": m.ID}, "h2"},
		{"POST", "/v1/top-ups", map[string]any{"amount_minor": -1000, "currency": "EUR", "payment_method_id": m.ID}, "h3"},
		{"POST", "/v1/top-ups", map[string]any{"amount_minor": int64(1) << 62, "currency": "EUR", "payment_method_id": m.ID}, "h4"},
		{"POST", "/v1/top-ups", map[string]any{"amount_minor": 1e30, "currency": "EUR", "payment_method_id": m.ID}, "h5"},
		{"POST", "/v1/top-ups", map[string]any{"amount_minor": 1000, "currency": "JPY", "payment_method_id": m.ID}, "h6"},
		{"POST", "/v1/top-ups", map[string]any{"amount_minor": 1000, "currency": "EUR", "payment_method_id": m.ID}, strings.Repeat("k", 300)},
		{"POST", "/v1/top-ups", map[string]any{"amount_minor": 1000, "currency": "EUR", "payment_method_id": m.ID}, inj},
		{"POST", "/v1/top-ups", big, "h7"},
		{"POST", "/v1/payments/webhooks/sandbox", big, ""},
		{"POST", "/v1/payments/webhooks/" + strings.Repeat("p", 100), "{}", ""},
	}
	for i, q := range reqs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			h := map[string]string{}
			if q.key != "" {
				h["Idempotency-Key"] = q.key
			}
			res := e.rider.Do(q.method, q.path, r.Token, q.body, h)
			if res.Status >= 500 || res.Status < 400 {
				t.Fatalf("%s %s: %d %s", q.method, q.path, res.Status, res.Body)
			}
			if res.Code() == "" {
				t.Fatalf("%s %s: %d without a problem code: %s", q.method, q.path, res.Status, res.Body)
			}
		})
	}
	if e.count(`SELECT count(*) FROM payments`) != 0 || e.sb.Charges() != 0 {
		t.Fatal("a refused request charged")
	}
}
