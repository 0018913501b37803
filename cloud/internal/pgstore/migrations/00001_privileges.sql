-- Privileges first: every table, view and sequence the migrator creates from here on is
-- readable by fleetedge_reporting and writable (DML only) by fleetedge_app. Tables that must be
-- append-only or hidden revoke explicitly next to their CREATE. Neither role owns anything or
-- has CREATE on the schema, so neither can run DDL.
-- These migrations must run as fleetedge_migrator (pgstore.Migrate refuses a superuser).

-- +goose Up
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO fleetedge_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO fleetedge_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO fleetedge_reporting;
GRANT USAGE ON SCHEMA public TO fleetedge_app, fleetedge_reporting;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
-- goose's own table exists before this migration, so it got no default grants; say so anyway.
REVOKE ALL ON TABLE goose_db_version FROM fleetedge_app;

-- Exclusion constraints over (city, time range) need gist support for plain equality.
-- btree_gist is a trusted extension: the database owner (the migrator) may create it.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- +goose Down
DROP EXTENSION IF EXISTS btree_gist;
REVOKE USAGE ON SCHEMA public FROM fleetedge_app, fleetedge_reporting;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM fleetedge_reporting;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM fleetedge_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM fleetedge_app;
