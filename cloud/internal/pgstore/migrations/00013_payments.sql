-- Payments area (cloud/internal/payments): refunds point at the payment they refund, provider
-- webhooks are recorded by event id so a redelivered event changes nothing, and admin lists page
-- payments by time.

-- +goose Up
-- A refund is a payments row of purpose 'refund' naming the payment it gives money back for;
-- the sum of a payment's live refunds never exceeds it (checked under the rider's ledger lock).
ALTER TABLE payments ADD COLUMN refund_of uuid REFERENCES payments (id);
ALTER TABLE payments ADD CONSTRAINT payments_refund_of_only_refunds CHECK (refund_of IS NULL OR purpose = 'refund');
ALTER TABLE payments ADD CONSTRAINT payments_failure_reason_length CHECK (char_length(failure_reason) <= 500);
CREATE INDEX payments_refund_of_idx ON payments (refund_of) WHERE refund_of IS NOT NULL;
CREATE INDEX payments_created_idx ON payments (created_at DESC, id DESC);

-- One row per provider event processed: the webhook handler inserts it in the transaction that
-- applies the event, ON CONFLICT DO NOTHING, so a duplicate delivery applies nothing.
CREATE TABLE payment_webhook_events (
    provider    text NOT NULL CHECK (provider ~ '^[a-z0-9_.-]{1,64}$'),
    event_id    text NOT NULL CHECK (char_length(event_id) BETWEEN 1 AND 255),
    event_type  text NOT NULL CHECK (char_length(event_type) BETWEEN 1 AND 64),
    payment_id  uuid REFERENCES payments (id),
    -- applied: changed a payment; unchanged: the payment was already in that state;
    -- ignored: unknown payment or an event that contradicts a final state (logged).
    outcome     text NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'ignored')),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX payment_webhook_events_payment_idx ON payment_webhook_events (payment_id) WHERE payment_id IS NOT NULL;
-- Processed events are history: the app inserts and reads them only.
REVOKE UPDATE, DELETE, TRUNCATE ON payment_webhook_events FROM fleetedge_app;

-- +goose Down
DROP TABLE payment_webhook_events;
DROP INDEX payments_created_idx;
DROP INDEX payments_refund_of_idx;
ALTER TABLE payments DROP CONSTRAINT payments_failure_reason_length;
ALTER TABLE payments DROP CONSTRAINT payments_refund_of_only_refunds;
ALTER TABLE payments DROP COLUMN refund_of;
