-- Dispatch leases: the node dispatching a requested booking holds a lease
-- (renewed while it works); a sweeper on every node claims bookings whose
-- lease lapsed, so a crashed node's bookings are picked up within seconds.
-- A booking without a row here has never been dispatched.
CREATE TABLE booking_dispatch (
    booking_id  UUID PRIMARY KEY REFERENCES bookings (id) ON DELETE CASCADE,
    node        TEXT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    -- after a pass found nobody: not before this time again
    next_at     TIMESTAMPTZ,
    passes      INTEGER NOT NULL DEFAULT 0,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX booking_dispatch_lease_idx ON booking_dispatch (lease_until);
CREATE INDEX bookings_dispatch_queue_idx ON bookings (created_at) WHERE status = 'requested' AND runner_id IS NULL;
