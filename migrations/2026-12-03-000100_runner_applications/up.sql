-- Runner applications (contract §8.2): a person applies before having an
-- account; an admin approves or rejects.
CREATE TABLE runner_applications (
    id uuid PRIMARY KEY,
    -- KR-<year>-<5 digits>: the year's sequence, gap-free
    application_number text NOT NULL UNIQUE,
    name text NOT NULL,
    phone text NOT NULL,
    -- optional in the apps' body; approval mails it and lets it sign up as a runner
    email text,
    ic_number text NOT NULL UNIQUE,
    vehicle_type text NOT NULL CHECK (vehicle_type IN ('motorbike', 'car', 'bicycle')),
    plate_number text NOT NULL,
    pet_experience text[] NOT NULL,
    comfortable_with_live_pets boolean NOT NULL,
    consent_acknowledged boolean NOT NULL CHECK (consent_acknowledged),
    status text NOT NULL DEFAULT 'pending_review'
        CHECK (status IN ('pending_review', 'approved', 'rejected')),
    reject_reason text NOT NULL DEFAULT '',
    reviewed_by uuid REFERENCES users (id),
    reviewed_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX runner_applications_status_idx ON runner_applications (status, created_at DESC);
CREATE INDEX runner_applications_approved_email_idx ON runner_applications (email)
    WHERE status = 'approved';

-- One row per year: the last number handed out. Taken under its row lock in
-- the applying transaction, so a rolled-back application gives its number back.
CREATE TABLE runner_application_counters (
    year integer PRIMARY KEY,
    last_number integer NOT NULL
);
