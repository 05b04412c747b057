DROP INDEX IF EXISTS bookings_updated_idx;
DROP INDEX IF EXISTS runners_updated_idx;
