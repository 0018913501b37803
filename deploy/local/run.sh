#!/usr/bin/env bash
# The whole fleetedge system on this machine (what `make run` calls):
#   PostgreSQL + ClickHouse (local servers under .data/), the cloud (embedded NATS),
#   the Barcelona demo city seeded into the cloud through the admin API (fleetctl city import:
#   zones, vehicles with their credential hashes, tariffs), the Barcelona gateway, which gets
#   its zones and vehicles from the cloud, and simulated scooters riding its streets.
# Ctrl-C (or SIGTERM) stops everything it started, servers included.
#
# Knobs (environment): FLEETEDGE_RUN_SCOOTERS (300), FLEETEDGE_RUN_GATEWAY_HTTP (:8080),
# FLEETEDGE_RUN_MQTT (:1883), FLEETEDGE_RUN_CLOUD_HTTP (127.0.0.1:8090),
# FLEETEDGE_RUN_NATS_PORT (4222), FLEETEDGE_RUN_KEEP_SERVERS=1 to leave the databases running.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

scooters=${FLEETEDGE_RUN_SCOOTERS:-300}
gw_http=${FLEETEDGE_RUN_GATEWAY_HTTP:-:8080}
mqtt=${FLEETEDGE_RUN_MQTT:-:1883}
cloud_http=${FLEETEDGE_RUN_CLOUD_HTTP:-127.0.0.1:8090}
nats_port=${FLEETEDGE_RUN_NATS_PORT:-4222}
city=barcelona
demo=deploy/demo/$city
run=.data/run
bin=bin
mkdir -p "$run" "$bin"

pids=()
cleanup() {
	trap - INT TERM EXIT
	echo
	echo "run.sh: stopping"
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "${FLEETEDGE_RUN_KEEP_SERVERS:-0}" != 1 ]; then
		deploy/local/clickhouse.sh stop || true
		deploy/local/postgres.sh stop || true
	fi
}
trap cleanup INT TERM EXIT

# wait_ready URL NAME LOG PID: poll a readiness endpoint; fail with the log tail if the
# process dies or it takes too long.
wait_ready() {
	local url=$1 name=$2 log=$3 pid=$4
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "run.sh: $name exited; last lines of $log:" >&2
			tail -20 "$log" >&2
			return 1
		fi
		sleep 0.2
	done
	echo "run.sh: $name not ready after 60 s ($url); last lines of $log:" >&2
	tail -20 "$log" >&2
	return 1
}

echo "run.sh: starting PostgreSQL and ClickHouse (installed when missing)"
deploy/local/postgres.sh start
deploy/local/clickhouse.sh start
set -a
eval "$(deploy/local/postgres.sh env)"
eval "$(deploy/local/clickhouse.sh env)"
set +a

echo "run.sh: building binaries into $bin/"
go build -o "$bin/" ./cloud/cmd/cloud ./edge/cmd/gateway ./tools/cmd/scooter-sim ./tools/cmd/fleetctl

if [ ! -f "$demo/vehicles.json" ] || [ ! -f "$demo/sim-credentials.json" ]; then
	echo "run.sh: provisioning $scooters demo scooters (device secrets for the demo only)"
	"$bin/scooter-sim" provision --n "$scooters" --out "$demo"
fi

# The first admin of the demo: created by the cloud at its first start (a no-op later).
admin_email=admin@fleetedge.local
admin_pw_file=$run/admin-password
[ -s "$admin_pw_file" ] || (umask 077 && head -c 18 /dev/urandom | base64 >"$admin_pw_file")

echo "run.sh: starting the cloud (HTTP $cloud_http, embedded NATS :$nats_port)"
"$bin/cloud" --data-dir "$run/cloud" --http-addr "$cloud_http" --nats-port "$nats_port" \
	--admin-bootstrap-email "$admin_email" --admin-bootstrap-password-file "$admin_pw_file" \
	>"$run/cloud.log" 2>&1 &
pids+=($!)
wait_ready "http://$cloud_http/readyz" cloud "$run/cloud.log" "${pids[-1]}"

