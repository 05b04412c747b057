//! Runner use cases: the profile and its crates, going online (with a
//! position) and offline (every node's runner actor reloads), and a
//! position posted over REST.

use uuid::Uuid;

use super::{Followup, Services};
use crate::actors::messages::{Ping, PingRejected, RunnerPing};
use crate::db::runners::{self, CrateRow, NewCrate, NewRunner, Runner};
use crate::db::{DbError, users};
use crate::domain::geo::Coordinates;
use crate::error::AppError;

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

/// A runner's profile: the name and phone default to the user's own.
pub async fn create_profile(s: &Services, mut new: NewRunner) -> Result<Runner, AppError> {
    let mut conn = s.pool.get().await?;
    if new.full_name.is_empty() || new.phone.is_empty() {
        let me = users::find(&mut conn, new.user_id).await?.ok_or_else(|| DbError::not_found("user", new.user_id))?;
        if new.full_name.is_empty() {
            new.full_name = me.full_name;
        }
        if new.phone.is_empty() {
            new.phone = me.phone;
        }
    }
    Ok(runners::create(&mut conn, new).await?)
}

/// A crate on the runner's profile (404 `runner not found` without one).
pub async fn add_crate(s: &Services, runner_id: Uuid, new: NewCrate) -> Result<CrateRow, AppError> {
    let mut conn = s.pool.get().await?;
    let runner = runners::require_by_user(&mut conn, runner_id).await?;
    Ok(runners::add_crate(&mut conn, runner.id, new).await?)
}

/// A position posted over REST: the same path as a `/ws` ping (the
/// runner's actor checks it and streams it to the trip's watchers).
pub async fn ping(s: &Services, runner_id: Uuid, ping: Ping) -> Result<(), PingRejected> {
    s.live.registry.send(RunnerPing { runner_id, ping }).await.unwrap_or(Err(PingRejected::Unavailable))
}
