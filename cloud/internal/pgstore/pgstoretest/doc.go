// Package pgstoretest gives cloud tests a fresh PostgreSQL database at the latest fleetedge
// schema: shared/pgtest with pgstore's embedded migrations plugged in (the template database is
// named by pgstore.SchemaVersion, so editing a migration rebuilds it). Every cloud test that
// needs PostgreSQL calls New:
//
//	db := pgstoretest.New(t)
//	db.Pool                          // *pgxpool.Pool as fleetedge_app
//	db.AppDSN, db.MigratorDSN, db.ReportingDSN
package pgstoretest
