-- A double-entry ledger (docs/API.md#ledger): every money movement is one
-- ledger transaction whose entries sum to zero, in integer sen, written in
-- the transaction of the event that moved the money. Balances are sums of
-- entries; an account row exists so a movement that must not overdraw can
-- lock it (a runner's cash-out).
CREATE TABLE ledger_accounts (
    -- 'escrow', 'platform:fees', 'owner:<uuid>:funding', 'runner:<uuid>:available', …
    code text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('escrow', 'platform_fees', 'platform_marketing', 'platform_subscriptions',
                                       'owner_funding', 'owner_credit', 'runner_available', 'runner_in_flight',
                                       'runner_paid_out')),
    holder_id uuid REFERENCES users (id),
    currency text NOT NULL DEFAULT 'MYR',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_transactions (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    payment_id uuid REFERENCES payments (id),
    booking_id uuid REFERENCES bookings (id),
    cash_out_id uuid,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- one transaction per kind of payment event (a repeated step cannot post twice)
CREATE UNIQUE INDEX ledger_transactions_payment_kind ON ledger_transactions (payment_id, kind)
    WHERE payment_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_transactions_cash_out_kind ON ledger_transactions (cash_out_id, kind)
    WHERE cash_out_id IS NOT NULL;

CREATE TABLE ledger_entries (
    id bigserial PRIMARY KEY,
    transaction_id uuid NOT NULL REFERENCES ledger_transactions (id),
    account text NOT NULL REFERENCES ledger_accounts (code),
    amount_cents bigint NOT NULL CHECK (amount_cents <> 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account);
CREATE INDEX ledger_entries_transaction_idx ON ledger_entries (transaction_id);

-- Runners' payout destinations: the account number is never stored whole.
CREATE TABLE payout_destinations (
    id uuid PRIMARY KEY,
    runner_id uuid NOT NULL REFERENCES users (id),
    bank_name text NOT NULL,
    account_holder text NOT NULL,
    account_masked text NOT NULL,
    -- the payout rail's id for it (a Stripe connected account, acct_…)
    rail_account text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payout_destinations_runner_idx ON payout_destinations (runner_id, created_at DESC);

CREATE TABLE cash_outs (
    id uuid PRIMARY KEY,
    runner_id uuid NOT NULL REFERENCES users (id),
    destination_id uuid NOT NULL REFERENCES payout_destinations (id),
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    fee_cents bigint NOT NULL CHECK (fee_cents >= 0),
    currency text NOT NULL DEFAULT 'MYR',
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    rail text NOT NULL,
    rail_reference text NOT NULL DEFAULT '',
    failure_reason text NOT NULL DEFAULT '',
    attempts integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    -- when the worker may try it next; NULL once finished or dead-lettered
    next_attempt_at timestamptz,
    lease_until timestamptz,
    dead_lettered_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    failed_at timestamptz
);
CREATE INDEX cash_outs_runner_idx ON cash_outs (runner_id, created_at DESC);
CREATE INDEX cash_outs_due_idx ON cash_outs (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX cash_outs_dead_idx ON cash_outs (dead_lettered_at) WHERE dead_lettered_at IS NOT NULL;

-- Backfill: the escrow movements of payments made before the ledger.
INSERT INTO ledger_accounts (code, kind) VALUES ('escrow', 'escrow'), ('platform:fees', 'platform_fees');
INSERT INTO ledger_accounts (code, kind, holder_id)
    SELECT DISTINCT 'owner:' || owner_id || ':funding', 'owner_funding', owner_id FROM payments
    WHERE escrow_held_at IS NOT NULL;
INSERT INTO ledger_accounts (code, kind, holder_id)
    SELECT DISTINCT 'runner:' || runner_id || ':available', 'runner_available', runner_id FROM payments
    WHERE escrow_status = 'released' AND runner_id IS NOT NULL;

CREATE TEMPORARY TABLE backfill AS
    SELECT p.*, gen_random_uuid() AS held_tx, gen_random_uuid() AS second_tx FROM payments p
    WHERE p.escrow_held_at IS NOT NULL;
INSERT INTO ledger_transactions (id, kind, payment_id, booking_id, created_at)
    SELECT held_tx, 'escrow_held', id, booking_id, escrow_held_at FROM backfill;
INSERT INTO ledger_entries (transaction_id, account, amount_cents, created_at)
    SELECT held_tx, 'owner:' || owner_id || ':funding', -amount_cents, escrow_held_at FROM backfill
    UNION ALL SELECT held_tx, 'escrow', amount_cents, escrow_held_at FROM backfill;
INSERT INTO ledger_transactions (id, kind, payment_id, booking_id, created_at)
    SELECT second_tx, CASE WHEN escrow_status = 'released' THEN 'escrow_released' ELSE 'escrow_returned' END,
           id, booking_id, updated_at
    FROM backfill WHERE escrow_status IN ('released', 'refunded', 'failed');
INSERT INTO ledger_entries (transaction_id, account, amount_cents, created_at)
    SELECT second_tx, 'escrow', -amount_cents, updated_at FROM backfill
        WHERE escrow_status IN ('released', 'refunded', 'failed')
    UNION ALL SELECT second_tx, 'runner:' || runner_id || ':available', runner_payout_cents, updated_at FROM backfill
        WHERE escrow_status = 'released' AND runner_payout_cents <> 0
    UNION ALL SELECT second_tx, 'platform:fees', platform_fee_cents, updated_at FROM backfill
        WHERE escrow_status = 'released' AND platform_fee_cents <> 0
    UNION ALL SELECT second_tx, 'owner:' || owner_id || ':funding', amount_cents, updated_at FROM backfill
        WHERE escrow_status IN ('refunded', 'failed');
DROP TABLE backfill;
