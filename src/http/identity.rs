//! Identity (docs/API.md#identity): register, login, refresh, logout, profile,
//! forgot and reset password.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Message, RawError};
use super::extract::AuthUser;
use crate::auth::{self, REFRESH};
use crate::db::Conn;
use crate::db::tokens::{self, Reset, Rotation};
use crate::db::users::{self, NewUser, ProfileChanges, User};
use crate::domain::ValidationError;
use crate::domain::identity::{Email, NewPassword, Phone, Role, parse_full_name};
use crate::domain::time;
use crate::error::AppError;

/// UserDTO (docs/API.md#identity): every key always present.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    /// `""` when none
    pub phone: String,
    pub full_name: String,
    #[schema(example = "owner")]
    pub role: String,
    pub is_verified: bool,
    /// `""` when none
    pub avatar_url: String,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String, example = "2026-05-17T09:00:00Z")]
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            phone: u.phone,
            full_name: u.full_name,
            role: u.role.as_str().to_owned(),
            is_verified: u.is_verified,
            avatar_url: u.avatar_url,
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub user: UserDto,
}

/// Every field is optional on the wire so a missing one gets a message
/// naming it, not a serde error. Unknown keys (`first_pet`) are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub full_name: Option<String>,
    pub password: Option<String>,
    /// owner | runner | shop
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateProfileRequest {
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    pub token: Option<String>,
    #[serde(rename = "newPassword")]
    pub new_password: Option<String>,
}

fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, ValidationError> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ValidationError::new(format!("{field} is required"))),
    }
}

/// Every hashing thread busy and the queue full: come back in a second.
fn hashing_busy() -> AppError {
    AppError::Busy { error: "server is busy; try again shortly".into(), retry_after_secs: 1 }
}

/// Hashes on the bounded hashing pool: argon2 must not stall the event
/// loop, nor hold its memory once per concurrent request.
async fn hash_password(state: &AppState, password: NewPassword) -> Result<String, AppError> {
    let passwords = state.passwords.clone();
    state
        .hashing
        .run(move || passwords.hash(password.expose()))
        .await
        .ok_or_else(hashing_busy)?
        .map_err(AppError::Internal)
}

async fn verify_password(state: &AppState, password: String, stored: Option<String>) -> Result<bool, AppError> {
    let passwords = state.passwords.clone();
    state.hashing.run(move || passwords.verify(&password, stored.as_deref())).await.ok_or_else(hashing_busy)
}

/// A new session: access token plus a refresh token starting a new family.
async fn open_session(state: &AppState, conn: &mut Conn, user: User) -> Result<AuthResponse, AppError> {
    let refresh = state.keys.issue_refresh(user.id)?;
    let session_id = tokens::start_session(conn, user.id, &refresh).await?;
    let access = state.keys.issue_access(user.id, &user.email, user.role(), user.token_version, session_id)?;
    Ok(AuthResponse { access_token: access, refresh_token: refresh.token, user: user.into() })
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "identity", request_body = RegisterRequest,
    responses(
        (status = 201, body = Envelope<AuthResponse>),
        (status = 400, description = "validation failure, admin role", body = ErrorBody),
        (status = 409, description = "email taken (any case)", body = ErrorBody),
        (status = 503, description = "password hashing saturated; retry after `Retry-After`", body = ErrorBody),
        (status = 429, body = RawError),
    ))]
pub async fn register(state: web::Data<AppState>, body: web::Json<RegisterRequest>) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let email = Email::parse(required(&body.email, "email")?)?;
    let full_name = parse_full_name(required(&body.full_name, "full_name")?)?;
    let password =
        NewPassword::parse(body.password.as_deref().ok_or_else(|| ValidationError::new("password is required"))?)?;
    let role = Role::parse_self_registered(required(&body.role, "role")?)?;
    let phone = match body.phone.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Phone::parse(p)?.as_str().to_owned(),
        _ => String::new(),
    };
    let password_hash = hash_password(&state, password).await?;
    let mut conn = state.pool.get().await?;
    let user = users::insert(
        &mut conn,
        NewUser { email: &email, phone: &phone, password_hash: &password_hash, full_name: &full_name, role },
    )
    .await?;
    tracing::info!(user_id = %user.id, role = %role, "user registered");
    Ok(envelope::created(open_session(&state, &mut conn, user).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "identity", request_body = LoginRequest,
    responses(
        (status = 200, body = Envelope<AuthResponse>),
        (status = 400, body = ErrorBody),
        (status = 401, description = "invalid email or password", body = ErrorBody),
        (status = 403, description = "account is banned", body = ErrorBody),
        (status = 503, description = "every password-hashing slot busy and the queue full; `Retry-After` says when to retry", body = ErrorBody),
    ))]
