package clientip

import (
	"net/netip"
	"strings"
)

// Resolve returns the client address of a request from its peer address (host:port) and its
// X-Forwarded-For header, believing the header only as far as it was written by trusted
// proxies. It returns the zero Addr when remoteAddr is not an address:port.
func Resolve(remoteAddr, xff string, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if !isTrusted(trusted, ip) || xff == "" {
		return ip
	}
	parts := strings.Split(xff, ",")
	for i := len(parts) - 1; i >= 0; i-- {
		cand, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil {
			return ip
		}
		cand = cand.Unmap()
		if !isTrusted(trusted, cand) {
			return cand
		}
		ip = cand
	}
	return ip
}

func isTrusted(trusted []netip.Prefix, ip netip.Addr) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
