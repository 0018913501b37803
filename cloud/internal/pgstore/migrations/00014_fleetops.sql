-- Fleet operations (cloud/internal/fleetops): bulk command jobs and firmware upgrade jobs with
-- one row per vehicle holding its outcome. city is the city code (a NATS subject token, as in
-- vehicle_events) and vehicle the vehicle number: a job may name a vehicle the registry does
-- not hold yet (known only from its gateway's live state).
-- fleetedge_app gets DML through the default privileges of 00001; rows are never deleted by
-- the app (the job history is part of what an operator did), so DELETE is revoked.

-- +goose Up
CREATE TABLE command_jobs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    city        text NOT NULL CHECK (city ~ '^[a-z0-9_-]{1,64}$'),
    code        integer NOT NULL CHECK (code BETWEEN 1 AND 255),
    fields      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(fields) = 'object'),
    -- How the vehicles were chosen: {"zone_id": …} | {"vehicles": […]} | {"battery_below": …}.
    selector    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(selector) = 'object'),
    concurrency integer NOT NULL CHECK (concurrency BETWEEN 1 AND 256),
    timeout_ms  integer NOT NULL CHECK (timeout_ms BETWEEN 0 AND 600000),
    state       text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'interrupted')),
    created_by  uuid NOT NULL REFERENCES admins (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CHECK ((state = 'running') = (finished_at IS NULL))
);
CREATE INDEX command_jobs_city_created_idx ON command_jobs (city, created_at DESC);

CREATE TABLE command_job_vehicles (
    job_id     uuid NOT NULL REFERENCES command_jobs (id),
    vehicle    text NOT NULL CHECK (vehicle ~ '^[A-Za-z0-9_-]{1,32}$'),
    -- pending → sending → one of the link outcomes, or no_gateway / no_reply / error.
    state      text NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'sending', 'acked', 'failed', 'timeout', 'rejected', 'expired',
                                'no_gateway', 'no_reply', 'error')),
    reply_code integer,
    status     integer,
    reply      jsonb,
    error      text NOT NULL DEFAULT '' CHECK (char_length(error) <= 1000),
    latency_ms double precision,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, vehicle)
);
CREATE INDEX command_job_vehicles_pending_idx ON command_job_vehicles (job_id) WHERE state IN ('pending', 'sending');

CREATE TABLE firmware_jobs (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    city         text NOT NULL CHECK (city ~ '^[a-z0-9_-]{1,64}$'),
    version      text NOT NULL CHECK (char_length(version) BETWEEN 1 AND 64),
    image        bytea NOT NULL CHECK (octet_length(image) BETWEEN 1 AND 524288),
    image_sha256 text NOT NULL CHECK (image_sha256 ~ '^[0-9a-f]{64}$'),
    packages     integer NOT NULL CHECK (packages > 0),
    -- vehicles upgrading at once (dispatched, not yet ended).
    concurrency  integer NOT NULL CHECK (concurrency BETWEEN 1 AND 1000),
    max_restarts integer NOT NULL DEFAULT 0 CHECK (max_restarts BETWEEN 0 AND 10),
    state        text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'cancelled')),
    created_by   uuid NOT NULL REFERENCES admins (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    CHECK ((state = 'running') = (finished_at IS NULL))
);
CREATE INDEX firmware_jobs_running_idx ON firmware_jobs (created_at) WHERE state = 'running';

CREATE TABLE firmware_job_vehicles (
    job_id        uuid NOT NULL REFERENCES firmware_jobs (id),
    vehicle       text NOT NULL CHECK (vehicle ~ '^[A-Za-z0-9_-]{1,32}$'),
    -- pending: not sent yet; dispatched: the gateway accepted it; running: progress seen;
    -- succeeded / failed: the gateway's final event (or a refused dispatch).
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'dispatched', 'running', 'succeeded', 'failed')),
    sent          integer NOT NULL DEFAULT 0 CHECK (sent >= 0),
    total         integer NOT NULL DEFAULT 0 CHECK (total >= 0),
    failures      integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error         text NOT NULL DEFAULT '' CHECK (char_length(error) <= 1000),
    -- time of the newest gateway event applied: older (redelivered, reordered) events are ignored.
    event_at      timestamptz,
    dispatched_at timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, vehicle)
);
CREATE INDEX firmware_job_vehicles_open_idx ON firmware_job_vehicles (job_id, state)
    WHERE state IN ('pending', 'dispatched', 'running');

REVOKE DELETE ON command_jobs, command_job_vehicles, firmware_jobs, firmware_job_vehicles FROM fleetedge_app;
-- Reporting sees the jobs, not the firmware images.
REVOKE SELECT ON firmware_jobs FROM fleetedge_reporting;
GRANT SELECT (id, city, version, image_sha256, packages, concurrency, max_restarts, state, created_by, created_at, finished_at)
    ON firmware_jobs TO fleetedge_reporting;

-- +goose Down
DROP TABLE firmware_job_vehicles;
DROP TABLE firmware_jobs;
DROP TABLE command_job_vehicles;
DROP TABLE command_jobs;
