-- Escrow payments (contract §2.5, §4.7). One row per attempt to pay for a
-- booking; at most one attempt is live (not `failed`) at a time. Money is
-- integer sen throughout.
CREATE TABLE payments (
    id                  UUID PRIMARY KEY,
    booking_id          UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    booking_number      VARCHAR(20) NOT NULL,
    owner_id            UUID NOT NULL REFERENCES users (id),
    -- the runner paid out, set at release
    runner_id           UUID REFERENCES users (id),
    -- 1, 2, … per booking: part of the provider idempotency key
    attempt             INTEGER NOT NULL CHECK (attempt > 0),
    escrow_status       TEXT NOT NULL DEFAULT 'pending'
                        CHECK (escrow_status IN ('pending', 'held', 'released', 'refunded', 'failed')),
    amount_cents        BIGINT NOT NULL CHECK (amount_cents > 0),
    platform_fee_cents  BIGINT NOT NULL CHECK (platform_fee_cents >= 0),
    runner_payout_cents BIGINT NOT NULL CHECK (runner_payout_cents >= 0),
    currency            TEXT NOT NULL,
    customer_email      TEXT NOT NULL,
    provider            TEXT NOT NULL,
    payment_method      TEXT NOT NULL DEFAULT '',
    stripe_payment_id   TEXT NOT NULL DEFAULT '',
    failure_reason      TEXT NOT NULL DEFAULT '',
    refund_reason       TEXT NOT NULL DEFAULT '',
    escrow_held_at      TIMESTAMPTZ,
    captured_at         TIMESTAMPTZ,
    escrow_released_at  TIMESTAMPTZ,
    refunded_at         TIMESTAMPTZ,
    failed_at           TIMESTAMPTZ,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (booking_id, attempt),
    CHECK (platform_fee_cents + runner_payout_cents = amount_cents)
);
-- one live payment per booking: a second initiate is a 409, a failed one may be retried
CREATE UNIQUE INDEX payments_live_booking_idx ON payments (booking_id) WHERE escrow_status <> 'failed';
CREATE INDEX payments_stripe_idx ON payments (stripe_payment_id) WHERE stripe_payment_id <> '';
CREATE INDEX payments_booking_idx ON payments (booking_id, created_at DESC);
CREATE INDEX payments_created_idx ON payments (created_at DESC, id DESC);

-- Saga steps still to do (capture after confirm; void/refund after cancel
-- or an admin refund). At most one step per payment at a time; a node
-- claims a due step by pushing `next_attempt_at` forward (a lease), so a
-- crashed node's step runs again later. Steps are idempotent at the
-- provider (one idempotency key per payment and step).
CREATE TABLE payment_jobs (
    id              BIGSERIAL PRIMARY KEY,
    payment_id      UUID NOT NULL UNIQUE REFERENCES payments (id) ON DELETE CASCADE,
    step            TEXT NOT NULL CHECK (step IN ('capture', 'void')),
    reason          TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payment_jobs_due_idx ON payment_jobs (next_attempt_at);

-- Steps that kept failing: kept for an admin to read and retry.
CREATE TABLE payment_dead_letters (
    id          BIGSERIAL PRIMARY KEY,
    payment_id  UUID NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    step        TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL,
    last_error  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    retried_at  TIMESTAMPTZ
);
CREATE INDEX payment_dead_letters_open_idx ON payment_dead_letters (created_at DESC) WHERE retried_at IS NULL;

-- Provider webhook events already processed (each Stripe event id once).
CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
