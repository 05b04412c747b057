//! Identity use cases: sign up, sign in, refresh (rotation with reuse
//! detection), password reset by mailed token, and what reaches live
//! sockets: logout (one session or all), a ban, a stolen refresh token.

use chrono::Duration;
use uuid::Uuid;

use super::{Followup, Services};
use crate::auth::{self, REFRESH};
use crate::db::tokens::{self, Reset, Rotation};
use crate::db::users::{self, NewUser, User};
use crate::db::{Conn, DbError};
use crate::domain::ValidationError;
use crate::domain::identity::{Email, NewPassword, Phone, Role, parse_full_name};
use crate::error::AppError;

/// A signed-in session: the user and the token pair.
pub struct Signed {
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
}

/// A sign-up as sent (every field optional, so a missing one is named).
#[derive(Debug, Default)]
pub struct SignUp {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub full_name: Option<String>,
    pub password: Option<String>,
    pub role: Option<String>,
    pub referral_code: Option<String>,
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
async fn hash_password(s: &Services, password: NewPassword) -> Result<String, AppError> {
    let passwords = s.credentials.passwords.clone();
    s.credentials
        .hashing
        .run(move || passwords.hash(password.expose()))
        .await
        .ok_or_else(hashing_busy)?
        .map_err(AppError::Internal)
}

async fn verify_password(s: &Services, password: String, stored: Option<String>) -> Result<bool, AppError> {
    let passwords = s.credentials.passwords.clone();
    s.credentials.hashing.run(move || passwords.verify(&password, stored.as_deref())).await.ok_or_else(hashing_busy)
}

/// A new session: an access token plus a refresh token starting its family.
async fn open_session(s: &Services, conn: &mut Conn, user: User) -> Result<Signed, AppError> {
    let keys = &s.credentials.keys;
    let refresh = keys.issue_refresh(user.id)?;
    let session_id = tokens::start_session(conn, user.id, &refresh).await?;
    let access = keys.issue_access(user.id, &user.email, user.role(), user.token_version, session_id)?;
    Ok(Signed { user, access_token: access, refresh_token: refresh.token })
}

/// Sign-up as an owner, runner or shop (never an admin), signed in at once.
pub async fn register(s: &Services, input: SignUp) -> Result<Signed, AppError> {
    let email = Email::parse(required(&input.email, "email")?)?;
    let full_name = parse_full_name(required(&input.full_name, "full_name")?)?;
    let password =
        NewPassword::parse(input.password.as_deref().ok_or_else(|| ValidationError::new("password is required"))?)?;
    let role = Role::parse_self_registered(required(&input.role, "role")?)?;
    let phone = match input.phone.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Phone::parse(p)?.as_str().to_owned(),
        _ => String::new(),
    };
    if role == Role::Runner {
        super::applications::check_runner_signup(s, email.as_str()).await?;
    }
    let referrer = match input.referral_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => {
            let mut conn = s.pool.get().await?;
            let code = crate::domain::promo::normalise_referral_code(code);
            Some(
                crate::db::referrals::owner_of(&mut conn, &code)
                    .await?
                    .ok_or_else(|| ValidationError::new("referral code not found"))?,
            )
        }
        None => None,
    };
    let password_hash = hash_password(s, password).await?;
    let mut conn = s.pool.get().await?;
    let user = users::insert_referred(
        &mut conn,
        NewUser { email: &email, phone: &phone, password_hash: &password_hash, full_name: &full_name, role },
        referrer,
    )
    .await?;
    tracing::info!(user_id = %user.id, role = %role, "user registered");
    open_session(s, &mut conn, user).await
}

/// Sign-in: a wrong email and a wrong password look the same (401); a
/// banned account is 403.
pub async fn login(s: &Services, email: Option<String>, password: Option<String>) -> Result<Signed, AppError> {
    let email = Email::parse(required(&email, "email")?)?;
    let password = password.filter(|p| !p.is_empty()).ok_or_else(|| ValidationError::new("password is required"))?;
    let user = {
        let mut conn = s.pool.get().await?;
        users::find_by_email(&mut conn, &email).await?
    };
    // no pooled connection is held while the hash is checked
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let valid = verify_password(s, password, stored).await?;
    let user = match user {
        Some(user) if valid => user,
        _ => return Err(AppError::Unauthorized("invalid email or password".into())),
    };
    if user.is_banned {
        return Err(AppError::Forbidden("account is banned".into()));
    }
    let mut conn = s.pool.get().await?;
    open_session(s, &mut conn, user).await
}

