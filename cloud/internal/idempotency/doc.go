// Package idempotency owns Idempotency-Key handling for money-moving POSTs (table
// idempotency_keys, pgstore migration 00007), after draft-ietf-httpapi-idempotency-key-header.
//
// A request names a scope (who and what, e.g. "rider:<id>:top_up") and a key chosen by the
// client. Begin claims (scope, key) for the request's hash:
//   - first time: the row is inserted with no response ("in progress") and Begin returns
//     (nil, nil): the caller does the work, then Complete stores the response — inside the
//     transaction of the work itself when it has one, so the stored response and the effect
//     commit together — or Release removes the claim when the work failed in a way a retry may
//     fix (nothing happened);
//   - same key, same hash, completed: Begin returns the stored response (the retry gets the
//     first answer, byte for byte, and nothing is done again);
//   - same key, same hash, not completed: ErrInProgress (HTTP 409);
//   - same key, another hash: ErrKeyReused (HTTP 422), whatever the state.
//
// A key lives for the Store's TTL (default 24 h); an expired row is replaced by the next
// Begin, and PurgeExpired deletes them in bulk. Keys are 1–255 printable ASCII characters.
//
// The Store holds a pool and configuration only; it is safe for concurrent use. Concurrent
// Begins of one key are serialised by the primary key: exactly one wins the claim.
package idempotency
