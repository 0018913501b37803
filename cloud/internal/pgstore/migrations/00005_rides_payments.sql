-- Rides, payment methods and payments. Money: bigint minor units + ISO 4217 currency.

-- +goose Up
-- Ride ids are uuids so a gateway can start and end a ride while the cloud is unreachable
-- and sync it later under the same id.
CREATE TABLE rides (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    rider_id         uuid NOT NULL REFERENCES riders (id),
    vehicle_id       bigint NOT NULL REFERENCES vehicles (id),
    city_id          bigint NOT NULL REFERENCES cities (id),
    tariff_id        bigint REFERENCES tariffs (id),
    state            text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'ended', 'cancelled')),
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    start_lat        double precision NOT NULL CHECK (start_lat BETWEEN -90 AND 90),
    start_lon        double precision NOT NULL CHECK (start_lon BETWEEN -180 AND 180),
    end_lat          double precision CHECK (end_lat BETWEEN -90 AND 90),
    end_lon          double precision CHECK (end_lon BETWEEN -180 AND 180),
    distance_m       bigint NOT NULL DEFAULT 0 CHECK (distance_m >= 0),
    -- GeoJSON LineString rebuilt from the GPS fixes.
    route            jsonb CHECK (jsonb_typeof(route) = 'object'),
    fare_breakdown   jsonb CHECK (jsonb_typeof(fare_breakdown) = 'object'),
    fare_total_minor bigint CHECK (fare_total_minor >= 0),
    currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (ended_at IS NULL OR ended_at >= started_at),
    CONSTRAINT rides_closed_have_end CHECK ((state IN ('ended', 'cancelled')) = (ended_at IS NOT NULL)),
    CONSTRAINT rides_ended_have_fare CHECK (state <> 'ended' OR fare_total_minor IS NOT NULL),
    CHECK ((end_lat IS NULL) = (end_lon IS NULL))
);
-- A vehicle carries at most one open ride.
CREATE UNIQUE INDEX rides_one_open_per_vehicle ON rides (vehicle_id) WHERE state IN ('active', 'paused');
CREATE INDEX rides_rider_started_idx ON rides (rider_id, started_at DESC);
CREATE INDEX rides_vehicle_started_idx ON rides (vehicle_id, started_at DESC);
CREATE INDEX rides_city_started_idx ON rides (city_id, started_at DESC);

-- Card data is never stored: the provider's token for the method is, encrypted
-- (cloud/internal/fieldcrypt), with the key id beside it. label is display text such as
-- "Visa ending 4242".
CREATE TABLE payment_methods (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    rider_id         uuid NOT NULL REFERENCES riders (id) ON DELETE CASCADE,
    provider         text NOT NULL CHECK (provider ~ '^[a-z0-9_.-]{1,64}$'),
    kind             text NOT NULL CHECK (kind IN ('card', 'wallet', 'bank_account')),
    label            text NOT NULL DEFAULT '' CHECK (char_length(label) <= 64),
    token_ciphertext bytea NOT NULL,
    token_key_id     text NOT NULL CHECK (char_length(token_key_id) BETWEEN 1 AND 64),
    is_default       boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz
);
CREATE INDEX payment_methods_rider_idx ON payment_methods (rider_id);
CREATE UNIQUE INDEX payment_methods_one_default ON payment_methods (rider_id) WHERE is_default AND revoked_at IS NULL;

CREATE TABLE payments (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    rider_id           uuid NOT NULL REFERENCES riders (id),
    payment_method_id  uuid REFERENCES payment_methods (id),
    method             text NOT NULL CHECK (method IN ('card', 'wallet', 'bank_account', 'balance', 'cash', 'promotion')),
    purpose            text NOT NULL CHECK (purpose IN ('top_up', 'ride', 'fine', 'refund')),
    ride_id            uuid REFERENCES rides (id),
    amount_minor       bigint NOT NULL CHECK (amount_minor > 0),
    currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    provider           text NOT NULL CHECK (provider ~ '^[a-z0-9_.-]{1,64}$'),
    provider_reference text CHECK (char_length(provider_reference) BETWEEN 1 AND 255),
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled', 'refunded')),
    failure_reason     text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- A provider webhook names its payment by reference: one row per reference.
CREATE UNIQUE INDEX payments_provider_reference_key ON payments (provider, provider_reference)
    WHERE provider_reference IS NOT NULL;
CREATE INDEX payments_rider_created_idx ON payments (rider_id, created_at DESC);

-- Reporting sees payment methods without the token.
REVOKE SELECT ON payment_methods FROM fleetedge_reporting;
GRANT SELECT (id, rider_id, provider, kind, label, is_default, created_at, revoked_at) ON payment_methods TO fleetedge_reporting;

-- +goose Down
DROP TABLE payments;
DROP TABLE payment_methods;
DROP TABLE rides;
