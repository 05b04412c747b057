//! Identity (docs/API.md#identity): register, login, refresh, logout, profile,
//! forgot and reset password.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Message, RawError};
use super::extract::AuthUser;
use crate::db::users::{self, ProfileChanges, User};
use crate::domain::identity::{Phone, parse_full_name};
use crate::domain::time;
use crate::error::AppError;
use crate::services::identity::{self as service, SignUp, Signed};

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
    /// optional: a friend's `REF-…` code; both get credit when this
    /// account's first booking completes
    pub referral_code: Option<String>,
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

impl From<Signed> for AuthResponse {
    fn from(s: Signed) -> Self {
        Self { access_token: s.access_token, refresh_token: s.refresh_token, user: s.user.into() }
    }
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
    let b = body.into_inner();
    let input = SignUp {
        email: b.email,
        phone: b.phone,
        full_name: b.full_name,
        password: b.password,
        role: b.role,
        referral_code: b.referral_code,
    };
    Ok(envelope::created(AuthResponse::from(service::register(&state.services, input).await?)))
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
    let b = body.into_inner();
    Ok(envelope::ok(AuthResponse::from(service::login(&state.services, b.email, b.password).await?)))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "identity", request_body = RefreshRequest,
    responses(
        (status = 200, description = "a new pair in the same session; the presented token is dead (a second refresh with it within `auth.refresh_reuse_grace_secs`, e.g. another tab, gets a sibling pair)", body = Envelope<AuthResponse>),
        (status = 401, description = "invalid, unknown, expired or revoked; a rotated token reused after the grace ends its session (the user's other sessions live on)", body = ErrorBody),
        (status = 404, description = "User not found", body = ErrorBody),
    ))]
pub async fn refresh(state: web::Data<AppState>, body: web::Json<RefreshRequest>) -> Result<HttpResponse, AppError> {
    let signed = service::refresh(&state.services, body.into_inner().refresh_token).await?;
    Ok(envelope::ok(AuthResponse::from(signed)))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity", security(("bearer" = [])),
    responses((status = 200, description = "this session ended: its refresh tokens revoked, its access tokens and sockets dead; the user's other devices stay signed in", body = Envelope<Message>),
              (status = 401, body = RawError)))]
pub async fn logout(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    service::logout(&state.services, user.id, user.session_id).await?;
    Ok(envelope::message("logged out successfully"))
}

#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "identity", security(("bearer" = [])),
    responses((status = 200, description = "every session of the user ended, on every device; open sockets closed", body = Envelope<Message>),
              (status = 401, body = RawError)))]
pub async fn logout_all(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    service::logout_all(&state.services, user.id).await?;
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
    service::forgot_password(&state.services, body.into_inner().email).await?;
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(post, path = "/api/v1/auth/reset-password", tag = "identity", request_body = ResetPasswordRequest,
    responses((status = 200, description = "password changed; every session ended", body = Envelope<Message>),
              (status = 400, description = "short password, invalid, used or expired token", body = ErrorBody)))]
pub async fn reset_password(
    state: web::Data<AppState>,
    body: web::Json<ResetPasswordRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    service::reset_password(&state.services, b.token, b.new_password).await?;
    Ok(envelope::message("password reset successful"))
}
