// Package oidctest is a small but real OpenID Connect provider for tests: it listens on a
// loopback port (httptest), publishes discovery (/.well-known/openid-configuration) and a JWKS
// with a freshly generated ECDSA P-256 key, and implements the authorization-code flow with
// PKCE:
//
//   - GET /authorize checks client_id, redirect_uri (when registered), response_type=code and
//     an S256 code_challenge, "consents" for the configured user at once and answers the
//     redirect_uri with code and state — by redirect (response_mode query, the default) or,
//     with response_mode=form_post, by an auto-submitting HTML page whose form POSTs them
//     (ReadFormPost reads such a page the way a browser would);
//   - POST /token checks the client authentication (HTTP Basic or form, as
//     Config.TokenAuthMethods allow; a static secret, or an ES256 JWT client secret verified
//     against Config.ClientSecretJWT as Sign in with Apple does), the code (single use, 1 min,
//     same client and redirect_uri) and the PKCE verifier, and returns an ES256-signed ID
//     token with iss, aud, sub, exp, iat, nonce, email, email_verified, given_name and
//     family_name.
//
// Apple's habits are options: RequireFormPost, NamesInFormPost (no names in ID tokens; the
// first form_post authorization of a subject carries them in a "user" JSON field),
// EmailVerifiedAsString, TokenAuthMethods = client_secret_post only.
//
// Tests choose the user (SetUser) and can make the provider misbehave (SetTamper) to check
// that the relying party refuses a wrong nonce, an expired token, another audience or a
// signature by an unknown key. A Provider is safe for concurrent use; Close stops it.
package oidctest
