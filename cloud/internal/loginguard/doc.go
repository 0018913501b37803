// Package loginguard owns the in-memory defences of the rider API's credential endpoints
// against credential stuffing and brute force: token-bucket rate limits and an account lockout
// with exponential backoff.
//
// Policy (defaults, configurable; see DefaultPolicy):
//   - per client IP (the rider API keys IPv6 clients by /64): login 10 attempts/min (burst
//     10), sign-up 5/min (burst 5), token refresh and logout 60/min (burst 30, a carrier NAT
//     hides many riders), also used by OIDC start; the OIDC callback shares the login bucket;
//   - per account (normalised email): login 5 attempts/min (burst 5), whether or not the
//     account exists, so the limit itself reveals nothing;
//   - lockout: after 5 consecutive failed logins for an email, further logins (even with the
//     right password) are refused for 1 min, doubling with each further failure up to 1 h; a
//     successful login resets the count; counts are forgotten after 24 h without failure.
//
// Every refusal says how long to wait (Retry-After). State is per process: with N API
// replicas an attacker gets at most N times the budget (acceptable for the lockout's purpose;
// a shared store can replace this behind the same methods). Memory is bounded: each limiter
// keeps at most MaxKeys entries, sweeping idle ones first and then dropping arbitrary ones —
// under a flood of distinct keys the limits weaken rather than lock every rider out.
//
// Limiter and Lockout are safe for concurrent use; one mutex each guards its map.
package loginguard
