-- fleetedge PostgreSQL bootstrap: the three login roles and the database. Run as a superuser
-- (or a role with CREATEROLE and CREATEDB), once per cluster; re-running is harmless.
--
--   psql -v ON_ERROR_STOP=1 -v db=fleetedge \
--        -v migrator_pw="$MIGRATOR_PW" -v app_pw="$APP_PW" -v reporting_pw="$REPORTING_PW" \
--        -f deploy/postgres/bootstrap.sql
--
-- deploy/local/postgres.sh runs it with the local development passwords; production runs it
-- with passwords from its secret store and gives the cloud binary two DSNs: the migrator's
-- (schema migrations at start) and the app's (everything else).
--
-- Least privilege: none of the roles is superuser or can create roles or databases.
--   fleetedge_migrator  owns the database, hence its public schema and every table: runs DDL.
--   fleetedge_app       connects and gets DML on tables through default privileges set by the
--                       first migration; no DDL, no UPDATE/DELETE on the audit log or ledger.
--   fleetedge_reporting connects read-only (dashboards, exports); secrets are hidden from it.
-- Grants on tables live in the migrations (cloud/internal/pgstore/migrations), not here.

SELECT format('CREATE ROLE %I LOGIN', r)
  FROM unnest(ARRAY['fleetedge_migrator', 'fleetedge_app', 'fleetedge_reporting']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec

ALTER ROLE fleetedge_migrator WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'migrator_pw';
ALTER ROLE fleetedge_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_pw';
ALTER ROLE fleetedge_reporting WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'reporting_pw';
-- Belt and braces: privileges already refuse writes; this makes a stray write fail early too.
ALTER ROLE fleetedge_reporting SET default_transaction_read_only = on;
-- A request path that forgets to commit must not hold locks forever.
ALTER ROLE fleetedge_app SET idle_in_transaction_session_timeout = '60s';

SELECT format('CREATE DATABASE %I OWNER fleetedge_migrator ENCODING ''UTF8''', :'db')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
-- Only our roles may connect, and nobody but the owner may create schemas or temp tables.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO fleetedge_app, fleetedge_reporting', :'db') \gexec

-- Slow-query visibility: per-statement totals (needs shared_preload_libraries =
-- 'pg_stat_statements' in the server configuration). Statements are parameterised, so their
-- text holds no rider data; reporting may read them.
\connect :"db"
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
GRANT pg_read_all_stats TO fleetedge_reporting;
