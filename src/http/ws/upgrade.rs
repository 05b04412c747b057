//! WebSocket upgrades: the checks that run before the handshake, then the
//! session actors beside it (`http::ws`).

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::SocketSlot;
use super::inbound::Assembler;
use super::session::{AppSession, Presence, SessionDeps, SessionLimits};
use super::standing::Standing;
use super::tracking::MAX_FRAME;
use super::tracking::TrackingSession;
use super::{start_session, start_tracking};
use crate::actors::registry::next_id;
use crate::db::bookings;
use crate::db::redis::{presence_key, sockets_key};
use crate::domain::booking::Actor;
use crate::domain::bus::user_channel;
use crate::domain::identity::Role;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::extract::{AuthUser, authenticate, bearer_token};

/// A place under the user's socket cap on this node, or a raw 429 before
/// the upgrade.
fn socket_slot(state: &AppState, user: &AuthUser, kind: &str) -> Result<SocketSlot, AppError> {
    let gauge = state.metrics.ws_connections.with_label_values(&[kind]);
    state
        .sockets
        .take(user.id, state.settings.realtime.ws_max_sockets_per_user, gauge)
        .ok_or_else(|| raw(StatusCode::TOO_MANY_REQUESTS, "too many open sockets for this user"))
}

/// What a socket re-checks about its user while it is open.
fn standing(state: &AppState, user: &AuthUser) -> Standing {
    let every = Duration::from_secs(state.settings.realtime.ws_standing_check_secs.max(1));
    Standing::new(state.pool.clone(), user.id, user.session_id, user.token_version, every)
}

fn raw(status: StatusCode, message: &'static str) -> AppError {
    AppError::Auth { status, message }
}

#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    pub token: Option<String>,
    pub events: Option<String>,
}

/// `GET /ws/tracking/:bookingId?token=…[&events=status]`: participants
/// only, every refusal a raw `{"error":…}` before the upgrade.
#[utoipa::path(get, path = "/ws/tracking/{booking_id}", tag = "realtime",
    params(("booking_id" = String, Path), ("token" = Option<String>, Query, description = "access token (or a bearer header)"),
           ("events" = Option<String>, Query, description = "`status` adds booking.status frames")),
    responses((status = 101, description = "WebSocket: location_update (and booking.status) frames, see docs/PROTOCOL.md"),
              (status = 400, description = "invalid booking ID format (raw)"),
              (status = 401, description = "missing or invalid token (raw)"),
              (status = 403, description = "not a participant (raw)"),
              (status = 404, description = "booking not found (raw)"),
              (status = 429, description = "too many sockets for this user on this node (raw)")))]
pub async fn tracking_feed(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, AppError> {
    let token = match req.headers().get(header::AUTHORIZATION) {
        Some(_) => bearer_token(&req)?,
        None => query
            .token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| raw(StatusCode::UNAUTHORIZED, "token query parameter is required"))?,
    };
    let user = authenticate(&state, &token).await?;
    let booking_id =
        Uuid::parse_str(path.trim()).map_err(|_| raw(StatusCode::BAD_REQUEST, "invalid booking ID format"))?;
    let slot = socket_slot(&state, &user, "tracking")?;
    let mut conn = state.pool.get().await?;
    let booking =
        bookings::find(&mut conn, booking_id).await?.ok_or_else(|| raw(StatusCode::NOT_FOUND, "booking not found"))?;
    drop(conn);
    if !booking.parties().is_participant(Actor { id: user.id, role: user.role }) {
        return Err(raw(StatusCode::FORBIDDEN, "forbidden"));
    }
    let wants_status = query.events.as_deref().is_some_and(|e| e.split(',').any(|k| k.trim() == "status"));
    let session = TrackingSession {
        id: next_id(),
        booking_id,
        wants_status,
        registry: state.services.live.registry.clone(),
        last_heard: Instant::now(),
        user_channel: (state.services.live.bus.clone(), user_channel(&state.settings.redis.key_prefix, user.id)),
        standing: standing(&state, &user),
        phase: state.draining.clone(),
        inbound: Assembler::new(MAX_FRAME, state.settings.realtime.ws_max_frames_per_sec),
        slot,
    };
    start_tracking(session, &req, stream).map_err(|e| AppError::BadRequest(format!("WebSocket upgrade failed: {e}")))
}

/// `GET /ws?token=…`: the persistent app session.
#[utoipa::path(get, path = "/ws", tag = "realtime",
    params(("token" = Option<String>, Query, description = "access token (or a bearer header)")),
    responses((status = 101, description = "WebSocket: the frames of docs/PROTOCOL.md"),
              (status = 401, description = "missing or invalid token (raw)"),
              (status = 429, description = "too many sockets for this user on this node (raw)")))]
pub async fn app_socket(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let token = bearer_token(&req)?;
    let user = authenticate(&state, &token).await?;
    let slot = socket_slot(&state, &user, "app")?;
    let rt = &state.settings.realtime;
    let limits = SessionLimits {
        heartbeat: Duration::from_secs(rt.ws_heartbeat_secs),
        client_timeout: Duration::from_secs(rt.ws_client_timeout_secs),
        max_frames_per_sec: rt.ws_max_frames_per_sec,
        max_frame_bytes: rt.ws_max_frame_bytes,
    };
    let presence = (user.role == Role::Runner).then(|| Presence {
        bus: state.services.live.bus.clone(),
        key: presence_key(&state.settings.redis.key_prefix, user.id),
        ttl: Duration::from_secs(rt.presence_grace_secs),
        sockets_key: sockets_key(&state.settings.redis.key_prefix, user.id),
        member: Uuid::new_v4().simple().to_string(),
        hold: Duration::from_secs(rt.ws_heartbeat_secs + rt.ws_client_timeout_secs),
    });
    let deps = SessionDeps {
        registry: state.services.live.registry.clone(),
        limits,
        presence,
        user_channel: (state.services.live.bus.clone(), user_channel(&state.settings.redis.key_prefix, user.id)),
        services: state.services.clone(),
        redis: state.redis.clone(),
        prefix: state.settings.redis.key_prefix.clone(),
        standing: standing(&state, &user),
        phase: state.draining.clone(),
        slot,
    };
    let session = AppSession::new(next_id(), user.id, user.role, deps);
    start_session(session, rt.ws_max_frame_bytes, &req, stream)
        .map_err(|e| AppError::BadRequest(format!("WebSocket upgrade failed: {e}")))
}
