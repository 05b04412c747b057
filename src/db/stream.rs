//! A booking's stream: every event about a booking (its status changes,
//! tracking, payments, chat, dispatch) is appended here, in the caller's
//! transaction: the outbox row (the booking's next `seq`, published by the
//! relay) and the inbox rows of the people it concerns.

use serde_json::json;
use uuid::Uuid;

use super::{Conn, notifications, outbox};
use crate::domain::events::{BookingFacts, CloudEvent};
use crate::domain::notifications as notice;

/// Appends `event` to the booking's stream; `actor` (who caused it, if a
/// person) is not notified of their own doing.
pub async fn append(
    conn: &mut Conn,
    facts: &BookingFacts<'_>,
    event: &CloudEvent,
    actor: Option<Uuid>,
) -> Result<(), diesel::result::Error> {
    outbox::insert(conn, "booking", facts.booking_id, event).await?;
    let mut metadata = json!({"booking_number": facts.booking_number, "event_id": event.id});
    if let (Some(map), Some(message_id)) = (metadata.as_object_mut(), event.data.get("message_id")) {
        map.insert("message_id".into(), message_id.clone());
    }
    for (user, audience) in notice::recipients(&event.event_type, facts.owner_id, facts.runner_id, actor) {
        let Some((title, body)) = notice::render(&event.event_type, facts.booking_number, &event.data, audience) else {
            continue;
        };
        let kind = notice::inbox_type(&event.event_type);
        notifications::create(conn, user, Some(facts.booking_id), kind, &title, &body, metadata.clone()).await?;
    }
    Ok(())
}
