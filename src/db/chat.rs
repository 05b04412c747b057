//! Chat per booking (docs/API.md#chat): stored, and pushed to the other
//! participants' sockets through the outbox.

use super::DbError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use super::bookings::Booking;
use super::schema::chat_messages;
use super::{Conn, stream};
use crate::domain::events::{BookingFacts, booking_event};
use crate::domain::time;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chat_messages, check_for_backend(diesel::pg::Pg))]
pub struct ChatMessage {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub sender_id: Uuid,
    pub sender_role: String,
    pub message_type: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

impl ChatMessage {
    /// ChatMessageDTO.
    pub fn dto(&self) -> Value {
        json!({
            "id": self.id, "booking_id": self.booking_id, "sender_id": self.sender_id,
            "sender_role": self.sender_role, "message_type": self.message_type, "content": self.content,
            "created_at": time::format(&self.created_at),
        })
    }
}

/// Stores the message, its `chat.message_sent` event and the recipients'
/// notifications in one transaction.
pub async fn post(
    conn: &mut Conn,
    booking: &Booking,
    sender: (Uuid, &str),
    message_type: &str,
    content: &str,
) -> Result<ChatMessage, DbError> {
    conn.transaction::<ChatMessage, DbError, _>(async |conn| {
        // Serialise with the booking's other events (per-booking seq).
        diesel::sql_query("SELECT 1 FROM bookings WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Uuid, _>(booking.id)
            .execute(conn)
            .await?;
        let msg: ChatMessage = diesel::insert_into(chat_messages::table)
            .values((
                chat_messages::id.eq(super::new_id()),
                chat_messages::booking_id.eq(booking.id),
                chat_messages::sender_id.eq(sender.0),
                chat_messages::sender_role.eq(sender.1),
                chat_messages::message_type.eq(message_type),
                chat_messages::content.eq(content),
            ))
            .returning(ChatMessage::as_returning())
            .get_result(conn)
            .await?;
        let facts = BookingFacts {
            booking_id: booking.id,
            booking_number: &booking.booking_number,
            owner_id: booking.owner_id,
            runner_id: booking.runner_id,
        };
        let mut data = msg.dto();
        if let Some(map) = data.as_object_mut() {
            map.insert("message_id".into(), json!(msg.id));
        }
        let mut event = booking_event("message_sent", &facts, msg.created_at, data);
        event.event_type = "chat.message_sent".into();
        event.source = "kilat-chat";
        stream::append(conn, &facts, &event, Some(sender.0)).await?;
        Ok(msg)
    })
    .await
}

/// Oldest first.
pub async fn list(
    conn: &mut Conn,
    booking_id: Uuid,
    page: i64,
    limit: i64,
) -> Result<(Vec<ChatMessage>, i64), DbError> {
    let total: i64 =
        chat_messages::table.filter(chat_messages::booking_id.eq(booking_id)).count().get_result(conn).await?;
    let rows = chat_messages::table
        .filter(chat_messages::booking_id.eq(booking_id))
        .order((chat_messages::created_at.asc(), chat_messages::id.asc()))
        .limit(limit)
        .offset((page - 1).saturating_mul(limit))
        .select(ChatMessage::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}
