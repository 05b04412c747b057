-- A session is one sign-in on one device: the refresh-token family it
-- started and the access tokens minted from it (they carry its id as `sid`).
-- Logout ends one session; a ban, a password reset or "sign out everywhere"
-- ends them all (and bumps users.token_version).
CREATE TABLE auth_sessions (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at   TIMESTAMPTZ
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id) WHERE ended_at IS NULL;

-- Every existing family becomes a session (ended when none of its tokens lives).
INSERT INTO auth_sessions (id, user_id, created_at, ended_at)
SELECT family_id, min(user_id::text)::uuid, min(created_at),
       CASE WHEN bool_and(revoked_at IS NOT NULL) THEN now() END
FROM refresh_tokens
GROUP BY family_id;
