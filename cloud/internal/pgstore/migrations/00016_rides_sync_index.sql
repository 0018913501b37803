-- The ride sync to ClickHouse (cloud/internal/analytics) reads ended rides keyset on
-- (greatest(updated_at, ended_at), id) every 10 s; without this index each pass scans rides.

-- +goose Up
CREATE INDEX rides_ended_changed_idx ON rides ((greatest(updated_at, ended_at)), id) WHERE state = 'ended';

-- +goose Down
DROP INDEX rides_ended_changed_idx;
