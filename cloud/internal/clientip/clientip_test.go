package clientip

import (
	"net/netip"
	"testing"
)

func TestResolve(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name, remote, xff string
		trusted           []netip.Prefix
		want              string
	}{
		{"bad peer", "nonsense", "", trusted, "invalid IP"},
		{"untrusted peer ignores header", "203.0.113.9:1234", "198.51.100.1", trusted, "203.0.113.9"},
		{"no proxies configured", "10.1.1.1:1234", "198.51.100.1", nil, "10.1.1.1"},
		{"trusted peer without header", "10.1.1.1:1234", "", trusted, "10.1.1.1"},
		{"trusted peer", "10.1.1.1:1234", "198.51.100.1", trusted, "198.51.100.1"},
		{"right-most untrusted wins", "10.1.1.1:1234", "192.0.2.7, 198.51.100.1, 10.2.2.2", trusted, "198.51.100.1"},
		{"all trusted gives left-most", "10.1.1.1:1234", "10.3.3.3, 10.2.2.2", trusted, "10.3.3.3"},
		{"garbage stops the walk", "10.1.1.1:1234", "192.0.2.7, junk, 10.2.2.2", trusted, "10.2.2.2"},
		{"mapped peer unmapped", "[::ffff:10.1.1.1]:1234", "198.51.100.1", trusted, "198.51.100.1"},
		{"mapped entry unmapped", "10.1.1.1:1234", "::ffff:198.51.100.1", trusted, "198.51.100.1"},
		{"ipv6", "[fd00::1]:443", "2001:db8::5", trusted, "2001:db8::5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Resolve(tc.remote, tc.xff, tc.trusted).String(); got != tc.want {
				t.Errorf("Resolve(%q, %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
			}
		})
	}
}
