-- An owner's review of the runner who carried a completed trip: one per
-- booking, answered at most once by the runner. The runner's `rating` is
-- the mean of these (kept with `total_reviews` in the review's transaction).
CREATE TABLE reviews (
    id          UUID PRIMARY KEY,
    booking_id  UUID NOT NULL UNIQUE REFERENCES bookings (id),
    runner_id   UUID NOT NULL REFERENCES users (id),
    owner_id    UUID NOT NULL REFERENCES users (id),
    rating      SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment     TEXT NOT NULL DEFAULT '',
    tags        TEXT[] NOT NULL DEFAULT '{}',
    reply       TEXT,
    replied_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reviews_runner_newest ON reviews (runner_id, created_at DESC, id DESC);

ALTER TABLE runners ADD COLUMN total_reviews INTEGER NOT NULL DEFAULT 0 CHECK (total_reviews >= 0);
