-- The operators' live feed reads what changed since its last look, once a
-- second per console: runners (positions, shifts) and bookings by updated_at.
CREATE INDEX runners_updated_idx ON runners (updated_at);
CREATE INDEX bookings_updated_idx ON bookings (updated_at);
