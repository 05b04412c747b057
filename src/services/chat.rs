//! Chat on a booking: a participant's message, pushed to the others.

use uuid::Uuid;

use super::{Followup, Services};
use crate::db::bookings;
use crate::db::chat::{self, ChatMessage};
use crate::domain::booking::Actor;
use crate::error::AppError;

pub const MESSAGE_TYPES: [&str; 3] = ["text", "image", "quick_reply"];

/// Stores the message on the booking's stream (the other participants get
/// it on their `/ws` as `chat_message`, and an inbox row).
pub async fn post(
    s: &Services,
    sender: Actor,
    booking_id: Uuid,
    message_type: Option<String>,
    content: Option<String>,
) -> Result<ChatMessage, AppError> {
    let message_type = message_type.map(|t| t.trim().to_ascii_lowercase()).unwrap_or_default();
    if !MESSAGE_TYPES.contains(&message_type.as_str()) {
        return Err(AppError::BadRequest("message_type must be one of: text, image, quick_reply".into()));
    }
    let content = content.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    let content = content.ok_or_else(|| AppError::BadRequest("content is required".into()))?;
    if content.chars().count() > 2000 {
        return Err(AppError::BadRequest("content must be at most 2000 characters".into()));
    }
    let msg = {
        let mut conn = s.pool.get().await?;
        let booking = bookings::participating(&mut conn, booking_id, sender).await?;
        chat::post(&mut conn, &booking, (sender.id, sender.role.as_str()), &message_type, &content).await?
    };
    s.live.follow(Followup::published()).await;
    Ok(msg)
}
