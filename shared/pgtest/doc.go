// Package pgtest gives each test a fresh PostgreSQL database on the local development server,
// connected as the least-privileged application role. It is the one helper every PostgreSQL
// test in the workspace uses.
//
// New makes sure the server runs (through the workspace's deploy/local/postgres.sh start,
// found by walking up to go.work), builds once per schema version a template database migrated
// to the latest schema, then clones it per test with CREATE DATABASE … TEMPLATE (a file copy,
// milliseconds) and drops the clone in t.Cleanup.
//
// shared/ cannot import cloud/, so the schema comes in as an option:
//
//	db := pgtest.New(t, pgtest.WithMigrations(migrate, pgstore.SchemaVersion()))
//	db.Pool      // *pgxpool.Pool as fleetedge_app
//	db.AppDSN, db.MigratorDSN, db.ReportingDSN
//
// (cloud code calls cloud/internal/pgstore/pgstoretest.New(t), which does exactly that.)
// The version string names the template, so editing a migration builds a new template.
//
// Concurrency: `go test` runs packages in parallel processes. Template builds are serialised
// across processes with a PostgreSQL advisory lock and within a process by a mutex; a template
// is marked IS_TEMPLATE (and closed to connections) only after its migrations succeeded, so a
// half-built one left by a killed process is detected and rebuilt. Clones left behind by killed
// processes are dropped by the next process (their names carry the creator's pid).
//
// If the server cannot be started, New fails the test with the reason; it never skips.
package pgtest
