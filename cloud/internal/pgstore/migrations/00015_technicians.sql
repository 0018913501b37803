-- Field technicians (cloud/internal/technicians): accounts of the gateway's field UI, per city,
-- managed in the admin API and pushed to the city's gateway as a link.TechniciansDoc (argon2id
-- hashes only; the gateway verifies logins offline). Per city, the version of the pushed
-- document and how far its publication got.

-- +goose Up
CREATE TABLE technicians (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    city_id             bigint NOT NULL REFERENCES cities (id),
    -- The gateway's login name: the same rule as link.ValidTechnicianUsername.
    username            text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
    display_name        text NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 200),
    password_hash       text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT technicians_city_username_key UNIQUE (city_id, username)
);

-- Reporting sees technicians without their hashes.
REVOKE SELECT ON technicians FROM fleetedge_reporting;
GRANT SELECT (id, city_id, username, display_name, status, created_at, updated_at, password_changed_at)
    ON technicians TO fleetedge_reporting;

-- version rises with every committed change of a city's technicians (in the change's
-- transaction, which locks the row: one writer per city at a time); published_version is the
-- highest version put in the city's JetStream KV bucket; version > published_version means a
-- push is pending (the pusher retries). Versions are max(previous + 1, unix ms of the change),
-- so they stay above the small versions a gateway gave a local accounts file.
CREATE TABLE technician_docs (
    city_id           bigint PRIMARY KEY REFERENCES cities (id),
    version           bigint NOT NULL CHECK (version > 0),
    changed_at        timestamptz NOT NULL DEFAULT now(),
    published_version bigint NOT NULL DEFAULT 0 CHECK (published_version >= 0),
    published_at      timestamptz,
    publish_error     text CHECK (char_length(publish_error) <= 1000)
);

-- +goose Down
DROP TABLE technician_docs;
DROP TABLE technicians;
