package problem

import (
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
