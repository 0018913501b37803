-- Vehicle events (rides, alarms, command results, state changes, …) from the gateways' event
-- batches, written by the ingest consumer before it acknowledges the batch. (gateway, seq) is
-- the gateway's own sequence number: a redelivered or resent batch inserts nothing twice.
-- No foreign key to vehicles or cities: an event may name a vehicle the cloud does not know yet.
-- Readable by fleetedge_reporting and writable by fleetedge_app through the default privileges
-- of 00001.

-- +goose Up
CREATE TABLE vehicle_events (
    id          bigserial PRIMARY KEY,
    city        text NOT NULL CHECK (city ~ '^[a-z0-9_-]{1,64}$'),
    gateway     text NOT NULL CHECK (gateway ~ '^[a-z0-9_-]{1,64}$'),
    seq         bigint NOT NULL CHECK (seq > 0),
    vehicle     text NOT NULL CHECK (vehicle <> ''),
    at          timestamptz NOT NULL,
    kind        text NOT NULL CHECK (kind <> ''),
    payload     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (gateway, seq)
);
CREATE INDEX vehicle_events_city_vehicle_at_idx ON vehicle_events (city, vehicle, at DESC);
CREATE INDEX vehicle_events_city_kind_at_idx ON vehicle_events (city, kind, at DESC);

-- +goose Down
DROP TABLE vehicle_events;
