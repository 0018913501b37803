// Package audit owns the admin audit log (table admin_audit_log): writing an entry inside the
// transaction of the change it describes, and reading entries back with filters.
//
// Invariants:
//   - Record takes the caller's pgx.Tx: the entry commits or rolls back with the change, so
//     there is never a change without its entry nor an entry for a change that did not happen.
//     Callers record after the change succeeded and before committing; an error from Record
//     must abort the transaction.
//   - The log is append-only: the app role has no UPDATE, DELETE or TRUNCATE on the table and a
//     trigger refuses them for every role (migrations 00003, 00009). This package only inserts
//     and selects.
//   - An entry names who (admin id and email, copied so it stays readable), what (action, e.g.
//     "admin.create"), on what (target type and id), details (before/after where they matter),
//     when, and from where (IP, user agent, request id).
//
// List pages newest first by entry id with an opaque cursor; filters combine with AND.
package audit
