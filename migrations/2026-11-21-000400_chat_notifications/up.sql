-- Chat per booking, the notification inbox, preferences and device tokens.

CREATE TABLE chat_messages (
    id           UUID PRIMARY KEY,
    booking_id   UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    sender_id    UUID NOT NULL REFERENCES users (id),
    sender_role  TEXT NOT NULL,
    message_type TEXT NOT NULL CHECK (message_type IN ('text', 'image', 'quick_reply')),
    content      TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_booking_idx ON chat_messages (booking_id, created_at, id);

CREATE TABLE notifications (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    booking_id      UUID REFERENCES bookings (id) ON DELETE SET NULL,
    event_type      TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    -- channels chosen when the notification was made (push, sms, email)
    channels        TEXT[] NOT NULL DEFAULT '{}',
    channels_sent   TEXT[] NOT NULL DEFAULT '{}',
    channels_failed TEXT[] NOT NULL DEFAULT '{}',
    retry_count     INTEGER NOT NULL DEFAULT 0,
    max_retries     INTEGER NOT NULL DEFAULT 3,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'partially_sent')),
    -- while `sending`: the time the claim lapses and another node may retry
    claimed_until   TIMESTAMPTZ,
    read_at         TIMESTAMPTZ,
    metadata        JSONB NOT NULL DEFAULT '{}',
    fcm_sent_at     TIMESTAMPTZ,
    sms_sent_at     TIMESTAMPTZ,
    email_sent_at   TIMESTAMPTZ,
    -- clock time, not transaction time: one change can notify several
    -- times, and the inbox must keep their order
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_pending_idx ON notifications (created_at) WHERE status IN ('pending', 'sending');

CREATE TABLE notification_preferences (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    enable_push  BOOLEAN NOT NULL DEFAULT TRUE,
    enable_sms   BOOLEAN NOT NULL DEFAULT TRUE,
    enable_email BOOLEAN NOT NULL DEFAULT TRUE,
    fcm_token    TEXT,
    phone_number TEXT,
    email        TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE device_tokens (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token      TEXT NOT NULL,
    platform   TEXT NOT NULL DEFAULT '',
    scope_type TEXT NOT NULL DEFAULT '',
    scope_id   UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT device_tokens_user_token_key UNIQUE (user_id, token)
);
