package paymentsandbox_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/payments"
	"github.com/fleetedge/fleetedge/cloud/internal/payments/providertest"
	"github.com/fleetedge/fleetedge/cloud/internal/paymentsandbox"
)

var (
	secret  = bytes.Repeat([]byte("s"), 32)
	secret2 = bytes.Repeat([]byte("t"), 32)
)

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	good := paymentsandbox.Sign(secret, now, body)
	tests := []struct {
		name    string
		secrets [][]byte
		header  string
		body    []byte
		at      time.Time
		ok      bool
	}{
		{"valid", [][]byte{secret}, good, body, now, true},
		{"valid during rotation", [][]byte{secret2, secret}, good, body, now, true},
		{"within tolerance", [][]byte{secret}, good, body, now.Add(4 * time.Minute), true},
		{"tampered body", [][]byte{secret}, good, []byte(`{"id":"evt_2"}`), now, false},
		{"other secret", [][]byte{secret2}, good, body, now, false},
		{"stale", [][]byte{secret}, good, body, now.Add(6 * time.Minute), false},
		{"from the future", [][]byte{secret}, good, body, now.Add(-6 * time.Minute), false},
		{"missing", [][]byte{secret}, "", body, now, false},
		{"no v1", [][]byte{secret}, "t=1800000000", body, now, false},
		{"no t", [][]byte{secret}, good[len("t=1800000000,"):], body, now, false},
		{"garbage", [][]byte{secret}, "'; DROP TABLE payments; --", body, now, false},
		{"short v1", [][]byte{secret}, "t=1800000000,v1=abcd", body, now, false},
		{"huge", [][]byte{secret}, string(bytes.Repeat([]byte("v1=00,"), 1000)), body, now, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := paymentsandbox.Verify(tc.secrets, tc.header, tc.body, tc.at, paymentsandbox.DefaultTolerance)
			if tc.ok != (err == nil) {
				t.Fatalf("Verify = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, payments.ErrBadSignature) {
				t.Fatalf("error %v does not wrap ErrBadSignature", err)
			}
		})
	}
}

// receiver is an HTTP webhook endpoint that verifies signatures like the cloud does.
type receiver struct {
	mu     sync.Mutex
	events []payments.Event
	bad    int
	fail   int // answer 500 to this many deliveries first
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		w.WriteHeader(500)
		return
	}
	if err := paymentsandbox.Verify([][]byte{secret}, req.Header.Get(paymentsandbox.SignatureHeader), body, time.Now(), time.Minute); err != nil {
		r.bad++
		w.WriteHeader(401)
		return
	}
	ev, err := paymentsandbox.ParseEvent(body)
	if err != nil {
		r.bad++
		w.WriteHeader(400)
		return
	}
	r.events = append(r.events, ev)
}

func (r *receiver) got() []payments.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]payments.Event(nil), r.events...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const pid = "11111111-2222-4333-8444-555555555555"

