//! The transactional outbox: events are inserted by the transaction that
//! makes the change, and published later by the relay (real-time issue).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::schema::outbox;
use crate::domain::events::CloudEvent;

pub async fn insert(
    conn: &mut Conn,
    aggregate_type: &str,
    aggregate_id: Uuid,
    event: &CloudEvent,
) -> Result<(), diesel::result::Error> {
    let payload = serde_json::to_value(event).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    diesel::insert_into(outbox::table)
        .values((
            outbox::event_id.eq(event.id),
            outbox::aggregate_type.eq(aggregate_type),
            outbox::aggregate_id.eq(aggregate_id),
            outbox::event_type.eq(&event.event_type),
            outbox::payload.eq(payload),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
