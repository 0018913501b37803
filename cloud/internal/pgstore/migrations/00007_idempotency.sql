-- Idempotency keys for top-ups, charges and any retried POST: the first request with a key
-- inserts the row (response NULL = in progress); a retry with the same key and the same
-- request hash gets the stored response; a different request hash is a client error.

-- +goose Up
CREATE TABLE idempotency_keys (
    scope           text NOT NULL CHECK (char_length(scope) BETWEEN 1 AND 200),
    key             text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash    bytea NOT NULL CHECK (octet_length(request_hash) = 32),
    response_status integer CHECK (response_status BETWEEN 100 AND 599),
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (scope, key),
    CHECK (expires_at > created_at),
    CONSTRAINT idempotency_keys_completed_have_status CHECK ((completed_at IS NULL) = (response_status IS NULL))
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

REVOKE SELECT ON idempotency_keys FROM fleetedge_reporting;

-- +goose Down
DROP TABLE idempotency_keys;