func TestChargesRefundsAndSignedWebhooks(t *testing.T) {
	t.Parallel()
	rcv := &receiver{fail: 1} // the first delivery is retried
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	sb, err := paymentsandbox.New(paymentsandbox.Config{Secrets: [][]byte{secret}, WebhookURL: srv.URL, PendingDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ctx := t.Context()

	if _, err := sb.DescribeMethod(ctx, "4242424242424242"); !errors.Is(err, payments.ErrInvalidToken) {
		t.Fatalf("a card number is not a token: %v", err)
	}
	mi, err := sb.DescribeMethod(ctx, paymentsandbox.TokenVisa)
	if err != nil || mi.Label != "Visa ending 4242" || mi.Kind != payments.KindCard {
		t.Fatalf("describe = %+v, %v", mi, err)
	}
	tests := []struct {
		token string
		now   payments.Outcome
		event payments.EventType
	}{
		{paymentsandbox.TokenVisa, payments.OutcomeSucceeded, payments.ChargeSucceeded},
		{paymentsandbox.TokenDeclined, payments.OutcomeFailed, payments.ChargeFailed},
		{paymentsandbox.TokenPending, payments.OutcomePending, payments.ChargeSucceeded},
		{paymentsandbox.TokenPendingDeclined, payments.OutcomePending, payments.ChargeFailed},
	}
	refs := map[string]string{}
	for i, tc := range tests {
		key := "key-" + tc.token
		res, err := sb.Charge(ctx, payments.ChargeRequest{PaymentID: pid, IdempotencyKey: key, Amount: int64(100 + i), Currency: "EUR", MethodToken: tc.token})
		if err != nil || res.Outcome != tc.now || res.Reference == "" {
			t.Fatalf("%s: charge = %+v, %v", tc.token, res, err)
		}
		again, err := sb.Charge(ctx, payments.ChargeRequest{PaymentID: pid, IdempotencyKey: key, Amount: int64(100 + i), Currency: "EUR", MethodToken: tc.token})
		if err != nil || again != res {
			t.Fatalf("%s: repeated charge = %+v, %v; want %+v", tc.token, again, err, res)
		}
		refs[tc.token] = res.Reference
	}
	if sb.Charges() != len(tests) {
		t.Fatalf("charges = %d", sb.Charges())
	}
	waitFor(t, "four charge webhooks", func() bool { return len(rcv.got()) == 4 })
	byRef := map[string]payments.EventType{}
	for _, ev := range rcv.got() {
		byRef[ev.Reference] = ev.Type
		if ev.PaymentID != pid {
			t.Errorf("event %+v lacks the payment id", ev)
		}
	}
	for _, tc := range tests {
		if byRef[refs[tc.token]] != tc.event {
			t.Errorf("%s: webhook %q, want %q", tc.token, byRef[refs[tc.token]], tc.event)
		}
	}
	// Refunds: partial, then too much, idempotent by key.
	r1, err := sb.Refund(ctx, payments.RefundRequest{RefundID: pid, IdempotencyKey: "r1", ChargeReference: refs[paymentsandbox.TokenVisa], Amount: 60, Currency: "EUR"})
	if err != nil || r1.Outcome != payments.OutcomeSucceeded {
		t.Fatalf("refund = %+v %v", r1, err)
	}
	if again, _ := sb.Refund(ctx, payments.RefundRequest{RefundID: pid, IdempotencyKey: "r1", ChargeReference: refs[paymentsandbox.TokenVisa], Amount: 60, Currency: "EUR"}); again != r1 {
		t.Fatalf("repeated refund = %+v", again)
	}
	r2, err := sb.Refund(ctx, payments.RefundRequest{RefundID: pid, IdempotencyKey: "r2", ChargeReference: refs[paymentsandbox.TokenVisa], Amount: 41, Currency: "EUR"})
	if err != nil || r2.Outcome != payments.OutcomeFailed || r2.FailureCode != "amount_too_large" {
		t.Fatalf("refund beyond the charge = %+v %v", r2, err)
	}
	if _, err := sb.Refund(ctx, payments.RefundRequest{RefundID: pid, IdempotencyKey: "r3", ChargeReference: refs[paymentsandbox.TokenDeclined], Amount: 1, Currency: "EUR"}); err == nil {
		t.Fatal("refund of a declined charge accepted")
	}
	waitFor(t, "refund webhooks", func() bool { return len(rcv.got()) == 6 })
	// A redelivery carries the same event id, freshly signed.
	evs := sb.Events()
	st, err := sb.Redeliver(ctx, evs[0].ID)
	if err != nil || st != 200 {
		t.Fatalf("redeliver: %d %v", st, err)
	}
	if got := rcv.got(); got[len(got)-1].ID != evs[0].ID {
		t.Fatalf("redelivered %s, want %s", got[len(got)-1].ID, evs[0].ID)
	}
	if rcv.bad != 0 {
		t.Fatalf("%d deliveries failed verification", rcv.bad)
	}
}

func TestCloseStopsPendingDeliveries(t *testing.T) {
	t.Parallel()
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	sb, err := paymentsandbox.New(paymentsandbox.Config{Secrets: [][]byte{secret}, WebhookURL: srv.URL, PendingDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Charge(t.Context(), payments.ChargeRequest{PaymentID: pid, IdempotencyKey: "k", Amount: 1, Currency: "EUR", MethodToken: paymentsandbox.TokenPending}); err != nil {
		t.Fatal(err)
	}
	sb.Close() // returns without waiting an hour
	if len(rcv.got()) != 0 {
		t.Fatal("pending event delivered before its delay")
	}
	if _, err := paymentsandbox.New(paymentsandbox.Config{Secrets: [][]byte{[]byte("short")}}); err == nil {
		t.Fatal("short secret accepted")
	}
}

func TestParseEventRejectsMalformed(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		``, `[]`, `{"id":"e","type":"charge.succeeded","data":{"reference":"r","payment_id":"x","amount":1,"currency":"EUR"}}`,
		`{"id":"e","type":"charge.stolen","data":{"reference":"r","payment_id":"` + pid + `","amount":1,"currency":"EUR"}}`,
		`{"id":"e","type":"charge.succeeded","data":{"reference":"r","payment_id":"` + pid + `","amount":-1,"currency":"EUR"}}`,
		`{"id":"e' OR 1=1","type":"charge.succeeded","data":{"reference":"r","payment_id":"` + pid + `","amount":1,"currency":"EUR"}}`,
	} {
		if _, err := paymentsandbox.ParseEvent([]byte(body)); !errors.Is(err, payments.ErrMalformedEvent) {
			t.Errorf("ParseEvent(%s) = %v", body, err)
		}
	}
}

func TestProviderContract(t *testing.T) {
	t.Parallel()
	sb, err := paymentsandbox.New(paymentsandbox.Config{Secrets: [][]byte{secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	providertest.Run(t, sb, providertest.Tokens{Succeeds: paymentsandbox.TokenVisa, Declines: paymentsandbox.TokenDeclined})
}
