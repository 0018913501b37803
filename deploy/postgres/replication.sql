-- fleetedge PostgreSQL replication role, run once on the primary as a superuser after
-- bootstrap.sql:
--   psql -v ON_ERROR_STOP=1 -v replicator_pw="$REPLICATOR_PW" -f deploy/postgres/replication.sql
-- It can stream WAL and nothing else: no database access, no DDL.
SELECT 'CREATE ROLE fleetedge_replicator'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetedge_replicator') \gexec
ALTER ROLE fleetedge_replicator WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'replicator_pw';
