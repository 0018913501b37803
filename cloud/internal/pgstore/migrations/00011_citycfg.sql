-- City configuration (cloud/internal/citycfg): the vehicle type the gateway's zone rules match,
-- a prefix index for vehicle search, and per city and document kind the version of the
-- configuration pushed to the city's gateways (zones, vehicles, tariffs documents).
-- Readable by fleetedge_reporting and writable by fleetedge_app through the default privileges
-- of 00001.

-- +goose Up
-- GBFS vehicle_type_id: per-type zone rules on the gateway (protocol/link VehicleConfig.Type).
ALTER TABLE vehicles ADD COLUMN vehicle_type text NOT NULL DEFAULT 'escooter'
    CHECK (vehicle_type ~ '^[A-Za-z0-9_.-]{1,64}$');
-- "q" searches vehicle numbers by prefix (LIKE 'BCN00%').
CREATE INDEX vehicles_number_prefix_idx ON vehicles (number text_pattern_ops);

-- One row per city and document kind. version rises with every committed change of what the
-- document is built from (in the change's transaction); published_version is the highest
-- version a cloud process put in the city's JetStream KV bucket. version > published_version
-- means a push is pending (the reconciler retries). Versions are max(previous + 1, unix ms of
-- the change), so they stay above the small versions a gateway gave local files.
CREATE TABLE city_config_docs (
    city_id           bigint NOT NULL REFERENCES cities (id),
    kind              text NOT NULL CHECK (kind IN ('zones', 'vehicles', 'tariffs')),
    version           bigint NOT NULL CHECK (version > 0),
    changed_at        timestamptz NOT NULL DEFAULT now(),
    published_version bigint NOT NULL DEFAULT 0 CHECK (published_version >= 0),
    published_at      timestamptz,
    publish_error     text CHECK (char_length(publish_error) <= 1000),
    PRIMARY KEY (city_id, kind)
);

-- +goose Down
DROP TABLE city_config_docs;
DROP INDEX vehicles_number_prefix_idx;
ALTER TABLE vehicles DROP COLUMN vehicle_type;
