// Package pgstore owns fleetedge's PostgreSQL schema and how the cloud connects to it.
//
// The schema lives in migrations/*.sql (goose format), embedded in the binary and applied at
// start by Migrate, which runs as the fleetedge_migrator role: the migrator owns every table
// and runs all DDL. The cloud's request paths connect through Connect as fleetedge_app, which
// has DML on its tables only (no DDL, no UPDATE/DELETE on the admin audit log or the ledger);
// dashboards use fleetedge_reporting, read-only and blind to secrets. The first migration sets
// default privileges, so a table added by a later migration grants those rights by itself.
//
// Invariants the schema enforces (tests in this package prove them against a real server):
//   - money is bigint minor units with an ISO 4217 char(3) currency, never floats;
//   - every ledger transaction's entries sum to zero per currency (deferred constraint trigger),
//     and a balance is the sum of its account's entries (views ledger_account_balances and
//     rider_balances), never a stored number;
//   - ledger rows are append-only for the app; to serialise "check balance, then post" lock the
//     account row (SELECT … FOR UPDATE, or touch ledger_accounts.last_posted_at, the one column
//     the app may update);
//   - a ride is charged once and a payment credited once (partial unique indexes);
//   - rider and admin emails are unique whatever their case;
//   - sensitive columns (phone, payment-method token, TOTP secret) hold fieldcrypt
//     ciphertext with the key id next to it.
//
// Neither Migrate nor Connect accepts a superuser connection.
package pgstore
