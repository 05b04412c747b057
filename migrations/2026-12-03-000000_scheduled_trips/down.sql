DROP INDEX IF EXISTS bookings_scheduled_idx;
ALTER TABLE bookings DROP COLUMN IF EXISTS reminded_at, DROP COLUMN IF EXISTS schedule_missed_at;
