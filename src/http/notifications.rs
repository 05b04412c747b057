//! Notifications (docs/API.md#notifications): the inbox in both list shapes, mark
//! read by PUT and POST, preferences, FCM and device tokens.

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, ErrorBody, Pagination};
use super::extract::{AuthUser, parse_id};
use crate::db::notifications::{self, Page};
use crate::domain::time;
use crate::error::AppError;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub page: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn encode_cursor(at: &DateTime<Utc>, id: Uuid) -> String {
    let raw = json!({"c": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), "i": id}).to_string();
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(raw: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some((time::parse(v["c"].as_str()?)?, Uuid::parse_str(v["i"].as_str()?).ok()?))
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])),
    params(("page" = Option<i64>, Query, description = "present: page mode"), ("limit" = Option<i64>, Query),
           ("cursor" = Option<String>, Query, description = "cursor mode (no page)")),
    responses((status = 200, description = "page mode: page [NotificationItem]; cursor mode: {items, next_cursor, nextCursor}; newest first"),
              (status = 400, description = "invalid cursor", body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    if let Some(raw_page) = &query.page {
        let page = raw_page.trim().parse::<i64>().ok().filter(|p| *p >= 1).unwrap_or(1);
        let limit = query.limit.filter(|l| (1..=100).contains(l)).unwrap_or(20);
        let (rows, total) = notifications::list(&mut conn, user.id, Page::Numbered { page, limit }).await?;
        return Ok(envelope::paginated(rows.iter().map(|n| n.item()).collect(), Pagination::new(total, page, limit)));
    }
    let limit = query.limit.unwrap_or(20).clamp(1, 50);
    let cursor = match query.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(decode_cursor(raw).ok_or_else(|| AppError::BadRequest("invalid cursor".into()))?),
    };
    let (rows, _) = notifications::list(&mut conn, user.id, Page::After { cursor, limit: limit + 1 }).await?;
    let more = rows.len() as i64 > limit;
    let shown = &rows[..rows.len().min(limit as usize)];
    let next = match (more, shown.last()) {
        (true, Some(last)) => encode_cursor(&last.created_at, last.id),
        _ => String::new(),
    };
    let items: Vec<_> = shown.iter().map(|n| n.cursor_item()).collect();
    Ok(envelope::ok(json!({"items": items, "next_cursor": next, "nextCursor": next})))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReadRequest {
    /// RFC 3339; now when absent
    pub read_at: Option<String>,
}

#[utoipa::path(method(put, post), path = "/api/v1/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "idempotent; POST with {read_at} works the same"),
              (status = 404, description = "Notification not found (missing or someone else's)", body = ErrorBody)))]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path, "notification")?;
    let at = serde_json::from_slice::<ReadRequest>(&body)
        .ok()
        .and_then(|r| r.read_at)
        .and_then(|raw| time::parse(&raw))
        .filter(|t| *t <= Utc::now() + chrono::Duration::minutes(5))
        .unwrap_or_else(Utc::now);
    let mut conn = state.pool.get().await?;
    if !notifications::mark_read(&mut conn, user.id, id, at).await? {
        return Err(AppError::not_found("notification", id));
    }
    Ok(envelope::message("notification marked as read"))
}

#[utoipa::path(get, path = "/api/v1/notifications/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "the caller's own NotificationItem"), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path, "notification")?;
    let mut conn = state.pool.get().await?;
    let found = notifications::find_own(&mut conn, user.id, id)
        .await?
        .ok_or_else(|| AppError::not_found("notification", id))?;
    Ok(envelope::ok(found.item()))
}

#[utoipa::path(get, path = "/api/v1/notifications/preferences", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "defaults (all channels on, id/created_at/updated_at null) when never set")))]
pub async fn preferences(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let found = notifications::preferences(&mut conn, user.id).await?;
    Ok(envelope::ok(match found {
        Some(p) => json!({
            "id": p.id, "user_id": p.user_id, "enable_push": p.enable_push, "enable_sms": p.enable_sms,
            "enable_email": p.enable_email, "fcm_token": p.fcm_token, "phone_number": p.phone_number, "email": p.email,
            "created_at": time::format(&p.created_at), "updated_at": time::format(&p.updated_at),
        }),
        None => json!({
            "id": null, "user_id": user.id, "enable_push": true, "enable_sms": true, "enable_email": true,
            "fcm_token": null, "phone_number": null, "email": null, "created_at": null, "updated_at": null,
        }),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PreferencesRequest {
    pub enable_push: Option<bool>,
    pub enable_sms: Option<bool>,
    pub enable_email: Option<bool>,
}

#[utoipa::path(put, path = "/api/v1/notifications/preferences", tag = "notifications", security(("bearer" = [])),
    request_body = PreferencesRequest, responses((status = 200, description = "a missing key means false")))]
pub async fn update_preferences(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<PreferencesRequest>,
) -> Result<HttpResponse, AppError> {
    let flags =
        (body.enable_push.unwrap_or(false), body.enable_sms.unwrap_or(false), body.enable_email.unwrap_or(false));
    let mut conn = state.pool.get().await?;
    notifications::upsert_preferences(&mut conn, user.id, Some(flags), None).await?;
    Ok(envelope::message("preferences updated"))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub token: Option<String>,
    pub platform: Option<String>,
    pub scope_type: Option<String>,
    pub scope_id: Option<String>,
}

fn token_of(body: &TokenRequest) -> Result<String, AppError> {
    let token = body.token.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let token = token.ok_or_else(|| AppError::BadRequest("token is required".into()))?;
    if token.len() > 4096 {
        return Err(AppError::BadRequest("token is too long".into()));
    }
    Ok(token.to_owned())
}

#[utoipa::path(post, path = "/api/v1/notifications/fcm-token", tag = "notifications", security(("bearer" = [])),
    request_body = TokenRequest, responses((status = 200), (status = 400, description = "token is required", body = ErrorBody)))]
pub async fn fcm_token(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<TokenRequest>,
) -> Result<HttpResponse, AppError> {
    let token = token_of(&body)?;
    let mut conn = state.pool.get().await?;
    notifications::upsert_preferences(&mut conn, user.id, None, Some(&token)).await?;
    Ok(envelope::message("FCM token registered"))
}

#[utoipa::path(post, path = "/api/v1/notifications/device-tokens", tag = "notifications", security(("bearer" = [])),
    request_body = TokenRequest, responses((status = 200), (status = 400, description = "token is required, invalid scope_id", body = ErrorBody)))]
pub async fn device_token(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<TokenRequest>,
) -> Result<HttpResponse, AppError> {
    let token = token_of(&body)?;
    let scope_id = match body.scope_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| AppError::BadRequest("invalid scope_id".into()))?),
    };
    let platform: String = body.platform.as_deref().unwrap_or("").trim().chars().take(20).collect();
    let scope_type: String = body.scope_type.as_deref().unwrap_or("").trim().chars().take(40).collect();
    let mut conn = state.pool.get().await?;
    notifications::upsert_device_token(&mut conn, user.id, &token, &platform, &scope_type, scope_id).await?;
    Ok(envelope::message("device token registered"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_with_full_precision() {
        let at = time::parse("2026-05-18T04:00:00.123456Z").unwrap();
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(&at, id)), Some((at, id)));
        assert_eq!(decode_cursor("not-base64!"), None);
    }
}
