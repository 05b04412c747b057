//! Runner use cases that change presence: going online (with a position)
//! and offline; every node's runner actor reloads.

use uuid::Uuid;

use super::{Followup, Services};
use crate::db::runners;
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
