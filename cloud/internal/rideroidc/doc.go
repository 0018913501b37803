// Package rideroidc owns the relying-party side of rider login through OpenID Connect
// providers (Google, Apple, any standard provider by configuration): the authorization-code
// flow with PKCE (S256), state and nonce, and ID-token verification with go-oidc against the
// provider's discovery document and JWKS.
//
// Start makes a random state, nonce and PKCE verifier, puts them (with the provider name and an
// expiry, default 10 min) in a short-lived HttpOnly cookie signed with HMAC-SHA256 under
// Config.StateKey, and returns the provider's authorization URL. Finish requires that cookie:
// its signature and expiry, the provider name and the state parameter must match; it then
// exchanges the code with the verifier (so an intercepted or injected code is useless without
// this browser's cookie), verifies the ID token (signature by a key of the provider's JWKS,
// issuer, audience = our client id, expiry by the injected clock) and its nonce, and returns
// the identity. The cookie is not encrypted: it holds only one-time values for this browser,
// which the browser's owner may see.
//
// Response modes: a provider answers either by redirecting the browser to the callback with
// code and state in the query (ResponseModeQuery, a GET; the default) or with a page that
// POSTs them as a form (ResponseModeFormPost; Sign in with Apple). Finish refuses a callback
// that arrived the other way (ErrResponseMode). The state cookie is SameSite=Lax for query
// providers and SameSite=None; Secure for form_post ones, because browsers send only None
// cookies with a cross-site POST; why that stays safe is written at Login.cookie. Apple's
// first-login "user" form field supplies names the ID token lacks (never the email).
//
// Client authentication at the token endpoint: a static ClientSecret, or ClientSecretJWT —
// an ES256 JWT signed with the developer's key (team id, key id, client id), as Apple
// requires, signed on demand and cached until shortly before it expires. The method (HTTP
// Basic or form body) follows the provider's token_endpoint_auth_methods_supported.
//
// Provider discovery is lazy (first use), cached, and retried on failure, so an unreachable
// provider does not stop the cloud from starting. Errors never contain codes, tokens, keys or
// cookie values. A Login is safe for concurrent use.
package rideroidc
