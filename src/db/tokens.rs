//! Refresh tokens (rotation with reuse detection) and password-reset tokens.
//! Only SHA-256 hashes of tokens are stored.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::Conn;
use super::schema::{password_reset_tokens, refresh_tokens};
use super::users::{self, User};
use crate::auth::MintedRefresh;
use crate::error::AppError;

/// (owner or row id, user or family id, expires_at, revoked_at or used_at)
type TokenRow = (Uuid, Uuid, DateTime<Utc>, Option<DateTime<Utc>>);

/// Stores a refresh token that starts a new family (a login or registration).
pub async fn store_new_family(conn: &mut Conn, user_id: Uuid, minted: &MintedRefresh) -> Result<(), AppError> {
    insert_refresh(conn, user_id, Uuid::new_v4(), minted).await?;
    Ok(())
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

pub async fn revoke_all_for_user(conn: &mut Conn, user_id: Uuid) -> Result<usize, diesel::result::Error> {
    diesel::update(
        refresh_tokens::table.filter(refresh_tokens::user_id.eq(user_id)).filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await
}

#[derive(Debug)]
pub enum Rotation {
    /// The presented token is now dead; `next` is live in the same family.
    Rotated(Box<User>),
    NotFound,
    /// A revoked token came back: someone holds a copy. Every refresh
    /// token of the user has been revoked (committed).
    Reused,
    Expired,
    UserGone,
    Banned,
}

/// Exchanges the refresh token whose hash is `presented_hash` for `next`,
/// in one transaction: the presented row is locked, checked, revoked and
/// linked to its successor. Two concurrent uses of one token: one rotates,
/// the other is treated as reuse.
pub async fn rotate(conn: &mut Conn, presented_hash: &str, next: &MintedRefresh) -> Result<Rotation, AppError> {
    conn.transaction::<Rotation, AppError, _>(async |conn| {
        let row: Option<TokenRow> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(presented_hash))
            .select((
                refresh_tokens::user_id,
                refresh_tokens::family_id,
                refresh_tokens::expires_at,
                refresh_tokens::revoked_at,
            ))
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let Some((user_id, family_id, expires_at, revoked_at)) = row else {
            return Ok(Rotation::NotFound);
        };
        if revoked_at.is_some() {
            revoke_all_for_user(conn, user_id).await?;
            tracing::warn!(%user_id, %family_id, "refresh token reused; every session of the user revoked");
            return Ok(Rotation::Reused);
        }
        let now = Utc::now();
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
        diesel::update(refresh_tokens::table.filter(refresh_tokens::token_hash.eq(presented_hash)))
            .set((refresh_tokens::revoked_at.eq(now), refresh_tokens::replaced_by.eq(next.id)))
            .execute(conn)
            .await?;
        Ok(Rotation::Rotated(Box::new(user)))
    })
    .await
}

pub async fn store_reset_token(
    conn: &mut Conn,
    user_id: Uuid,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), AppError> {
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
    Done,
    Invalid,
    AlreadyUsed,
    Expired,
}

/// Uses a reset token once: sets the new password hash, marks the token
/// used, and ends every session of the user, in one transaction.
pub async fn reset_password(conn: &mut Conn, token_hash: &str, new_password_hash: &str) -> Result<Reset, AppError> {
    conn.transaction::<Reset, AppError, _>(async |conn| {
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
        Ok(Reset::Done)
    })
    .await
}
