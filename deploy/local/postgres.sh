#!/usr/bin/env bash
# Local PostgreSQL 15 for fleetedge development and tests.
#
#   deploy/local/postgres.sh install   install Debian's postgresql-15 when missing
#   deploy/local/postgres.sh start     install, initdb, start, bootstrap roles + database (idempotent)
#   deploy/local/postgres.sh stop      fast, clean shutdown
#   deploy/local/postgres.sh status    exit 0 when running
#   deploy/local/postgres.sh env       print the DSNs (eval "$(deploy/local/postgres.sh env)")
#
# Data lives in the repo's ignored .data/postgres (override: FLEETEDGE_PG_DIR). The server listens
# on 127.0.0.1:FLEETEDGE_PG_PORT (default 55432) and on a unix socket in $FLEETEDGE_PG_DIR/run.
# Authentication: the unix socket is trust (the socket directory is 0700, so only the server's OS
# user and root can reach it; the test helper uses it as superuser to create databases); TCP
# requires scram-sha-256 passwords. The three application roles get the local development
# passwords below; production creates the same roles with passwords from its secret store
# (deploy/postgres/bootstrap.sql, which this script runs too).
#
# Concurrent callers (parallel `go test` processes) are serialised with flock.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

PG_BIN=${FLEETEDGE_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=${FLEETEDGE_PG_DIR:-$root/.data/postgres}
PG_PORT=${FLEETEDGE_PG_PORT:-55432}
PG_DB=${FLEETEDGE_PG_DATABASE:-fleetedge}
# Local development passwords (documented in README; never used in production).
MIGRATOR_PASSWORD=${FLEETEDGE_PG_MIGRATOR_PASSWORD:-fleetedge-migrator-dev}
APP_PASSWORD=${FLEETEDGE_PG_APP_PASSWORD:-fleetedge-app-dev}
REPORTING_PASSWORD=${FLEETEDGE_PG_REPORTING_PASSWORD:-fleetedge-reporting-dev}

# The server runs as `postgres` when we are root: it must be able to reach the data directory.
# A directory under a private parent (a checkout in /root on CI, a mktemp clone) is not
# reachable, so the data moves to /var/tmp, keyed by the wanted path so two checkouts (or a
# checkout's dev and test servers) never share a server. This applies to FLEETEDGE_PG_DIR too.
reachable_by_postgres() {
	local d=$1
	while [ ! -d "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done
	runuser -u postgres -- test -x "$d" 2>/dev/null
}
resolve_dir() {
	if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 && ! reachable_by_postgres "$PG_DIR"; then
		PG_DIR=/var/tmp/fleetedge-postgres-$(printf %s "$PG_DIR" | cksum | cut -d' ' -f1)
	fi
	DATA=$PG_DIR/data
	SOCK=$PG_DIR/run
	LOG=$PG_DIR/server.log
}
resolve_dir
APT=(apt-get -o DPkg::Lock::Timeout=120)

die() { echo "postgres.sh: $*" >&2; exit 1; }

case "$PG_PORT" in ''|*[!0-9]*) die "FLEETEDGE_PG_PORT must be a number, got '$PG_PORT'";; esac

# The server refuses to run as root: as root we run it as the Debian `postgres` user.
if [ "$(id -u)" -eq 0 ]; then
	PG_USER=postgres
	as_pg() { runuser -u postgres -- "$@"; }
else
	PG_USER=$(id -un)
	as_pg() { "$@"; }
fi

install() {
	if [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ] && command -v psql >/dev/null; then
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "PostgreSQL 15 is missing and installing it needs root: apt-get install postgresql-15"
	echo "postgres.sh: installing postgresql-15" >&2
	if ! DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y postgresql-15 >&2; then
		"${APT[@]}" update >&2
		DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y postgresql-15 >&2
	fi
	[ -x "$PG_BIN/postgres" ] || die "postgresql-15 installed but $PG_BIN/postgres is missing"
	resolve_dir # the postgres user exists only now
}

prepare_dir() {
	# The parent must be traversable by the server's user even under a umask of 077.
	[ -d "$(dirname "$PG_DIR")" ] || mkdir -p -m 0755 "$(dirname "$PG_DIR")"
	mkdir -p "$PG_DIR"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "OS user 'postgres' is missing (it comes with the postgresql-15 package)"
		chown postgres: "$PG_DIR"
		runuser -u postgres -- test -x "$PG_DIR" 2>/dev/null ||
			die "user postgres cannot reach $PG_DIR (a parent directory is private)"
	fi
	chmod 0700 "$PG_DIR"
}

running() {
	[ -f "$DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

psql_admin() {
	PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PG_PORT" -U postgres "$@"
}

initdb_once() {
	[ -f "$DATA/PG_VERSION" ] && return 0
	# A half-finished initdb leaves a directory initdb refuses to reuse.
	rm -rf "$DATA"
	as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
		-E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
		die "initdb failed, see $PG_DIR/initdb.log"
	echo "include_if_exists = 'fleetedge.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
}

write_conf() {
	as_pg mkdir -p "$SOCK"
	as_pg chmod 0700 "$SOCK"
	as_pg tee "$DATA/fleetedge.conf" >/dev/null <<EOF
# Written by deploy/local/postgres.sh on every start; edit the script, not this file.
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK'
max_connections = 200
password_encryption = 'scram-sha-256'
# Slow-query visibility (MISSION.md, Security): slow statements in the log, and per-statement
# totals in the pg_stat_statements view (readable by fleetedge_reporting).
log_min_duration_statement = 250
shared_preload_libraries = 'pg_stat_statements'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

bootstrap() {
	# Roles and database (deploy/postgres/bootstrap.sql is the reference production uses too).
	psql_admin -d postgres -f "$root/deploy/postgres/bootstrap.sql" \
		-v migrator_pw="$MIGRATOR_PASSWORD" -v app_pw="$APP_PASSWORD" -v reporting_pw="$REPORTING_PASSWORD" \
		-v db="$PG_DB" >/dev/null
}

start() {
	install
	prepare_dir
	exec 9>>"$PG_DIR/lock"
	flock -w 300 9 || die "timed out waiting for another postgres.sh (lock $PG_DIR/lock)"
	if ! running; then
		initdb_once
		write_conf
		# 9>&- : the server must not inherit the lock, or the next caller would wait forever.
		as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null 9>&- ||
			die "server did not start, last log lines: $(tail -n 20 "$LOG" 2>/dev/null)"
	fi
	local port
	port=$(sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true)
	[ "$port" = "$PG_PORT" ] || die "a server is already running from $DATA on port $port, not $PG_PORT: stop it first"
	bootstrap
	flock -u 9
}

stop() {
	[ -d "$PG_DIR" ] || return 0
	exec 9>>"$PG_DIR/lock"
	flock -w 300 9 || die "timed out waiting for another postgres.sh (lock $PG_DIR/lock)"
	if running; then
		as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 9>&-
	fi
}

urlenc() {
	local s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case "$c" in
		[a-zA-Z0-9.~_-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

env_dsns() {
	local tcp="127.0.0.1:$PG_PORT" db q
	db=$(urlenc "$PG_DB")
	q="sslmode=disable"
	# Values are URL-encoded, so single quotes never occur inside them.
	cat <<EOF
export FLEETEDGE_PG_HOST='127.0.0.1'
export FLEETEDGE_PG_PORT='$PG_PORT'
export FLEETEDGE_PG_SOCKET_DIR='$SOCK'
export FLEETEDGE_PG_DATABASE='$PG_DB'
export FLEETEDGE_PG_ADMIN_DSN='postgres://postgres@/postgres?host=$(urlenc "$SOCK")&port=$PG_PORT&$q'
export FLEETEDGE_PG_MIGRATOR_DSN='postgres://fleetedge_migrator:$(urlenc "$MIGRATOR_PASSWORD")@$tcp/$db?$q'
export FLEETEDGE_PG_APP_DSN='postgres://fleetedge_app:$(urlenc "$APP_PASSWORD")@$tcp/$db?$q'
export FLEETEDGE_PG_REPORTING_DSN='postgres://fleetedge_reporting:$(urlenc "$REPORTING_PASSWORD")@$tcp/$db?$q'
EOF
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
status)
	if running; then echo "running: $DATA on 127.0.0.1:$PG_PORT (user $PG_USER)"; else echo "stopped: $DATA"; exit 3; fi
	;;
env) env_dsns ;;
*) die "usage: $0 {install|start|stop|status|env}" ;;
esac
