// Package riderapi owns the rider-facing HTTP API under /v1/ (huma v2, OpenAPI 3.1 served at
// /v1/openapi.json): sign-up, password login, token refresh, logout, OpenID Connect login
// (/v1/auth/oidc/{provider}/start, then /callback: GET for providers answering by redirect,
// POST with a form for response_mode form_post ones such as Sign in with Apple — see
// oidcform.go) and the rider's own account (/v1/me: GET, PATCH, DELETE; POST /v1/me/password).
//
// Errors are RFC 9457 problem+json (Problem) with a stable machine code in `code` and in the
// `type` URI (urn:fleetedge:problem:<code>): email_taken, invalid_credentials, locked,
// rate_limited, weak_password, invalid_request, token_invalid, token_reused, unauthorized,
// account_suspended, oidc_state_invalid, oidc_failed, oidc_denied, oidc_email_unverified,
// oidc_response_mode (405: the callback came by the other method), unknown_provider,
// provider_unavailable, not_found, internal. Domain errors become problems in one place
// (problemFor); huma's own errors (schema validation 422, body too large, …) are
// rewritten by a response transformer into the same shape. 429 responses carry Retry-After.
//
// Authentication: operations that declare Security BearerSecurity go through BearerAuth, which
// verifies the access token (authtoken) and puts the rider id in the request context
// (RiderID). Other rider APIs (rides, payments) reuse it by registering their operations on
// API.Huma() with the same Security.
//
// Defences on the credential endpoints (loginguard): per-IP token buckets on sign-up, login,
// refresh/logout and OIDC; per-account buckets and lockout with backoff on login, keyed by the
// normalised email whether or not an account exists. The client IP is the TCP peer, or the
// right-most X-Forwarded-For address not in Config.TrustedProxies when the peer is a trusted
// proxy; IPv6 clients are limited per /64.
//
// Enumeration: login, lockout, rate limits and response time say nothing about whether an
// email has an account (unknown emails verify a dummy hash and lock out like real ones).
// Sign-up does answer email_taken — a rider must be told — so the strict per-IP sign-up bucket
// is what keeps that channel slow.
//
// Nothing logged by this package contains a password, a token, a code or an email address.
package riderapi
