-- Runners, crates, pets, pet shops, bookings with their history, decline
-- reasons, photos, and the transactional outbox.
-- Positions are plain latitude/longitude columns with a generated
-- geography point beside them, so writers never build PostGIS values and
-- every KNN query has a GiST index.

CREATE TABLE runners (
    id                  UUID PRIMARY KEY,
    user_id             UUID NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    full_name           TEXT NOT NULL,
    phone               TEXT NOT NULL DEFAULT '',
    vehicle_type        TEXT NOT NULL,
    vehicle_plate       TEXT NOT NULL,
    vehicle_model       TEXT NOT NULL,
    vehicle_year        INTEGER,
    air_conditioned     BOOLEAN NOT NULL DEFAULT FALSE,
    session_status      TEXT NOT NULL DEFAULT 'inactive' CHECK (session_status IN ('active', 'inactive')),
    latitude            DOUBLE PRECISION,
    longitude           DOUBLE PRECISION,
    location            GEOGRAPHY(Point, 4326)
                        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)::geography) STORED,
    location_updated_at TIMESTAMPTZ,
    rating              DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (rating >= 0 AND rating <= 5),
    total_trips         INTEGER NOT NULL DEFAULT 0,
    completion_rate     DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT runners_position_pair CHECK ((latitude IS NULL) = (longitude IS NULL))
);
CREATE INDEX runners_location_gist ON runners USING GIST (location) WHERE session_status = 'active';

CREATE TABLE runner_crates (
    id                     UUID PRIMARY KEY,
    runner_id              UUID NOT NULL REFERENCES runners (id) ON DELETE CASCADE,
    size                   TEXT NOT NULL,
    -- 1 small .. 4 xlarge; 0 for a size we do not know (never fits)
    size_rank              INTEGER NOT NULL,
    pet_types              TEXT[] NOT NULL,
    max_weight_kg          DOUBLE PRECISION NOT NULL,
    width_cm               DOUBLE PRECISION NOT NULL DEFAULT 0,
    height_cm              DOUBLE PRECISION NOT NULL DEFAULT 0,
    depth_cm               DOUBLE PRECISION NOT NULL DEFAULT 0,
    ventilated             BOOLEAN NOT NULL DEFAULT FALSE,
    temperature_controlled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX runner_crates_runner_idx ON runner_crates (runner_id);

CREATE TABLE pets (
    id                 UUID PRIMARY KEY,
    owner_id           UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    pet_type           TEXT NOT NULL CHECK (pet_type IN ('cat', 'dog', 'bird', 'rabbit', 'reptile', 'other')),
    breed              TEXT NOT NULL DEFAULT '',
    weight_kg          DOUBLE PRECISION NOT NULL DEFAULT 0,
    age_months         INTEGER NOT NULL DEFAULT 0,
    allergies          TEXT NOT NULL DEFAULT '',
    special_needs      TEXT NOT NULL DEFAULT '',
    notes              TEXT NOT NULL DEFAULT '',
    photo_url          TEXT NOT NULL DEFAULT '',
    vaccination_status TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pets_owner_idx ON pets (owner_id, created_at DESC) WHERE status = 'active';

CREATE TABLE pet_shops (
    id            UUID PRIMARY KEY,
    owner_id      UUID REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    address       TEXT NOT NULL,
    latitude      DOUBLE PRECISION NOT NULL,
    longitude     DOUBLE PRECISION NOT NULL,
    location      GEOGRAPHY(Point, 4326)
                  GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)::geography) STORED,
    phone         TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    category      TEXT NOT NULL CHECK (category IN ('grooming', 'vet', 'boarding', 'pet_store')),
    services      TEXT[] NOT NULL DEFAULT '{}',
    rating        DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (rating >= 0 AND rating <= 5),
    image_url     TEXT NOT NULL DEFAULT '',
    opening_hours TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pet_shops_location_gist ON pet_shops USING GIST (location);
CREATE INDEX pet_shops_owner_idx ON pet_shops (owner_id, created_at DESC);
CREATE INDEX pet_shops_rating_idx ON pet_shops (rating DESC, name ASC);

-- The seven shops of the reference's development seed (contract §4.14).
INSERT INTO pet_shops (id, name, address, latitude, longitude, category, rating) VALUES
    ('5eed0000-0000-4000-8000-000000000001', 'Paws & Claws Grooming', 'Jalan Sultan Ismail, Kuala Lumpur', 3.1466, 101.7108, 'grooming', 4.5),
    ('5eed0000-0000-4000-8000-000000000002', 'KL Pet Clinic', 'Jalan Ampang, Kuala Lumpur', 3.1590, 101.7200, 'vet', 4.3),
    ('5eed0000-0000-4000-8000-000000000003', 'Happy Tails Boarding', 'Bangsar South, Kuala Lumpur', 3.1209, 101.6270, 'boarding', 4.7),
    ('5eed0000-0000-4000-8000-000000000004', 'Pet Paradise Store', 'Mid Valley City, Kuala Lumpur', 3.1178, 101.6773, 'pet_store', 4.2),
    ('5eed0000-0000-4000-8000-000000000005', 'Furry Friends Vet', 'Bangsar, Kuala Lumpur', 3.1172, 101.6250, 'vet', 4.6),
    ('5eed0000-0000-4000-8000-000000000006', 'Bark & Bath Spa', 'Brickfields, Kuala Lumpur', 3.1300, 101.6710, 'grooming', 4.4),
    ('5eed0000-0000-4000-8000-000000000007', 'Meow Manor Cat Hotel', 'Sentul, Kuala Lumpur', 3.1650, 101.6550, 'boarding', 4.8);

CREATE TABLE bookings (
    id                    UUID PRIMARY KEY,
    booking_number        VARCHAR(20) NOT NULL UNIQUE,
    owner_id              UUID NOT NULL REFERENCES users (id),
    runner_id             UUID REFERENCES users (id),
    status                TEXT NOT NULL CHECK (status IN ('requested', 'accepted', 'in_progress', 'delivered', 'completed', 'cancelled')),
    pet_spec              JSONB NOT NULL,
    crate_requirement     JSONB NOT NULL,
    pickup_address        JSONB NOT NULL,
    dropoff_address       JSONB NOT NULL,
    route_spec            JSONB,
    -- denormalised from pet_spec/crate_requirement so the open pool filters in SQL
    pet_type              TEXT NOT NULL,
    pet_weight_kg         DOUBLE PRECISION NOT NULL,
    min_crate_rank        INTEGER NOT NULL,
    needs_temp_control    BOOLEAN NOT NULL,
    pickup_lat            DOUBLE PRECISION NOT NULL,
    pickup_lng            DOUBLE PRECISION NOT NULL,
    pickup_location       GEOGRAPHY(Point, 4326)
                          GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(pickup_lng, pickup_lat), 4326)::geography) STORED,
    estimated_price_cents BIGINT NOT NULL CHECK (estimated_price_cents > 0),
    final_price_cents     BIGINT,
    currency              TEXT NOT NULL DEFAULT 'MYR',
    scheduled_at          TIMESTAMPTZ,
    picked_up_at          TIMESTAMPTZ,
    delivered_at          TIMESTAMPTZ,
    cancelled_at          TIMESTAMPTZ,
    cancel_note           VARCHAR(500) NOT NULL DEFAULT '',
    notes                 VARCHAR(1000) NOT NULL DEFAULT '',
    version               INTEGER NOT NULL DEFAULT 1,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT bookings_runner_when_assigned CHECK (status IN ('requested', 'cancelled') OR runner_id IS NOT NULL)
);
CREATE INDEX bookings_owner_idx ON bookings (owner_id, created_at DESC);
CREATE INDEX bookings_runner_idx ON bookings (runner_id, created_at DESC) WHERE runner_id IS NOT NULL;
CREATE INDEX bookings_open_pool_gist ON bookings USING GIST (pickup_location) WHERE status = 'requested' AND runner_id IS NULL;
CREATE INDEX bookings_created_idx ON bookings (created_at DESC, id DESC);