pub async fn login(state: web::Data<AppState>, body: web::Json<LoginRequest>) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let email = Email::parse(required(&body.email, "email")?)?;
    let password =
        body.password.filter(|p| !p.is_empty()).ok_or_else(|| ValidationError::new("password is required"))?;
    let mut conn = state.pool.get().await?;
    let user = users::find_by_email(&mut conn, &email).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    // The connection goes back to the pool while the hash is checked.
    drop(conn);
    let valid = verify_password(&state, password, stored).await?;
    let user = match user {
        Some(user) if valid => user,
        _ => return Err(AppError::Unauthorized("invalid email or password".into())),
    };
    if user.is_banned {
        return Err(AppError::Forbidden("account is banned".into()));
    }
    let mut conn = state.pool.get().await?;
    Ok(envelope::ok(open_session(&state, &mut conn, user).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "identity", request_body = RefreshRequest,
    responses(
        (status = 200, description = "a new pair in the same session; the presented token is dead (a second refresh with it within `auth.refresh_reuse_grace_secs`, e.g. another tab, gets a sibling pair)", body = Envelope<AuthResponse>),
        (status = 401, description = "invalid, unknown, expired or revoked; a rotated token reused after the grace ends its session (the user's other sessions live on)", body = ErrorBody),
        (status = 404, description = "User not found", body = ErrorBody),
    ))]
pub async fn refresh(state: web::Data<AppState>, body: web::Json<RefreshRequest>) -> Result<HttpResponse, AppError> {
    let presented = required(&body.refresh_token, "refresh_token")?.trim().to_owned();
    let invalid = || AppError::Unauthorized("invalid refresh token".into());
    let claims = state.keys.decode(&presented).ok_or_else(invalid)?;
    if claims.token_type != REFRESH {
        return Err(invalid());
    }
    let user_id = Uuid::parse_str(&claims.sub).map_err(|_| invalid())?;
    let next = state.keys.issue_refresh(user_id)?;
    let grace = Duration::seconds(state.settings.auth.refresh_reuse_grace_secs.max(0));
    let mut conn = state.pool.get().await?;
    match tokens::rotate(&mut conn, &auth::sha256_hex(&presented), &next, grace).await? {
        Rotation::Rotated { user, session_id } => {
            let access = state.keys.issue_access(user.id, &user.email, user.role(), user.token_version, session_id)?;
            Ok(envelope::ok(AuthResponse { access_token: access, refresh_token: next.token, user: (*user).into() }))
        }
        Rotation::NotFound => Err(AppError::Unauthorized("refresh token not found".into())),
        Rotation::Reused { user_id, session_id } => {
            crate::services::identity::sessions_ended(&state.services, user_id, Some(session_id)).await;
            Err(AppError::Unauthorized("refresh token is expired or revoked".into()))
        }
        Rotation::Ended | Rotation::Expired | Rotation::Banned => {
            Err(AppError::Unauthorized("refresh token is expired or revoked".into()))
        }
        Rotation::UserGone => Err(AppError::not_found("user", user_id)),
    }
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity", security(("bearer" = [])),
    responses((status = 200, description = "this session ended: its refresh tokens revoked, its access tokens and sockets dead; the user's other devices stay signed in", body = Envelope<Message>),
              (status = 401, body = RawError)))]
pub async fn logout(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    crate::services::identity::logout(&state.services, user.id, user.session_id).await?;
    Ok(envelope::message("logged out successfully"))
}

