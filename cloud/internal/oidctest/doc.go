// Package oidctest is a small but real OpenID Connect provider for tests: it listens on a
// loopback port (httptest), publishes discovery (/.well-known/openid-configuration) and a JWKS
// with a freshly generated ECDSA P-256 key, and implements the authorization-code flow with
// PKCE:
//
//   - GET /authorize checks client_id, redirect_uri (when registered), response_type=code and
//     an S256 code_challenge, "consents" for the configured user at once and redirects to
//     redirect_uri with code and state;
//   - POST /token checks the client secret (HTTP Basic or form), the code (single use, 1 min,
//     same client and redirect_uri) and the PKCE verifier, and returns an ES256-signed ID
//     token with iss, aud, sub, exp, iat, nonce, email, email_verified, given_name and
//     family_name.
//
// Tests choose the user (SetUser) and can make the provider misbehave (SetTamper) to check
// that the relying party refuses a wrong nonce, an expired token, another audience or a
// signature by an unknown key. A Provider is safe for concurrent use; Close stops it.
package oidctest
