DROP TABLE IF EXISTS referrals;
DROP TABLE IF EXISTS referral_codes;
DROP TABLE IF EXISTS subscriptions;
DROP TABLE IF EXISTS booking_discounts;
ALTER TABLE payments DROP COLUMN IF EXISTS discount_cents, DROP COLUMN IF EXISTS credit_cents,
    DROP COLUMN IF EXISTS promo_code;
DROP TABLE IF EXISTS promo_uses;
DROP TABLE IF EXISTS promos;
