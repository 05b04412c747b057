-- Promos (contract §8.4), subscriptions (§8.5) and referrals (§8.3), and
-- what a payment was discounted by. A booking's price stays its price; what
-- the owner is charged is the price less the discounts and credit, and the
-- platform's marketing account pays the difference (docs/API.md#ledger).
CREATE TABLE promos (
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,
    discount_type text NOT NULL CHECK (discount_type IN ('percentage', 'fixed')),
    discount_value bigint NOT NULL CHECK (discount_value > 0),
    min_amount_cents bigint NOT NULL DEFAULT 0 CHECK (min_amount_cents >= 0),
    -- 0 = no cap
    max_discount_cents bigint NOT NULL DEFAULT 0 CHECK (max_discount_cents >= 0),
    -- 0 = unlimited
    max_uses integer NOT NULL DEFAULT 0 CHECK (max_uses >= 0),
    current_uses integer NOT NULL DEFAULT 0
        CHECK (current_uses >= 0 AND (max_uses = 0 OR current_uses <= max_uses)),
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL CHECK (valid_until > valid_from),
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE promo_uses (
    id uuid PRIMARY KEY,
    promo_id uuid NOT NULL REFERENCES promos (id),
    user_id uuid NOT NULL REFERENCES users (id),
    payment_id uuid NOT NULL UNIQUE REFERENCES payments (id),
    discount_cents bigint NOT NULL CHECK (discount_cents > 0),
    -- the payment failed or was refunded: the use was given back
    released_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- one live use per user and promo
CREATE UNIQUE INDEX promo_uses_once_idx ON promo_uses (promo_id, user_id) WHERE released_at IS NULL;

-- price = amount (charged) + discount (promo and subscription) + credit
ALTER TABLE payments
    ADD COLUMN discount_cents bigint NOT NULL DEFAULT 0 CHECK (discount_cents >= 0),
    ADD COLUMN credit_cents bigint NOT NULL DEFAULT 0 CHECK (credit_cents >= 0),
    ADD COLUMN promo_code text NOT NULL DEFAULT '';
-- the fee and the payout still split the whole price
ALTER TABLE payments DROP CONSTRAINT payments_check,
    ADD CONSTRAINT payments_split_check
        CHECK (platform_fee_cents + runner_payout_cents = amount_cents + discount_cents + credit_cents);

-- a subscriber's discount, fixed when the booking is priced (a table of its
-- own: bookings has as many columns as diesel's default build allows)
CREATE TABLE booking_discounts (
    booking_id uuid PRIMARY KEY REFERENCES bookings (id),
    discount_cents bigint NOT NULL CHECK (discount_cents > 0),
    reason text NOT NULL
);

CREATE TABLE subscriptions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    plan text NOT NULL CHECK (plan IN ('basic', 'premium')),
    price_cents bigint NOT NULL,
    discount_percent integer NOT NULL,
    started_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    -- cancelled: no renewal, still active until expires_at
    status text NOT NULL CHECK (status IN ('active', 'cancelled', 'expired')),
    auto_renew boolean NOT NULL,
    payment_reference text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id, expires_at DESC);

CREATE TABLE referral_codes (
    user_id uuid PRIMARY KEY REFERENCES users (id),
    code text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE referrals (
    id uuid PRIMARY KEY,
    referrer_id uuid NOT NULL REFERENCES users (id),
    -- each person is referred once
    referee_id uuid NOT NULL UNIQUE REFERENCES users (id) CHECK (referee_id <> referrer_id),
    reward_amount_cents bigint NOT NULL,
    referrer_credited boolean NOT NULL DEFAULT false,
    referee_credited boolean NOT NULL DEFAULT false,
    -- the referee's first completed booking, which paid the reward
    booking_id uuid REFERENCES bookings (id),
    credited_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referrals_referrer_idx ON referrals (referrer_id, created_at DESC);
