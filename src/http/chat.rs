//! Chat per booking (docs/API.md#chat): participants only.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::envelope::{self, ErrorBody, Pagination};
use super::extract::{AuthUser, parse_id};
use crate::db::{bookings, chat};
use crate::domain::booking::Actor;
use crate::error::AppError;

#[derive(Debug, Deserialize, ToSchema)]
pub struct PostMessage {
    /// text | image | quick_reply
    pub message_type: Option<String>,
    pub content: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/chat/{booking_id}/messages", tag = "chat", security(("bearer" = [])),
    params(("booking_id" = String, Path)), request_body = PostMessage,
    responses((status = 201, description = "ChatMessageDTO; pushed to the other participants' /ws as chat_message"),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn post(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Json<PostMessage>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path, "booking")?;
    let body = body.into_inner();
    let sender = Actor { id: user.id, role: user.role };
    let msg = crate::services::chat::post(&state.services, sender, id, body.message_type, body.content).await?;
    Ok(envelope::created(msg.dto()))
}

#[derive(Debug, Deserialize)]
pub struct ChatPage {
    pub page: Option<i64>,
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/chat/{booking_id}/messages", tag = "chat", security(("bearer" = [])),
    params(("booking_id" = String, Path), ("page" = Option<i64>, Query), ("limit" = Option<i64>, Query, description = "default 50, max 100")),
    responses((status = 200, description = "oldest first, paginated"), (status = 403, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    query: web::Query<ChatPage>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path, "booking")?;
    let page = query.page.filter(|p| *p >= 1).unwrap_or(1);
    let limit = match query.limit {
        Some(l) if l > 100 => 100,
        Some(l) if l >= 1 => l,
        _ => 50,
    };
    let mut conn = state.pool.get().await?;
    bookings::participating(&mut conn, id, Actor { id: user.id, role: user.role }).await?;
    let (rows, total) = chat::list(&mut conn, id, page, limit).await?;
    Ok(envelope::paginated(rows.iter().map(chat::ChatMessage::dto).collect(), Pagination::new(total, page, limit)))
}