# The demo city lives in PostgreSQL: created or brought up to date from the demo files through
# the admin API (idempotent: nothing changes on later runs); the cloud pushes its zones, vehicles
# and tariffs to the city's NATS bucket, where the gateway picks them up.
echo "run.sh: seeding the $city demo city in the cloud (fleetctl city import)"
"$bin/fleetctl" city import --cloud "http://$cloud_http" \
	--admin-email "$admin_email" --admin-password-file "$admin_pw_file" \
	--city "$city" --gateway "$city-gw-1" --zones "$demo/geofencing_zones.json" \
	--vehicles "$demo/vehicles.json" --tariffs "$demo/tariffs.json" --wait 30s \
	| sed 's/^/run.sh:   /'

# A break-glass technician for the field UI of the demo (password in a file, hash on the command line).
tech_pw_file=$run/tech-password
[ -s "$tech_pw_file" ] || (umask 077 && head -c 12 /dev/urandom | base64 >"$tech_pw_file")
tech_hash=$("$bin/gateway" hash-password <"$tech_pw_file")

echo "run.sh: starting the $city gateway (MQTT $mqtt, HTTP $gw_http)"
"$bin/gateway" --city "$city" --gateway-id "$city-gw-1" --data-dir "$run/edge" \
	--mqtt-addr "$mqtt" --http-addr "$gw_http" --cloud-nats-url "nats://127.0.0.1:$nats_port" \
	--ui-break-glass-user tech --ui-break-glass-hash "$tech_hash" \
	>"$run/gateway.log" 2>&1 &
pids+=($!)
gw_url="http://127.0.0.1:${gw_http##*:}"
wait_ready "$gw_url/readyz" gateway "$run/gateway.log" "${pids[-1]}"
# Zones and vehicles come from the cloud (no local files): wait until the gateway has both.
for i in $(seq 1 150); do
	st=$(curl -fsS "$gw_url/api/v1/status" 2>/dev/null || true)
	if grep -q '"configured":[1-9]' <<<"$st" && grep -q '"zones":[1-9]' <<<"$st"; then break; fi
	if [ "$i" = 150 ]; then
		echo "run.sh: the gateway did not get its zones and vehicles from the cloud in 30 s; see $run/gateway.log" >&2
		exit 1
	fi
	sleep 0.2
done

echo "run.sh: starting $scooters simulated scooters"
"$bin/scooter-sim" run --broker "127.0.0.1:${mqtt##*:}" --creds "$demo/sim-credentials.json" \
	--n "$scooters" --city "$demo/streets.json" --zones "$demo/geofencing_zones.json" --auto-ride-per-hour 6 --status-every 30s \
	>"$run/scooters.log" 2>&1 &
pids+=($!)

cat <<EOF

fleetedge is running (Ctrl-C stops everything).

  Field UI            $gw_url/ui/   user tech, password in $tech_pw_file
  Gateway ($city)   $gw_url/api/v1/vehicles     live state of every scooter (JSON)
                      $gw_url/metrics             Prometheus metrics ($gw_url/readyz)
                      mqtt://127.0.0.1:${mqtt##*:}            scooters' MQTT broker
  Cloud               http://$cloud_http/readyz   readiness of PostgreSQL, ClickHouse, NATS
                      http://$cloud_http/v1/openapi.json         rider API (accounts, rides, payments; README "Things to try")
                      http://$cloud_http/admin/v1/openapi.json   admin API: $admin_email, password in $admin_pw_file
                      http://$cloud_http/metrics
                      nats://127.0.0.1:$nats_port         embedded NATS JetStream
  PostgreSQL          $FLEETEDGE_PG_APP_DSN
  ClickHouse          $FLEETEDGE_CH_DSN   (clickhouse-client --port $FLEETEDGE_CH_TCP_PORT)
  Logs                $run/cloud.log  $run/gateway.log  $run/scooters.log
  Try                 curl -s $gw_url/api/v1/vehicles | head -c 600
                      clickhouse-client --port $FLEETEDGE_CH_TCP_PORT -d fleetedge -q 'SELECT vehicle, count() FROM telemetry GROUP BY vehicle ORDER BY vehicle LIMIT 5'
                      $bin/fleetctl protocol list

EOF

# Stay in the foreground until a process dies or the user stops us.
wait -n "${pids[@]}" || true
echo "run.sh: a process exited; see the logs in $run/" >&2
exit 1