#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "identity", security(("bearer" = [])),
    responses((status = 200, description = "every session of the user ended, on every device; open sockets closed", body = Envelope<Message>),
              (status = 401, body = RawError)))]
pub async fn logout_all(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    crate::services::identity::logout_all(&state.services, user.id).await?;
    Ok(envelope::message("logged out everywhere"))
}

#[utoipa::path(get, path = "/api/v1/auth/profile", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = Envelope<UserDto>), (status = 401, body = RawError), (status = 404, body = ErrorBody)))]
pub async fn get_profile(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let found = users::find(&mut conn, user.id).await?.ok_or_else(|| AppError::not_found("user", user.id))?;
    Ok(envelope::ok(UserDto::from(found)))
}

#[utoipa::path(put, path = "/api/v1/auth/profile", tag = "identity", security(("bearer" = [])),
    request_body = UpdateProfileRequest,
    responses((status = 200, body = Envelope<UserDto>), (status = 400, body = ErrorBody), (status = 401, body = RawError)))]
pub async fn update_profile(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<UpdateProfileRequest>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let present = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let full_name = present(body.full_name).map(|n| parse_full_name(&n)).transpose()?;
    let phone = present(body.phone).map(|p| Phone::parse(&p).map(|p| p.as_str().to_owned())).transpose()?;
    let avatar_url = present(body.avatar_url);
    if avatar_url.as_ref().is_some_and(|a| a.len() > 2048) {
        return Err(AppError::BadRequest("avatar_url must be at most 2048 characters".into()));
    }
    let mut conn = state.pool.get().await?;
    let updated = users::update_profile(&mut conn, user.id, ProfileChanges { full_name, phone, avatar_url })
        .await?
        .ok_or_else(|| AppError::not_found("user", user.id))?;
    Ok(envelope::ok(UserDto::from(updated)))
}

#[utoipa::path(post, path = "/api/v1/auth/forgot-password", tag = "identity", request_body = ForgotPasswordRequest,
    responses((status = 202, description = "always, with an empty body, whether or not the email exists"),
              (status = 400, description = "malformed JSON", body = ErrorBody)))]
pub async fn forgot_password(
    state: web::Data<AppState>,
    body: web::Json<ForgotPasswordRequest>,
) -> Result<HttpResponse, AppError> {
    let Some(email) = body.email.as_deref().and_then(|e| Email::parse(e).ok()) else {
        return Ok(HttpResponse::Accepted().finish());
    };
    let mut conn = state.pool.get().await?;
    if let Some(user) = users::find_by_email(&mut conn, &email).await?.filter(|u| !u.is_banned) {
        let token = auth::random_hex(32);
        let expires_at = Utc::now() + Duration::seconds(state.settings.auth.reset_ttl_secs);
        tokens::store_reset_token(&mut conn, user.id, &auth::sha256_hex(&token), expires_at).await?;
        state.mailer.send_password_reset(&user.email, &token);
    }
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = "identity", request_body = ResetPasswordRequest,
    responses((status = 200, description = "password changed; every session ended", body = Envelope<Message>),
              (status = 400, description = "short password, invalid, used or expired token", body = ErrorBody)))]
pub async fn reset_password(
    state: web::Data<AppState>,
    body: web::Json<ResetPasswordRequest>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let password = NewPassword::parse(body.new_password.as_deref().unwrap_or(""))?;
    let token = body.token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(AppError::BadRequest("invalid token".into()));
    };
    let password_hash = hash_password(&state, password).await?;
    let mut conn = state.pool.get().await?;
    match tokens::reset_password(&mut conn, &auth::sha256_hex(&token), &password_hash).await? {
        Reset::Done(user_id) => {
            drop(conn);
            crate::services::identity::sessions_ended(&state.services, user_id, None).await;
            Ok(envelope::message("password reset successful"))
        }
        Reset::Invalid => Err(AppError::BadRequest("invalid token".into())),
        Reset::AlreadyUsed => Err(AppError::BadRequest("token already used".into())),
        Reset::Expired => Err(AppError::BadRequest("token expired".into())),
    }
}
