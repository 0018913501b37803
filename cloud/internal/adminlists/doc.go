// Package adminlists owns the admin API's lists read from PostgreSQL — rides, payments and
// riders (GET /admin/v1/rides, /payments, /riders) — and the filtered, bounded iteration over
// rides, payments, riders and registry vehicles that the Excel exports stream (package
// exports), so a list and its export always apply the same filters.
//
// Paging is keyset, newest first on (time, id) with an opaque cursor ("k1." + base64url of
// "<unix µs>/<uuid>"): a page never skips or repeats a row while rows are added. Filters
// combine with AND; every value is a bind parameter; a bad filter, limit or cursor is
// ErrInvalid (422 invalid_request). Each* iterates one query and stops with ErrTooMany past its
// maximum, before passing the extra row on.
//
// Riders are searched by a case-insensitive prefix of email, first name, last name or
// "first last" (LIKE wildcards in the input are escaped); the phone is encrypted at rest and
// cannot be searched. A rider's balances are the sums of their ledger accounts.
package adminlists