CREATE TABLE booking_status_history (
    id          UUID PRIMARY KEY,
    booking_id  UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor_id    UUID,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX booking_status_history_booking_idx ON booking_status_history (booking_id, created_at);

CREATE TABLE booking_decline_reasons (
    id          UUID PRIMARY KEY,
    booking_id  UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    runner_id   UUID NOT NULL REFERENCES users (id),
    reason      TEXT NOT NULL,
    declined_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX booking_decline_reasons_booking_idx ON booking_decline_reasons (booking_id);

CREATE TABLE booking_photos (
    id         UUID PRIMARY KEY,
    booking_id UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    runner_id  UUID NOT NULL REFERENCES users (id),
    photo_type TEXT NOT NULL CHECK (photo_type IN ('pickup', 'delivery')),
    photo_url  TEXT NOT NULL,
    caption    TEXT NOT NULL DEFAULT '',
    taken_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX booking_photos_booking_idx ON booking_photos (booking_id, taken_at);

-- Domain events written in the same transaction as the change they
-- describe; the relay (real-time issue) publishes and marks them.
CREATE TABLE outbox (
    id             BIGSERIAL PRIMARY KEY,
    event_id       UUID NOT NULL UNIQUE,
    aggregate_type TEXT NOT NULL,
    aggregate_id   UUID NOT NULL,
    event_type     TEXT NOT NULL,
    payload        JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at   TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_aggregate_idx ON outbox (aggregate_id, id);
