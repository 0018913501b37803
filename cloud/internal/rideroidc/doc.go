// Package rideroidc owns the relying-party side of rider login through OpenID Connect
// providers (Google, Apple, any standard provider by configuration): the authorization-code
// flow with PKCE (S256), state and nonce, and ID-token verification with go-oidc against the
// provider's discovery document and JWKS.
//
// Start makes a random state, nonce and PKCE verifier, puts them (with the provider name and an
// expiry, default 10 min) in a short-lived HttpOnly, SameSite=Lax cookie signed with
// HMAC-SHA256 under Config.StateKey, and returns the provider's authorization URL. Finish
// requires that cookie: its signature and expiry, the provider name and the state parameter
// must match; it then exchanges the code with the verifier (so an intercepted or injected code
// is useless without this browser's cookie), verifies the ID token (signature by a key of the
// provider's JWKS, issuer, audience = our client id, expiry by the injected clock) and its
// nonce, and returns the identity. The cookie is not encrypted: it holds only one-time values
// for this browser, which the browser's owner may see.
//
// Provider discovery is lazy (first use), cached, and retried on failure, so an unreachable
// provider does not stop the cloud from starting. Errors never contain codes, tokens or
// cookie values. A Login is safe for concurrent use.
package rideroidc
