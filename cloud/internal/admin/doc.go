// Package admin owns fleetedge's admin accounts: password and TOTP login, sessions, lockout,
// roles and permissions, and the rules for changing them. It is backed by PostgreSQL directly
// (tables admins, admin_sessions, roles, permissions, role_permissions, admin_roles) because
// every change is written in one transaction with its audit entry (package audit).
//
// Authentication:
//   - Passwords are argon2id (PHC string, per-hash salt), compared in constant time; an unknown
//     or disabled email still costs one verification against a dummy hash, so timing does not
//     reveal which admins exist.
//   - TOTP (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits, ±1 step of drift) is optional per admin.
//     The secret is sealed with fieldcrypt (context "admins.totp_ciphertext:<admin id>") and
//     never leaves the server after enrolment. Each accepted code's time step is stored and a
//     code of that step or an earlier one is refused (ErrTOTPReplay), so a code works once.
//     Enrolment is two steps: StartTOTP stores a pending secret and returns it with an
//     otpauth:// URI; ConfirmTOTP with a valid code makes it active.
//   - Sessions are opaque bearer tokens ("fea_" + 32 random bytes, base64url), stored only as
//     SHA-256 — not JWTs — so logout, disabling an admin and a role change take effect on the
//     next request, and admin tokens can never be confused with rider JWTs. A session expires
//     after Config.SessionTTL (default 8 h) or Config.IdleTimeout without use (default 30 min).
//     Permissions are read from the database on every request.
//   - With TOTP enabled, a correct password yields a challenge token (stage 'totp', 5 min,
//     single use) that LoginTOTP exchanges, with a valid code, for a session.
//   - Lockout: Config.MaxFailures (default 5) consecutive failures (wrong password or wrong
//     TOTP code) lock the account for Config.LockoutDuration (default 15 min); while locked even
//     the right password is refused (ErrLocked). A success resets the count.
//
// Roles and the rules against raising one's own rights (enforced in SetRoles, CreateAdmin and
// Disable, each in the transaction that makes the change):
//   - managing admins needs admins.manage;
//   - nobody changes their own roles or disables themself;
//   - an actor may grant only roles whose permissions are all among the actor's own, and may
//     change or disable only admins whose current permissions are all among the actor's own —
//     so a super_admin (who holds every permission) can do anything, and nobody can create or
//     shape an account more powerful than themself;
//   - the last active admin holding super_admin cannot lose it or be disabled (ErrLastSuperAdmin);
//   - ResetTOTP (lost device) follows the same rules; ChangePassword is only for oneself and needs
//     the current password (wrong ones count towards the lockout).
//
// Every change that touches roles or status takes a row lock on the super_admin role first, so
// such changes serialise and two admins acting on each other cannot deadlock.
//
// Roles and their permissions are seeded by migrations (00003, 00009); the API does not edit
// the catalogue. Service is safe for concurrent use.
package admin
