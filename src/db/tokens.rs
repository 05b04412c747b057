//! Refresh tokens (rotation with reuse detection) and password-reset tokens.
//! Only SHA-256 hashes of tokens are stored.

use super::DbError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::Conn;
use super::schema::{auth_sessions, password_reset_tokens, refresh_tokens};
use super::users::{self, User};
use crate::auth::MintedRefresh;

/// (owner or row id, user or family id, expires_at, revoked_at or used_at)
type TokenRow = (Uuid, Uuid, DateTime<Utc>, Option<DateTime<Utc>>);

/// Opens a session (a login or registration): its row, and the refresh
/// token that starts its family. Returns the session id (the family id,
/// and the `sid` of every access token minted in it).
pub async fn start_session(conn: &mut Conn, user_id: Uuid, minted: &MintedRefresh) -> Result<Uuid, DbError> {
    let session_id = Uuid::new_v4();
    conn.transaction::<(), DbError, _>(async |conn| {
        diesel::insert_into(auth_sessions::table)
            .values((auth_sessions::id.eq(session_id), auth_sessions::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        insert_refresh(conn, user_id, session_id, minted).await?;
        Ok(())
    })
    .await?;
    Ok(session_id)
}

async fn insert_refresh(
    conn: &mut Conn,
    user_id: Uuid,
    family_id: Uuid,
    minted: &MintedRefresh,
) -> Result<(), diesel::result::Error> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(minted.id),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(&minted.hash),
            refresh_tokens::expires_at.eq(minted.expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends one session of `user_id`: its row marked ended and every refresh
/// token of its family revoked. False when it is not the user's or was
/// already ended.
pub async fn end_session(conn: &mut Conn, user_id: Uuid, session_id: Uuid) -> Result<bool, diesel::result::Error> {
    conn.transaction(async |conn| end_session_in_tx(conn, user_id, session_id).await).await
}

async fn end_session_in_tx(conn: &mut Conn, user_id: Uuid, session_id: Uuid) -> Result<bool, diesel::result::Error> {
    let now = Utc::now();
    let ended = diesel::update(
        auth_sessions::table
            .find(session_id)
            .filter(auth_sessions::user_id.eq(user_id))
            .filter(auth_sessions::ended_at.is_null()),
    )
    .set(auth_sessions::ended_at.eq(now))
    .execute(conn)
    .await?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(session_id))
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .await?;
    Ok(ended > 0)
}

#[derive(Debug)]
pub enum Rotation {
    /// A new refresh token is live in the session: the successor of the
    /// presented one, or (a concurrent refresh within the reuse grace) a
    /// sibling of that successor.
    Rotated {
        user: Box<User>,
        session_id: Uuid,
    },
    NotFound,
    /// A rotated token came back after the grace: someone holds a copy.
    /// Its session has been ended (committed); the user's other sessions
    /// live on.
    Reused {
        user_id: Uuid,
        session_id: Uuid,
    },
    /// The session was ended (logout, ban, reset): not theft, just over.
    Ended,
    Expired,
    UserGone,
    Banned,
}

/// (user, family, expires_at, revoked_at, replaced_by)
type RefreshRow = (Uuid, Uuid, DateTime<Utc>, Option<DateTime<Utc>>, Option<Uuid>);

/// Exchanges the refresh token whose hash is `presented_hash` for `next`,
/// in one transaction: the presented row is locked, checked, revoked and
/// linked to its successor. Two concurrent uses of one token (two tabs):
/// one rotates, the other (within `grace`) gets a sibling in the same
/// session. A rotated token presented after `grace` ends its session.
pub async fn rotate(
    conn: &mut Conn,
    presented_hash: &str,
    next: &MintedRefresh,
    grace: chrono::Duration,
) -> Result<Rotation, DbError> {
    conn.transaction::<Rotation, DbError, _>(async |conn| {
        let row: Option<RefreshRow> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(presented_hash))
            .select((
                refresh_tokens::user_id,
                refresh_tokens::family_id,
                refresh_tokens::expires_at,
                refresh_tokens::revoked_at,
                refresh_tokens::replaced_by,
            ))
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let Some((user_id, family_id, expires_at, revoked_at, replaced_by)) = row else {
            return Ok(Rotation::NotFound);
        };
        let session_live: bool = diesel::select(diesel::dsl::exists(
            auth_sessions::table.find(family_id).filter(auth_sessions::ended_at.is_null()),
        ))
        .get_result(conn)
        .await?;
        if !session_live {
            return Ok(Rotation::Ended);
        }
        let now = Utc::now();
        if let Some(revoked_at) = revoked_at {
            let concurrent = replaced_by.is_some() && now - revoked_at <= grace;
            if !concurrent {
                end_session_in_tx(conn, user_id, family_id).await?;
                tracing::warn!(%user_id, session_id = %family_id, "refresh token reused; its session ended");
                return Ok(Rotation::Reused { user_id, session_id: family_id });
            }
        }
        if expires_at <= now {
            return Ok(Rotation::Expired);
        }
        let Some(user) = users::find_in_tx(conn, user_id).await? else {
            return Ok(Rotation::UserGone);
        };
        if user.is_banned {
            return Ok(Rotation::Banned);
        }
        insert_refresh(conn, user_id, family_id, next).await?;
        if revoked_at.is_none() {
            diesel::update(refresh_tokens::table.filter(refresh_tokens::token_hash.eq(presented_hash)))
                .set((refresh_tokens::revoked_at.eq(now), refresh_tokens::replaced_by.eq(next.id)))
                .execute(conn)
                .await?;
        }
        Ok(Rotation::Rotated { user: Box::new(user), session_id: family_id })
    })
    .await
}

pub async fn store_reset_token(
    conn: &mut Conn,
    user_id: Uuid,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(password_reset_tokens::table)
        .values((
            password_reset_tokens::id.eq(Uuid::new_v4()),
            password_reset_tokens::user_id.eq(user_id),
            password_reset_tokens::token_hash.eq(token_hash),
            password_reset_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub enum Reset {
    /// The password of this user changed; every session of theirs ended.
    Done(Uuid),
    Invalid,
    AlreadyUsed,
    Expired,
}

/// Uses a reset token once: sets the new password hash, marks the token
/// used, and ends every session of the user, in one transaction.
pub async fn reset_password(conn: &mut Conn, token_hash: &str, new_password_hash: &str) -> Result<Reset, DbError> {
    conn.transaction::<Reset, DbError, _>(async |conn| {
        let row: Option<TokenRow> = password_reset_tokens::table
            .filter(password_reset_tokens::token_hash.eq(token_hash))
            .select((
                password_reset_tokens::id,
                password_reset_tokens::user_id,
                password_reset_tokens::expires_at,
                password_reset_tokens::used_at,
            ))
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let Some((id, user_id, expires_at, used_at)) = row else {
            return Ok(Reset::Invalid);
        };
        if used_at.is_some() {
            return Ok(Reset::AlreadyUsed);
        }
        let now = Utc::now();
        if expires_at <= now {
            return Ok(Reset::Expired);
        }
        diesel::update(password_reset_tokens::table.find(id))
            .set(password_reset_tokens::used_at.eq(now))
            .execute(conn)
            .await?;
        users::set_password(conn, user_id, new_password_hash).await?;
        Ok(Reset::Done(user_id))
    })
    .await
}
