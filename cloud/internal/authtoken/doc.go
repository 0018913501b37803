// Package authtoken owns the rider API's credentials after login: short-lived JWT access tokens
// and opaque refresh tokens.
//
// Access tokens are JWTs signed with Ed25519 (alg EdDSA) and carry a `kid` header naming the
// signing key. A Keyset holds the current key, which signs, and older keys, which still verify:
// to rotate, add a new key and make it current, keep the old one for at least the access-token
// lifetime, then drop it. Tokens carry iss, aud, sub (the rider id), iat, exp and jti; Verify
// checks the algorithm (only EdDSA, so no "none" or HMAC confusion), the key id, the signature,
// issuer, audience and expiry against the injected clock. A Keyset is immutable and safe for
// concurrent use; so is an Issuer.
//
// Refresh tokens are 256 random bits, base64url without padding (43 characters). Only their
// SHA-256 is stored (rider_sessions.token_hash): a database leak reveals no usable token, and
// since the token is uniformly random a fast hash suffices (no password-style stretching).
package authtoken
