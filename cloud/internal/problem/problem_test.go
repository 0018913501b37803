package problem

import (
	"encoding/json"
	"testing"
	"time"
)

func TestContentType(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"application/json", "application/problem+json"},
		{"application/cbor", "application/cbor"},
		{"", ""},
	} {
		if got := ContentType(tc.in); got != tc.want {
			t.Errorf("ContentType(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "1"},
		{0, "1"},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{1001 * time.Millisecond, "2"},
		{59*time.Second + time.Nanosecond, "60"},
		{time.Hour, "3600"},
	} {
		if got := RetryAfter(tc.d); got != tc.want {
			t.Errorf("RetryAfter(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	var p struct {
		Code string `json:"code"`
		Headers
	}
	p.Code = "locked"
	p.GetHeaders().Set("Retry-After", "3")
	if got := p.GetHeaders().Get("Retry-After"); got != "3" {
		t.Fatalf("Retry-After = %q, want 3", got)
	}
	b, err := json.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"code":"locked"}` {
		t.Fatalf("embedded Headers leaked into JSON: %s", b)
	}
}
