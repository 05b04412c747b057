-- Scheduled trips: the schedule itself is bookings.scheduled_at; these mark
-- the notices already given, so each is given once by whichever node's
-- sweeper gets there first.
ALTER TABLE bookings
    ADD COLUMN reminded_at timestamptz,
    ADD COLUMN schedule_missed_at timestamptz;

-- The schedule sweeper and the dispatch gate read only bookings still
-- waiting for their time.
CREATE INDEX bookings_scheduled_idx ON bookings (scheduled_at)
    WHERE scheduled_at IS NOT NULL AND status IN ('requested', 'accepted');
