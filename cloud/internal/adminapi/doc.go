// Package adminapi owns the operators' HTTP API under /admin/v1/ (huma v2, OpenAPI 3.1 served
// at /admin/v1/openapi.json and committed as openapi.json next to this file): login with
// password and TOTP, logout, the admin's own account (password change, TOTP enrolment), admin
// management (create, roles, disable, TOTP reset), the role catalogue and the audit log.
//
// Access control is data: every operation is registered through Register with the Access it
// needs — Public (login), Authenticated (any logged-in admin: /me, logout) or Requires(p) for
// a permission code. The middleware enforces it before the input is read (401 without a valid
// session, 403 problem with missing_permissions without the permission), the OpenAPI document
// shows it (security and the x-fleetedge-permission extension), and Routes lists it, so a test
// walks every route. An operation registered on Huma() directly, without Register, is refused
// (fail closed). Later admin areas (fleet, zones, riders, analytics, exports) register the
// same way.
//
// Sessions are opaque bearer tokens (package admin). Writes go through package admin, which
// records the audit entry in the change's transaction. Errors are RFC 9457 problem+json with a
// stable code (Problem, problemFor is the one place domain errors become HTTP); huma's own
// errors are rewritten into the same shape. Login (both steps) is rate limited per client IP
// (loginguard); the account lockout lives in the database (package admin). The client IP is the
// TCP peer, or the right-most X-Forwarded-For address not in Config.TrustedProxies.
package adminapi
