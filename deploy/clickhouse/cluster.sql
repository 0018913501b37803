-- fleetedge ClickHouse cluster schema: replicated local tables + Distributed tables.
--
-- Same columns, partitioning and ordering as cloud/internal/chstore's migrations (versions 1-3;
-- cloud/internal/deploycheck fails when they drift). Apply once, from any node, as a user allowed
-- to run DDL ON CLUSTER:
--
--   clickhouse-client --multiquery < deploy/clickhouse/cluster.sql
--
-- and run the cloud with ClickHouse migrations off (FLEETEDGE_CLOUD_CH_MIGRATE=false): chstore's
-- own migrations create single-node tables. Needs the cluster "fleetedge" in remote_servers,
-- the {shard} and {replica} macros on every node, and ZooKeeper/ClickHouse Keeper
-- (config.d/fleetedge-cluster.xml).
--
-- The cloud reads and writes the Distributed tables under the names it already uses
-- (telemetry, events, commands); rows live in <table>_local on one shard, replicated to every
-- replica of that shard. The sharding key cityHash64(city, vehicle) keeps all rows of a vehicle,
-- and therefore every duplicate of a record ((gateway, seq) belongs to one vehicle), on one
-- shard: ReplacingMergeTree collapses duplicates only within a shard, and the queries
-- (uniqExact(gateway, seq), LIMIT 1 BY gateway, seq, argMax) stay exact.

CREATE DATABASE IF NOT EXISTS fleetedge ON CLUSTER fleetedge;

CREATE TABLE IF NOT EXISTS fleetedge.telemetry_local ON CLUSTER fleetedge (
    city            String,
    gateway         String,
    seq             UInt64,
    vehicle         String,
    time            DateTime('UTC'),
    ms              UInt16,
    lat             Float64,
    lon             Float64,
    speed_kmh       Float32,
    speed_limit_kmh UInt8,
    battery_pct     UInt8,
    voltage_v       Float32,
    signal          UInt8,
    powered         UInt8,
    locked          UInt8,
    paused          UInt8,
    fallen          UInt8,
    at_station      UInt8,
    error_code      UInt16
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fleetedge/telemetry_local', '{replica}')
PARTITION BY toYYYYMMDD(time)
ORDER BY (city, vehicle, time, ms, gateway, seq);

CREATE TABLE IF NOT EXISTS fleetedge.telemetry ON CLUSTER fleetedge AS fleetedge.telemetry_local
ENGINE = Distributed(fleetedge, fleetedge, telemetry_local, cityHash64(city, vehicle));

CREATE TABLE IF NOT EXISTS fleetedge.events_local ON CLUSTER fleetedge (
    city    String,
    gateway String,
    seq     UInt64,
    vehicle String,
    time    DateTime('UTC'),
    ms      UInt16,
    kind    String,
    code    UInt16,
    details String
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fleetedge/events_local', '{replica}')
PARTITION BY toYYYYMMDD(time)
ORDER BY (city, vehicle, time, ms, gateway, seq);

CREATE TABLE IF NOT EXISTS fleetedge.events ON CLUSTER fleetedge AS fleetedge.events_local
ENGINE = Distributed(fleetedge, fleetedge, events_local, cityHash64(city, vehicle));

CREATE TABLE IF NOT EXISTS fleetedge.commands_local ON CLUSTER fleetedge (
    city         String,
    gateway      String,
    seq          UInt64,
    vehicle      String,
    time         DateTime('UTC'),
    ms           UInt16,
    command      UInt16,
    fields       String,
    outcome      String,
    reply_code   UInt16,
    reply_status Int16,
    latency_ms   UInt32,
    source       String
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/fleetedge/commands_local', '{replica}')
PARTITION BY toYYYYMMDD(time)
ORDER BY (city, vehicle, time, ms, gateway, seq);

CREATE TABLE IF NOT EXISTS fleetedge.commands ON CLUSTER fleetedge AS fleetedge.commands_local
ENGINE = Distributed(fleetedge, fleetedge, commands_local, cityHash64(city, vehicle));

-- The schema version chstore checks at start (it refuses a database newer than itself). One
-- replicated copy for the whole cluster: a single shard of the ZooKeeper path, read locally.
CREATE TABLE IF NOT EXISTS fleetedge.schema_migrations ON CLUSTER fleetedge (
    version    UInt32,
    name       String,
    applied_at DateTime('UTC')
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/fleetedge/schema_migrations', '{replica}')
ORDER BY version;

INSERT INTO fleetedge.schema_migrations (version, name, applied_at)
VALUES (1, 'telemetry', now()), (2, 'events', now()), (3, 'commands', now());
