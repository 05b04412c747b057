-- Per-aggregate sequence numbers on the outbox (a booking's events are
-- numbered 1, 2, 3…; sockets resume from the last one they saw), trip
-- tracks with their waypoints, and tracking share links.

ALTER TABLE outbox ADD COLUMN seq BIGINT;
UPDATE outbox o SET seq = n.seq
FROM (SELECT id, row_number() OVER (PARTITION BY aggregate_id ORDER BY id) AS seq FROM outbox) n
WHERE o.id = n.id;
ALTER TABLE outbox ALTER COLUMN seq SET NOT NULL;
DROP INDEX outbox_aggregate_idx;
CREATE UNIQUE INDEX outbox_aggregate_seq_key ON outbox (aggregate_id, seq);

CREATE TABLE trip_tracks (
    id                UUID PRIMARY KEY,
    booking_id        UUID NOT NULL UNIQUE REFERENCES bookings (id) ON DELETE CASCADE,
    runner_id         UUID NOT NULL REFERENCES users (id),
    status            TEXT NOT NULL CHECK (status IN ('active', 'completed', 'cancelled')),
    total_distance_km DOUBLE PRECISION NOT NULL DEFAULT 0,
    started_at        TIMESTAMPTZ NOT NULL,
    completed_at      TIMESTAMPTZ,
    version           INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX trip_tracks_runner_active_idx ON trip_tracks (runner_id) WHERE status = 'active';

CREATE TABLE trip_waypoints (
    id              UUID PRIMARY KEY,
    track_id        UUID NOT NULL REFERENCES trip_tracks (id) ON DELETE CASCADE,
    latitude        DOUBLE PRECISION NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude       DOUBLE PRECISION NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    speed_kmh       DOUBLE PRECISION NOT NULL DEFAULT 0,
    heading_degrees DOUBLE PRECISION NOT NULL DEFAULT 0,
    recorded_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX trip_waypoints_track_idx ON trip_waypoints (track_id, recorded_at, id);

CREATE TABLE tracking_shares (
    id         UUID PRIMARY KEY,
    booking_id UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    token      TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX tracking_shares_booking_idx ON tracking_shares (booking_id, created_at DESC);
