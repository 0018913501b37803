-- Double-entry ledger. Every balance change is a journal transaction whose entries (signed
-- amounts in minor units) sum to zero per currency; a deferred constraint trigger refuses to
-- commit any transaction that does not. A balance is the sum of its account's entries: there is
-- no balance column to drift.
--
-- Sign convention: a rider_balance account's sum is what the operator owes the rider (credit
-- the rider can spend). Top-up of 10.00: rider +1000, provider_clearing -1000. Ride fare
-- 3.50: rider -350, revenue +350. Refund: the reverse of the charge.
--
-- Entries and journal transactions are append-only for the app: corrections are new
-- transactions.

-- +goose Up
CREATE TABLE ledger_accounts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('rider_balance', 'revenue', 'cash', 'provider_clearing', 'promotions', 'fines')),
    rider_id   uuid REFERENCES riders (id),
    currency   char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The one column the app may update: touching it (or SELECT … FOR UPDATE, which needs an
    -- UPDATE grant) locks the account row, serialising "check balance, then post" per account.
    last_posted_at timestamptz,
    UNIQUE (id, currency),
    CONSTRAINT ledger_accounts_rider_iff_balance CHECK ((kind = 'rider_balance') = (rider_id IS NOT NULL))
);
CREATE UNIQUE INDEX ledger_accounts_rider_key ON ledger_accounts (rider_id, currency) WHERE rider_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_accounts_system_key ON ledger_accounts (kind, currency) WHERE rider_id IS NULL;

CREATE TABLE ledger_transactions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('top_up', 'ride_charge', 'fine', 'refund', 'adjustment', 'promotion')),
    ride_id          uuid REFERENCES rides (id),
    payment_id       uuid REFERENCES payments (id),
    created_by_admin uuid REFERENCES admins (id),
    description      text NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
    occurred_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ledger_transactions_ride_charge_has_ride CHECK (kind <> 'ride_charge' OR ride_id IS NOT NULL),
    CONSTRAINT ledger_transactions_top_up_has_payment CHECK (kind <> 'top_up' OR payment_id IS NOT NULL)
);
-- Idempotent money movements: a ride is charged once, a payment credited once.
CREATE UNIQUE INDEX ledger_transactions_ride_charge_once ON ledger_transactions (ride_id) WHERE kind = 'ride_charge';
CREATE UNIQUE INDEX ledger_transactions_top_up_once ON ledger_transactions (payment_id) WHERE kind = 'top_up';
CREATE INDEX ledger_transactions_occurred_idx ON ledger_transactions (occurred_at);

CREATE TABLE ledger_entries (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
    account_id     bigint NOT NULL,
    currency       char(3) NOT NULL,
    amount_minor   bigint NOT NULL CHECK (amount_minor <> 0),
    -- An entry is in its account's currency.
    FOREIGN KEY (account_id, currency) REFERENCES ledger_accounts (id, currency)
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id) INCLUDE (amount_minor);
CREATE INDEX ledger_entries_transaction_idx ON ledger_entries (transaction_id);

-- Checked at COMMIT (deferred), after all entries of the transaction are in.
-- +goose StatementBegin
CREATE FUNCTION ledger_assert_balanced() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    txs bigint[];
    tx bigint;
    bad record;
BEGIN
    IF TG_TABLE_NAME = 'ledger_transactions' THEN
        txs := ARRAY[NEW.id];
    ELSIF TG_OP = 'INSERT' THEN
        txs := ARRAY[NEW.transaction_id];
    ELSIF TG_OP = 'DELETE' THEN
        txs := ARRAY[OLD.transaction_id];
    ELSE
        txs := ARRAY[OLD.transaction_id, NEW.transaction_id];
    END IF;
    FOREACH tx IN ARRAY txs LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM ledger_transactions WHERE id = tx);
        IF (SELECT count(*) FROM ledger_entries WHERE transaction_id = tx) < 2 THEN
            RAISE EXCEPTION 'ledger transaction % has fewer than two entries', tx
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_balanced';
        END IF;
        SELECT currency, sum(amount_minor) AS total INTO bad
          FROM ledger_entries WHERE transaction_id = tx
         GROUP BY currency HAVING sum(amount_minor) <> 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger transaction % does not balance: % entries sum to %', tx, bad.currency, bad.total
                USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_balanced';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT OR UPDATE OR DELETE ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_assert_balanced();
CREATE CONSTRAINT TRIGGER ledger_transactions_have_entries
    AFTER INSERT ON ledger_transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_assert_balanced();

REVOKE UPDATE, DELETE, TRUNCATE ON ledger_accounts, ledger_transactions, ledger_entries FROM fleetedge_app;
GRANT UPDATE (last_posted_at) ON ledger_accounts TO fleetedge_app;

CREATE VIEW ledger_account_balances AS
    SELECT a.id AS account_id, a.kind, a.rider_id, a.currency,
           coalesce(sum(e.amount_minor), 0)::bigint AS balance_minor
      FROM ledger_accounts a
      LEFT JOIN ledger_entries e ON e.account_id = a.id
     GROUP BY a.id;

CREATE VIEW rider_balances AS
    SELECT rider_id, currency, balance_minor FROM ledger_account_balances WHERE kind = 'rider_balance';

REVOKE INSERT, UPDATE, DELETE ON ledger_account_balances, rider_balances FROM fleetedge_app;

-- +goose Down
DROP VIEW rider_balances;
DROP VIEW ledger_account_balances;
DROP TABLE ledger_entries;
DROP TABLE ledger_transactions;
DROP FUNCTION ledger_assert_balanced();
DROP TABLE ledger_accounts;
