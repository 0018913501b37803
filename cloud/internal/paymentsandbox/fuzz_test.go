package paymentsandbox_test

import (
	"errors"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/payments"
	"github.com/fleetedge/fleetedge/cloud/internal/paymentsandbox"
)

// FuzzParseEvent: any body either decodes into an event that passes the checks or is
// ErrMalformedEvent; never a panic.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","type":"charge.succeeded","created":1,"data":{"reference":"ch_1","payment_id":"11111111-2222-4333-8444-555555555555","amount":1000,"currency":"EUR"}}`))
	f.Add([]byte(`{"id":"evt_2","type":"refund.failed","data":{"reference":"re_1","payment_id":"11111111-2222-4333-8444-555555555555","amount":1,"currency":"USD","failure_code":"x"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := paymentsandbox.ParseEvent(body)
		if err != nil {
			if !errors.Is(err, payments.ErrMalformedEvent) {
				t.Fatalf("error %v is not ErrMalformedEvent", err)
			}
			return
		}
		if ev.ID == "" || ev.Amount <= 0 || len(ev.Currency) != 3 || len(ev.PaymentID) != 36 {
			t.Fatalf("accepted a bad event: %+v", ev)
		}
	})
}

// FuzzVerify: a forged header never verifies without the secret, and a signature made with
// the secret over the body always does.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add("t=1800000000,v1=00", []byte(`{}`))
	f.Add(paymentsandbox.Sign(secret, now, []byte(`{"a":1}`)), []byte(`{"a":1}`))
	f.Add("", []byte(nil))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := paymentsandbox.Verify([][]byte{secret}, header, body, now, time.Minute)
		if err == nil && header != paymentsandbox.Sign(secret, now, body) {
			// Only a correct HMAC over this body can pass (extra fields or spacing aside).
			if paymentsandbox.Verify([][]byte{secret2}, header, body, now, time.Minute) == nil {
				t.Fatalf("header %q verifies under two secrets", header)
			}
		}
		if err != nil && !errors.Is(err, payments.ErrBadSignature) {
			t.Fatalf("error %v is not ErrBadSignature", err)
		}
		if good := paymentsandbox.Sign(secret, now, body); paymentsandbox.Verify([][]byte{secret}, good, body, now, time.Minute) != nil {
			t.Fatal("a correct signature failed")
		}
	})
}
