// Package exports owns the admin API's Excel exports (GET /admin/v1/exports/{rides, payments,
// riders, vehicles, audit}, permission exports.create): .xlsx workbooks built with excelize's
// StreamWriter, with the same filters as the matching lists (package adminlists; the audit log's
// through audit.List).
//
// Invariants:
//   - Bounded: at most MaxRows (1,000,000) data rows; one more fails the export with 422
//     invalid_request before anything is sent.
//   - Flat memory: the sheet is written row by row while the query streams; excelize keeps
//     16 MiB of sheet XML in memory and spills the rest to a temporary file, removed once the
//     response is written (or the export failed); the zip is written straight into the
//     response (not built in memory first, as excelize's WriteTo would). Peak heap ~64 MiB
//     for 100,000 or 1,000,000 rides alike. At most MaxConcurrent exports run at once per
//     process; more answer 503 unavailable with Retry-After.
//   - Errors are problems: the query, the sheet and the audit entry all complete before the
//     first byte of the response, so a failure is a proper problem+json, never a truncated
//     200 (except when the client connection itself breaks while the file is sent).
//   - Audited: each export records export.create (target export/<kind>, details: the filters
//     used and the row count) in the audit log.
//   - Times are written in UTC with a yyyy-mm-dd hh:mm:ss format; money in minor units with
//     its currency in its own column.
package exports