/// Refresh: the presented token is rotated. Presented again within
/// `auth.refresh_reuse_grace_secs` (another tab) it gets a sibling pair;
/// after that a copy exists, and its session ends (sockets closed).
pub async fn refresh(s: &Services, presented: Option<String>) -> Result<Signed, AppError> {
    let presented = required(&presented, "refresh_token")?.trim().to_owned();
    let invalid = || AppError::Unauthorized("invalid refresh token".into());
    let keys = &s.credentials.keys;
    let claims = keys.decode(&presented).ok_or_else(invalid)?;
    if claims.token_type != REFRESH {
        return Err(invalid());
    }
    let user_id = Uuid::parse_str(&claims.sub).map_err(|_| invalid())?;
    let next = keys.issue_refresh(user_id)?;
    let grace = Duration::seconds(s.settings.auth.refresh_reuse_grace_secs.max(0));
    let rotation = {
        let mut conn = s.pool.get().await?;
        tokens::rotate(&mut conn, &auth::sha256_hex(&presented), &next, grace).await?
    };
    match rotation {
        Rotation::Rotated { user, session_id } => {
            let access = keys.issue_access(user.id, &user.email, user.role(), user.token_version, session_id)?;
            Ok(Signed { user: *user, access_token: access, refresh_token: next.token })
        }
        Rotation::NotFound => Err(AppError::Unauthorized("refresh token not found".into())),
        Rotation::Reused { user_id, session_id } => {
            sessions_ended(s, user_id, Some(session_id)).await;
            Err(AppError::Unauthorized("refresh token is expired or revoked".into()))
        }
        Rotation::Ended | Rotation::Expired | Rotation::Banned => {
            Err(AppError::Unauthorized("refresh token is expired or revoked".into()))
        }
        Rotation::UserGone => Err(DbError::not_found("user", user_id).into()),
    }
}

/// Mails a reset token (1 hour, single use) when the address belongs to
/// an account in good standing; says nothing either way.
pub async fn forgot_password(s: &Services, email: Option<String>) -> Result<(), AppError> {
    let Some(email) = email.as_deref().and_then(|e| Email::parse(e).ok()) else {
        return Ok(());
    };
    let mut conn = s.pool.get().await?;
    if let Some(user) = users::find_by_email(&mut conn, &email).await?.filter(|u| !u.is_banned) {
        let token = auth::random_hex(32);
        let expires_at = chrono::Utc::now() + Duration::seconds(s.settings.auth.reset_ttl_secs);
        tokens::store_reset_token(&mut conn, user.id, &auth::sha256_hex(&token), expires_at).await?;
        s.credentials.mailer.send_password_reset(&user.email, &token);
    }
    Ok(())
}

/// A new password by reset token: every session of the user ends.
pub async fn reset_password(s: &Services, token: Option<String>, new_password: Option<String>) -> Result<(), AppError> {
    let password = NewPassword::parse(new_password.as_deref().unwrap_or(""))?;
    let token = token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(AppError::BadRequest("invalid token".into()));
    };
    let password_hash = hash_password(s, password).await?;
    let reset = {
        let mut conn = s.pool.get().await?;
        tokens::reset_password(&mut conn, &auth::sha256_hex(&token), &password_hash).await?
    };
    match reset {
        Reset::Done(user_id) => {
            sessions_ended(s, user_id, None).await;
            Ok(())
        }
        Reset::Invalid => Err(AppError::BadRequest("invalid token".into())),
        Reset::AlreadyUsed => Err(AppError::BadRequest("token already used".into())),
        Reset::Expired => Err(AppError::BadRequest("token expired".into())),
    }
}

/// Ends one session of the user (`Some`), or every session (`None`: a
/// token from before sessions existed names none).
pub async fn logout(s: &Services, user_id: Uuid, session_id: Option<Uuid>) -> Result<(), AppError> {
    {
        let mut conn = s.pool.get().await?;
        match session_id {
            Some(session_id) => {
                tokens::end_session(&mut conn, user_id, session_id).await?;
            }
            None => users::end_all_sessions(&mut conn, user_id).await?,
        }
    }
    s.live.follow(Followup::default().end_sessions(user_id, session_id)).await;
    Ok(())
}

/// "Sign out everywhere".
pub async fn logout_all(s: &Services, user_id: Uuid) -> Result<(), AppError> {
    {
        let mut conn = s.pool.get().await?;
        users::end_all_sessions(&mut conn, user_id).await?;
    }
    s.live.follow(Followup::default().end_sessions(user_id, None)).await;
    Ok(())
}

/// An admin bans a user: every session ended, a runner taken offline (no
/// offers, no pool), every socket closed.
pub async fn ban(s: &Services, admin_id: Uuid, id: Uuid) -> Result<(), AppError> {
    if id == admin_id {
        return Err(AppError::BadRequest("you cannot ban yourself".into()));
    }
    {
        let mut conn = s.pool.get().await?;
        if !users::ban(&mut conn, id).await? {
            return Err(AppError::not_found("user", id));
        }
    }
    s.live.follow(Followup::default().end_sessions(id, None).refresh_user(id)).await;
    tracing::warn!(%admin_id, banned_user_id = %id, "user banned");
    Ok(())
}

/// Sessions were ended by a storage-side rule (a refresh token presented
/// after its grace, a password reset): close their sockets.
pub async fn sessions_ended(s: &Services, user_id: Uuid, session_id: Option<Uuid>) {
    s.live.follow(Followup::default().end_sessions(user_id, session_id)).await;
}
