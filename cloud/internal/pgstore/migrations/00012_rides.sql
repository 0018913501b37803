-- Rides from reservation to receipt (cloud/internal/rides).
--
-- A ride row is created in state 'starting' when a rider reserves a vehicle: the power-on
-- command is then on its way and the ride starts ('active') only on the scooter's ack, or is
-- 'cancelled' (no charge) on a refusal or timeout. 'starting' counts as open, so the unique
-- indexes below make the reservation atomic: one open ride per vehicle (two riders racing for
-- one scooter: exactly one insert succeeds) and one open ride per rider.
--
-- Pauses are intervals in ride_pauses (the tariff's pause price applies to them); n numbers a
-- ride's pauses from 1 and names the pause/resume commands ("<ride>:pause:<n>").

-- +goose Up
ALTER TABLE rides DROP CONSTRAINT rides_state_check;
ALTER TABLE rides ADD CONSTRAINT rides_state_check
    CHECK (state IN ('starting', 'active', 'paused', 'ended', 'cancelled'));

DROP INDEX rides_one_open_per_vehicle;
CREATE UNIQUE INDEX rides_one_open_per_vehicle ON rides (vehicle_id) WHERE state IN ('starting', 'active', 'paused');
-- The sweeper of stale reservations looks them up by state; a rider's open ride by rider.
CREATE INDEX rides_open_state_idx ON rides (state, updated_at) WHERE state IN ('starting', 'active', 'paused');
CREATE INDEX rides_open_rider_idx ON rides (rider_id) WHERE state IN ('starting', 'active', 'paused');

ALTER TABLE rides
    -- Who ended the ride: 'rider', 'suspension', or the gateway's ended_by ('vehicle', 'gateway', …).
    ADD COLUMN end_reason text CHECK (char_length(end_reason) BETWEEN 1 AND 32),
    -- The rider confirmed ending where ride_end_allowed is false (the out-of-zone fine applies).
    ADD COLUMN fine_accepted boolean NOT NULL DEFAULT false,
    -- The scooter never confirmed the power-off: ended and billed at the last known position.
    ADD COLUMN end_unconfirmed boolean NOT NULL DEFAULT false,
    -- Why a reservation was cancelled ('vehicle_refused', 'vehicle_not_responding', 'stale', …).
    ADD COLUMN cancel_reason text CHECK (char_length(cancel_reason) BETWEEN 1 AND 32);

CREATE TABLE ride_pauses (
    ride_id    uuid NOT NULL REFERENCES rides (id),
    n          integer NOT NULL CHECK (n > 0),
    started_at timestamptz NOT NULL,
    ended_at   timestamptz,
    PRIMARY KEY (ride_id, n),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
-- At most one open pause per ride.
CREATE UNIQUE INDEX ride_pauses_one_open ON ride_pauses (ride_id) WHERE ended_at IS NULL;

-- +goose Down
DROP TABLE ride_pauses;
ALTER TABLE rides DROP COLUMN cancel_reason, DROP COLUMN end_unconfirmed, DROP COLUMN fine_accepted, DROP COLUMN end_reason;
DROP INDEX rides_open_rider_idx;
DROP INDEX rides_open_state_idx;
DROP INDEX rides_one_open_per_vehicle;
CREATE UNIQUE INDEX rides_one_open_per_vehicle ON rides (vehicle_id) WHERE state IN ('active', 'paused');
ALTER TABLE rides DROP CONSTRAINT rides_state_check;
ALTER TABLE rides ADD CONSTRAINT rides_state_check CHECK (state IN ('active', 'paused', 'ended', 'cancelled'));
