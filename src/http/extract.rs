//! Extractors every handler shares: the authenticated user (with the role
//! guard), pagination, ids, and body/query/path error handling that turns
//! client mistakes into 400 envelopes.

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use crate::auth::ACCESS;
use crate::db::users;
use crate::domain::ValidationError;
use crate::domain::identity::Role;
use crate::error::AppError;

/// The caller, proven by an access token that is signed, unexpired, of a
/// user who is not banned and whose sessions were not ended since.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    /// The sign-in this token belongs to (none for tokens minted before
    /// sessions existed).
    pub session_id: Option<Uuid>,
    /// The user's token version the token was minted under.
    pub token_version: i32,
}

impl AuthUser {
    /// Exact role match (docs/API.md#auth-and-roles): an admin is not an owner.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.role == role { Ok(()) } else { Err(AppError::insufficient_permissions()) }
    }
}

/// The bearer token of a request: the `Authorization` header, or `?token=`
/// on a WebSocket upgrade (browsers cannot set headers there).
pub fn bearer_token(req: &HttpRequest) -> Result<String, AppError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| AppError::malformed_auth_header())?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(AppError::malformed_auth_header)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(AppError::malformed_auth_header());
        }
        return Ok(token.to_owned());
    }
    if is_websocket_upgrade(req) {
        if let Some(token) = query_token(req.query_string()) {
            return Ok(token);
        }
    }
    Err(AppError::missing_auth_header())
}

fn is_websocket_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn query_token(query: &str) -> Option<String> {
    web::Query::<TokenQuery>::from_query(query).ok().and_then(|q| q.into_inner().token).filter(|t| !t.is_empty())
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Proves an access token: signature, expiry, kind, then one primary-key
/// read (not banned, sessions not ended since it was issued).
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, AppError> {
    let claims = state.keys.decode(token).ok_or_else(AppError::invalid_token)?;
    if claims.token_type != ACCESS {
        return Err(AppError::invalid_token());
    }
    let id = Uuid::parse_str(&claims.sub).map_err(|_| AppError::invalid_token())?;
    let role = Role::parse(&claims.role).ok_or_else(AppError::invalid_token)?;
    let session_id = match claims.sid.as_deref() {
        Some(sid) => Some(Uuid::parse_str(sid).map_err(|_| AppError::invalid_token())?),
        None => None,
    };
    let mut conn = state.pool.get().await?;
    match users::auth_state(&mut conn, id, session_id).await? {
        Some(s) if s.in_good_standing(claims.tv) => {
            Ok(AuthUser { id, email: claims.email, role, session_id, token_version: claims.tv })
        }
        _ => Err(AppError::invalid_token()),
    }
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token?;
            let state = state.ok_or_else(|| AppError::internal("AppState missing"))?;
            authenticate(&state, &token).await
        })
    }
}

/// `?page=&limit=` with the admin-list rule (docs/API.md#pagination): page < 1 → 1,
/// limit outside 1..=100 → 20.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub page: Option<i64>,
    pub limit: Option<i64>,
}

impl PageQuery {
    pub fn admin(&self) -> (i64, i64) {
        let page = self.page.filter(|p| *p >= 1).unwrap_or(1);
        let limit = self.limit.filter(|l| (1..=100).contains(l)).unwrap_or(20);
        (page, limit)
    }
}

/// A path id: a malformed one is a 400 naming the entity (`invalid user ID`).
pub fn parse_id(raw: &str, entity: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw.trim()).map_err(|_| AppError::BadRequest(format!("invalid {entity} ID")))
}

/// An optional text field: trimmed, `""` counts as absent, at most `max` characters.
pub fn optional_text(v: Option<String>, field: &str, max: usize) -> Result<Option<String>, ValidationError> {
    match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max => {
            Err(ValidationError::new(format!("{field} must be at most {max} characters")))
        }
        other => Ok(other),
    }
}

/// A required text field: trimmed, non-empty, at most `max` characters.
pub fn required_text(v: Option<String>, field: &str, max: usize) -> Result<String, ValidationError> {
    optional_text(v, field, max)?.ok_or_else(|| ValidationError::new(format!("{field} is required")))
}

/// Counts per key with every key present (zero when absent), and their sum.
pub fn tally<K: std::fmt::Display>(
    keys: impl IntoIterator<Item = K>,
    counts: Vec<(K, i64)>,
) -> (i64, std::collections::BTreeMap<String, i64>) {
    let mut map: std::collections::BTreeMap<String, i64> = keys.into_iter().map(|k| (k.to_string(), 0)).collect();
    for (key, n) in counts {
        map.insert(key.to_string(), n);
    }
    (map.values().sum(), map)
}

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(move |err, _req| json_error(err, limit).into())
}

fn json_error(err: JsonPayloadError, limit: usize) -> AppError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            AppError::PayloadTooLarge(format!("request body is larger than {limit} bytes"))
        }
        JsonPayloadError::ContentType => AppError::BadRequest("Content-Type must be application/json".into()),
        JsonPayloadError::Deserialize(e) if e.is_eof() && e.line() == 1 && e.column() == 0 => {
            AppError::BadRequest("request body is empty".into())
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => AppError::BadRequest(format!("invalid request body: {e}")),
        JsonPayloadError::Deserialize(e) => AppError::BadRequest(format!("malformed JSON: {e}")),
        other => AppError::BadRequest(format!("invalid request body: {other}")),
    }
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        AppError::BadRequest(format!("invalid query string: {err}")).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err: PathError, _req| AppError::BadRequest(format!("invalid path: {err}")).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let req = TestRequest::default().insert_header((header::AUTHORIZATION, "bearer abc")).to_http_request();
        assert_eq!(bearer_token(&req).unwrap(), "abc");
    }

    #[test]
    fn missing_and_malformed_headers_are_distinguished() {
        let req = TestRequest::default().to_http_request();
        assert_eq!(bearer_token(&req).unwrap_err().to_string(), "authorization header is required");
        let req = TestRequest::default().insert_header((header::AUTHORIZATION, "Token abc")).to_http_request();
        assert_eq!(bearer_token(&req).unwrap_err().to_string(), "authorization header must be Bearer {token}");
    }

    #[test]
    fn query_token_only_on_websocket_upgrades() {
        let plain = TestRequest::with_uri("/api/v1/auth/profile?token=abc").to_http_request();
        assert!(bearer_token(&plain).is_err());
        let upgrade =
            TestRequest::with_uri("/ws?token=abc").insert_header((header::UPGRADE, "websocket")).to_http_request();
        assert_eq!(bearer_token(&upgrade).unwrap(), "abc");
    }

    #[test]
    fn admin_pagination_clamps_per_contract() {
        let q = |page, limit| PageQuery { page, limit }.admin();
        assert_eq!(q(None, None), (1, 20));
        assert_eq!(q(Some(0), Some(101)), (1, 20));
        assert_eq!(q(Some(3), Some(100)), (3, 100));
        assert_eq!(q(Some(2), Some(0)), (2, 20));
    }
}
