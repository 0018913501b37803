-- Rider account deletion (GDPR erasure) keeps the row, because rides, payments and ledger
-- entries refer to it, but erases what identifies the person (cloud/internal/account): the row
-- is marked 'deleted' with the time of deletion.

-- +goose Up
ALTER TABLE riders DROP CONSTRAINT riders_status_check;
ALTER TABLE riders ADD CONSTRAINT riders_status_check CHECK (status IN ('active', 'suspended', 'deleted'));
ALTER TABLE riders ADD COLUMN deleted_at timestamptz;
ALTER TABLE riders ADD CONSTRAINT riders_deleted_consistent CHECK (
    (status = 'deleted') = (deleted_at IS NOT NULL)
    -- an erased row keeps no secret and no phone
    AND (status <> 'deleted' OR (password_hash IS NULL AND phone_ciphertext IS NULL))
);
GRANT SELECT (deleted_at) ON riders TO fleetedge_reporting;

-- +goose Down
ALTER TABLE riders DROP CONSTRAINT riders_deleted_consistent;
ALTER TABLE riders DROP COLUMN deleted_at;
ALTER TABLE riders DROP CONSTRAINT riders_status_check;
ALTER TABLE riders ADD CONSTRAINT riders_status_check CHECK (status IN ('active', 'suspended'));
