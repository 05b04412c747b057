//! Tracking (docs/API.md#tracking): the trip track, its route as GeoJSON,
//! share links and the public shared view, and the iOS runner's history.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody};
use super::extract::AuthUser;
use crate::auth::random_hex;
use crate::db::{bookings, tracking};
use crate::domain::booking::Actor;
use crate::domain::{frames, time};
use crate::error::AppError;

#[derive(Debug, Serialize, ToSchema)]
pub struct WaypointDto {
    pub id: Uuid,
    pub latitude: f64,
    pub longitude: f64,
    pub speed_kmh: f64,
    pub heading_degrees: f64,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrackingDto {
    pub id: Uuid,
    pub booking_id: Uuid,
    /// the runner's user id
    pub runner_id: Uuid,
    /// active | completed | cancelled
    pub status: String,
    pub total_distance_km: f64,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_opt")]
    #[schema(value_type = Option<String>)]
    pub completed_at: Option<DateTime<Utc>>,
    pub waypoints: Vec<WaypointDto>,
}

fn booking_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw.trim()).map_err(|_| AppError::BadRequest("invalid booking ID format".into()))
}

/// The track of a booking the caller takes part in, or 404 `tracking not found`.
async fn track_of(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
) -> Result<(tracking::Track, Vec<tracking::Waypoint>), AppError> {
    let mut conn = state.pool.get().await?;
    bookings::participating(&mut conn, id, Actor { id: user.id, role: user.role }).await?;
    let track = tracking::find(&mut conn, id).await?.ok_or_else(|| AppError::Missing {
        error: "tracking not found".into(),
        detail: format!("tracking with id '{id}' was not found"),
    })?;
    let waypoints = tracking::waypoints(&mut conn, track.id).await?;
    Ok((track, waypoints))
}

#[utoipa::path(get, path = "/api/v1/tracking/{booking_id}", tag = "tracking", security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 200, body = Envelope<TrackingDto>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, description = "tracking not found (no track before the booking is accepted)", body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = booking_id(&path)?;
    let (track, waypoints) = track_of(&state, &user, id).await?;
    Ok(envelope::ok(TrackingDto {
        id: track.id,
        booking_id: track.booking_id,
        runner_id: track.runner_id,
        status: track.status.as_str().to_owned(),
        total_distance_km: track.total_distance_km,
        started_at: track.started_at,
        completed_at: track.completed_at,
        waypoints: waypoints
            .into_iter()
            .map(|w| WaypointDto {
                id: w.id,
                latitude: w.latitude,
                longitude: w.longitude,
                speed_kmh: w.speed_kmh,
                heading_degrees: w.heading_degrees,
                recorded_at: w.recorded_at,
            })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/tracking/{booking_id}/route", tag = "tracking", security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 200, description = "raw GeoJSON LineString of [lng, lat] in time order, application/geo+json"),
              (status = 404, body = ErrorBody)))]
pub async fn route(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = booking_id(&path)?;
    let (_, waypoints) = track_of(&state, &user, id).await?;
    let coordinates: Vec<[f64; 2]> = waypoints.iter().map(|w| [w.longitude, w.latitude]).collect();
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .body(json!({"type": "LineString", "coordinates": coordinates}).to_string()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShareDto {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub share_token: String,
    pub share_url: String,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub expires_at: DateTime<Utc>,
}

#[utoipa::path(post, path = "/api/v1/tracking/{booking_id}/share", tag = "tracking", security(("bearer" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 201, description = "a new 24 h link on every call", body = Envelope<ShareDto>), (status = 403, body = ErrorBody)))]
pub async fn share(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = booking_id(&path)?;
    let mut conn = state.pool.get().await?;
    bookings::participating(&mut conn, id, Actor { id: user.id, role: user.role }).await?;
    let token = random_hex(16);
    let share = tracking::create_share(&mut conn, id, &token, Utc::now() + Duration::hours(24)).await?;
    Ok(envelope::created(ShareDto {
        id: share.id,
        booking_id: share.booking_id,
        share_url: format!("/api/v1/tracking/shared/{}", share.token),
        share_token: share.token,
        expires_at: share.expires_at,
    }))
}

fn share_error(message: &str) -> HttpResponse {
    HttpResponse::NotFound().json(json!({"success": false, "error": message}))
}

#[utoipa::path(get, path = "/api/v1/tracking/shared/{token}", tag = "tracking", params(("token" = String, Path)),
    responses((status = 200, description = "public: booking_id, track status, waypoints, expires_at"),
              (status = 404, description = r#"{"success":false,"error":"share link not found" | "share link has expired" | "tracking data not found"}"#)))]
pub async fn shared(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let Some(share) = tracking::find_share(&mut conn, path.trim()).await? else {
        return Ok(share_error("share link not found"));
    };
    if share.expires_at <= Utc::now() {
        return Ok(share_error("share link has expired"));
    }
    let Some(track) = tracking::find(&mut conn, share.booking_id).await? else {
        return Ok(share_error("tracking data not found"));
    };
    let waypoints: Vec<_> = tracking::waypoints(&mut conn, track.id)
        .await?
        .into_iter()
        .map(|w| {
            json!({"latitude": w.latitude, "longitude": w.longitude, "speed_kmh": w.speed_kmh,
                   "heading_degrees": w.heading_degrees, "recorded_at": time::format(&w.recorded_at)})
        })
        .collect();
    Ok(envelope::ok(json!({
        "booking_id": share.booking_id,
        "status": track.status,
        "waypoints": waypoints,
        "expires_at": time::format(&share.expires_at),
    })))
}

#[utoipa::path(get, path = "/api/v1/bookings/{id}/tracking", tag = "tracking", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "the trip's waypoints as flat TrackingUpdate objects, oldest first; [] before any"),
              (status = 403, body = ErrorBody), (status = 404, description = "Booking not found", body = ErrorBody)))]
pub async fn trip_updates(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = super::extract::parse_id(&path, "booking")?;
    let mut conn = state.pool.get().await?;
    bookings::participating(&mut conn, id, Actor { id: user.id, role: user.role }).await?;
    let Some(track) = tracking::find(&mut conn, id).await? else {
        return Ok(envelope::ok(Vec::<serde_json::Value>::new()));
    };
    let updates: Vec<serde_json::Value> = tracking::waypoints(&mut conn, track.id)
        .await?
        .into_iter()
        .map(|w| {
            let mut frame = frames::location(&frames::Fix {
                booking_id: id,
                runner_id: track.runner_id,
                latitude: w.latitude,
                longitude: w.longitude,
                speed_kmh: w.speed_kmh,
                heading_degrees: w.heading_degrees,
                at: w.recorded_at,
            });
            if let Some(map) = frame.as_object_mut() {
                map.remove("type");
                map.remove("data");
            }
            frame
        })
        .collect();
    Ok(envelope::ok(updates))
}
