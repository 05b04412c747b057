//! Identity use cases whose effects reach live sockets: logout (one
//! session or all), a ban, a password reset, a stolen refresh token; and a
//! runner going online or offline.

use uuid::Uuid;

use super::{Followup, Services};
use crate::db::{runners, tokens, users};
use crate::domain::geo::Coordinates;
use crate::error::AppError;

/// Ends one session of the user (`Some`), or every session (`None`: a
/// token from before sessions existed names none).
pub async fn logout(s: &Services, user_id: Uuid, session_id: Option<Uuid>) -> Result<(), AppError> {
    {
        let mut conn = s.pool.get().await?;
        match session_id {
            Some(session_id) => {
                tokens::end_session(&mut conn, user_id, session_id).await?;
            }
            None => users::end_all_sessions(&mut conn, user_id).await?,
        }
    }
    s.live.follow(Followup::default().end_sessions(user_id, session_id)).await;
    Ok(())
}

/// "Sign out everywhere".
pub async fn logout_all(s: &Services, user_id: Uuid) -> Result<(), AppError> {
    {
        let mut conn = s.pool.get().await?;
        users::end_all_sessions(&mut conn, user_id).await?;
    }
    s.live.follow(Followup::default().end_sessions(user_id, None)).await;
    Ok(())
}

/// An admin bans a user: every session ended, a runner taken offline (no
/// offers, no pool), every socket closed.
pub async fn ban(s: &Services, admin_id: Uuid, id: Uuid) -> Result<(), AppError> {
    if id == admin_id {
        return Err(AppError::BadRequest("you cannot ban yourself".into()));
    }
    {
        let mut conn = s.pool.get().await?;
        if !users::ban(&mut conn, id).await? {
            return Err(AppError::not_found("user", id));
        }
    }
    s.live.follow(Followup::default().end_sessions(id, None).refresh_user(id)).await;
    tracing::warn!(%admin_id, banned_user_id = %id, "user banned");
    Ok(())
}

/// Sessions were ended by a storage-side rule (a refresh token presented
/// after its grace, a password reset): close their sockets.
pub async fn sessions_ended(s: &Services, user_id: Uuid, session_id: Option<Uuid>) {
    s.live.follow(Followup::default().end_sessions(user_id, session_id)).await;
}

/// The runner is online at `at`: present now, every node's actors reload.
pub async fn go_online(s: &Services, runner_id: Uuid, at: Coordinates) -> Result<(), AppError> {
    {
        let mut conn = s.pool.get().await?;
        if !runners::set_online(&mut conn, runner_id, at).await? {
            return Err(AppError::missing("runner not found"));
        }
    }
    s.live.follow(Followup::default().present(runner_id).refresh_user(runner_id)).await;
    Ok(())
}

pub async fn go_offline(s: &Services, runner_id: Uuid) -> Result<(), AppError> {
    {
        let mut conn = s.pool.get().await?;
        if !runners::set_offline(&mut conn, runner_id).await? {
            return Err(AppError::missing("runner not found"));
        }
    }
    s.live.follow(Followup::default().refresh_user(runner_id)).await;
    Ok(())
}
