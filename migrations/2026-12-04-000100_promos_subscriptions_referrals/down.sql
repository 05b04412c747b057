DROP TABLE IF EXISTS referrals;
DROP TABLE IF EXISTS referral_codes;
DROP TABLE IF EXISTS subscriptions;
DROP TABLE IF EXISTS booking_discounts;
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_split_check;
ALTER TABLE payments DROP COLUMN IF EXISTS discount_cents, DROP COLUMN IF EXISTS credit_cents,
    DROP COLUMN IF EXISTS promo_code;
ALTER TABLE payments ADD CONSTRAINT payments_check CHECK (platform_fee_cents + runner_payout_cents = amount_cents);
DROP TABLE IF EXISTS promo_uses;
DROP TABLE IF EXISTS promos;
