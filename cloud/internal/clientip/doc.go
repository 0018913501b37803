// Package clientip owns how the cloud's HTTP APIs decide a request's client address behind
// trusted load balancers: the TCP peer, or, when the peer is a trusted proxy, the right-most
// X-Forwarded-For entry that is not a trusted proxy. An entry that does not parse stops the
// walk (everything left of it could be forged), and IPv4-mapped IPv6 addresses are unmapped.
package clientip
