// Package accountpg is the PostgreSQL adapter of account.Store: riders, rider_identities and
// rider_sessions (migrations 00002 and 00008 in pgstore), through a pgx pool connected as
// fleetedge_app. Every statement is parameterised.
//
// Invariants it relies on and keeps:
//   - email uniqueness is the database's (unique index on lower(email)): a concurrent duplicate
//     sign-up fails with a unique violation, mapped to account.ErrEmailTaken;
//   - refresh-token rotation runs in one transaction holding the old session row locked
//     (SELECT … FOR UPDATE), so two concurrent refreshes with the same token cannot both win:
//     the second sees the row rotated and revokes the family (account.ErrRefreshReused);
//   - a reuse revocation commits even though the call returns an error;
//   - deleted riders (status 'deleted') are invisible to every lookup.
package accountpg
