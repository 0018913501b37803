// Package account owns rider accounts: sign-up, password login, refresh-token sessions,
// profiles, account deletion and login through an external OpenID Connect identity. It holds
// the domain rules; storage is the Store interface (implemented by accountpg), tokens come from
// authtoken, phone numbers are sealed with fieldcrypt.
//
// Inputs are parsed once at the edge (ParseEmail, ParseName, ParsePhone, CheckPassword):
//   - email: trimmed, Unicode NFC, lower-cased, at most 254 bytes, one "@", a local part of at
//     most 64 bytes without spaces, quotes or brackets, a domain of at least two labels of
//     letters, digits and inner hyphens. Riders are unique by this normalised email (and the
//     database's unique index on lower(email) backs it up against races).
//   - password: NFC-normalised, 10 to 128 characters (and at most 512 bytes), not one repeated
//     character, not a run like "0123456789" or "abcdefghij", not one of a short list of the
//     most common passwords, not containing the email's local part. Nothing else is imposed
//     (NIST SP 800-63B: length over composition rules).
//   - names: trimmed, NFC, 1–100 characters, no control characters; phone: E.164 after
//     removing spaces, dots, dashes and parentheses ("+" and 8–15 digits).
//
// Passwords are hashed with argon2id (Hasher, PHC string format). Default parameters:
// m = 64 MiB, t = 3 passes, p = 2 lanes, 16-byte salt, 32-byte key: RFC 9106's second
// recommended setting (m = 64 MiB, t = 3) with two lanes for a 2-core machine, well above
// OWASP's minimum (m = 19 MiB, t = 2, p = 1). Measured on the 2-core development machine at
// 0.12 s per hash when quiet and up to 0.39 s under the shared machine's load
// (BenchmarkHashDefault), i.e. roughly 8–16 logins/s per 2 cores. At most MaxConcurrent hashes
// run at once (default 2×GOMAXPROCS), so a login flood costs bounded memory
// (MaxConcurrent × 64 MiB) instead of exhausting it; waiting callers honour their context. The
// stored string carries its own parameters, so changing them later upgrades each rider's hash
// at their next login (NeedsRehash). Comparison is constant time. A login for an unknown
// email, or for an account without a password (OIDC only), verifies against a dummy hash made
// with the current parameters, so response time does not reveal whether an account exists.
//
// Sessions: a login creates a session family; each refresh rotates the token (the old row is
// marked rotated, a new row with a new 256-bit token joins the family, expiring RefreshTTL
// later, default 30 days). Presenting a rotated token again is treated as theft: the whole
// family is revoked and the caller gets ErrRefreshReused. There is no grace period: a client
// must store the new refresh token before using it, and must not retry a refresh whose answer
// it lost with the old token (it logs in again instead). Logout revokes the family. Access
// tokens are not revocable and simply expire (15 minutes by default).
//
// Deletion (GDPR erasure): the rider row is kept, because rides, payments and ledger entries
// refer to it and bookkeeping law requires keeping those, but everything that identifies the
// person is erased in one transaction: names become "deleted", the email becomes
// "deleted+<id>@deleted.invalid" (freeing the address for a new sign-up), password hash and
// phone are cleared, OIDC identities and every session are deleted, and the row is marked
// status 'deleted' with deleted_at. A deleted rider cannot log in, refresh or be found by
// email or identity.
//
// OIDC linking (LoginWithIdentity): a known (provider, subject) logs its rider in; otherwise the
// identity is linked to the rider with the same email only if the provider says the email is
// verified; otherwise a new rider is created, again only with a verified email — an
// unverified email is refused (ErrEmailUnverified) so nobody can claim or squat an address they
// do not control.
package account
