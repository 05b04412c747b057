//! What a `/ws` subscription asks of storage: may this user watch the
//! booking, and which of its status events did a reconnecting socket miss.
//! (The session registers its watch between the two: see `http::ws::session`.)

use uuid::Uuid;

use super::Services;
use crate::db::bookings;
use crate::db::outbox::{self, OutboxEvent};
use crate::domain::booking::Actor;
use crate::error::AppError;

/// A participant of the booking (404 before 403).
pub async fn may_watch(s: &Services, actor: Actor, booking_id: Uuid) -> Result<(), AppError> {
    let mut conn = s.pool.get().await?;
    bookings::participating(&mut conn, booking_id, actor).await?;
    Ok(())
}

/// The booking's newest `seq`, and the events after `seen` up to it (when
/// the socket says what it saw); the caller bounds what it replays.
pub async fn since(s: &Services, booking_id: Uuid, seen: Option<i64>) -> Result<(i64, Vec<OutboxEvent>), AppError> {
    let mut conn = s.pool.get().await?;
    let current = outbox::last_seq(&mut conn, booking_id).await?;
    let missed = match seen {
        Some(seen) if seen < current => outbox::between(&mut conn, booking_id, seen, current).await?,
        _ => Vec::new(),
    };
    Ok((current, missed))
}
