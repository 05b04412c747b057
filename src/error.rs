//! One error type for every handler, each variant with its status and the
//! Kilat body it renders (docs/API.md#envelope). A client mistake is never a
//! 500; an unknown failure is a 500, logged with its cause chain.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::domain::ValidationError;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400, malformed or invalid input.
    #[error("{0}")]
    BadRequest(String),
    /// 401 in the envelope (bad credentials, bad refresh token).
    #[error("{0}")]
    Unauthorized(String),
    /// 403 in the envelope (authenticated, but not allowed this).
    #[error("{0}")]
    Forbidden(String),
    /// 404 `"<Entity> not found"`, detail `"<Entity> with id '<id>' was not found"`.
    #[error("{entity} not found")]
    NotFound { entity: &'static str, id: Option<String> },
    /// 404 with an exact message and detail (`runner not found`, `""`).
    #[error("{error}")]
    Missing { error: String, detail: String },
    /// 409 duplicate or conflict.
    #[error("{0}")]
    Conflict(String),
    /// 413 body over the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 422 `cannot transition from '<from>' to '<to>'`.
    #[error("cannot transition from '{from}' to '{to}'")]
    InvalidTransition { from: String, to: String },
    /// 422 with a detail, e.g. `runner is not eligible for this booking`.
    #[error("{error}")]
    Unprocessable { error: String, detail: String },
    /// Raw `{"error":…}` from the auth middleware layer (no `success` key).
    #[error("{message}")]
    Auth { status: StatusCode, message: &'static str },
    /// Raw 429 `{"error":"rate limit exceeded"}` with `Retry-After`.
    #[error("rate limit exceeded")]
    RateLimited { retry_after_secs: u64 },
    /// 402: the payment provider declined the card.
    #[error("{error}")]
    PaymentDeclined { error: String, detail: String },
    /// 502: the payment provider failed or could not be reached (after retries).
    #[error("{0}")]
    BadGateway(String),
    /// 503: a dependency is down or saturated; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// 503 in the envelope with `Retry-After`: this node is saturated
    /// (e.g. every password-hashing slot busy).
    #[error("{error}")]
    Busy { error: String, retry_after_secs: u64 },
    /// 500: a server fault. The cause is logged, never sent.
    #[error("internal server error")]
    Internal(#[source] BoxError),
}

impl AppError {
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        AppError::NotFound { entity, id: Some(id.to_string()) }
    }

    pub fn missing(error: &str) -> Self {
        AppError::Missing { error: error.to_owned(), detail: String::new() }
    }

    pub fn internal(err: impl Into<BoxError>) -> Self {
        AppError::Internal(err.into())
    }

    pub fn missing_auth_header() -> Self {
        AppError::Auth { status: StatusCode::UNAUTHORIZED, message: "authorization header is required" }
    }

    pub fn malformed_auth_header() -> Self {
        AppError::Auth { status: StatusCode::UNAUTHORIZED, message: "authorization header must be Bearer {token}" }
    }

    pub fn invalid_token() -> Self {
        AppError::Auth { status: StatusCode::UNAUTHORIZED, message: "invalid or expired token" }
    }

    pub fn insufficient_permissions() -> Self {
        AppError::Auth { status: StatusCode::FORBIDDEN, message: "insufficient permissions" }
    }
}

/// What a refused change means to the caller.
impl From<crate::domain::Refusal> for AppError {
    fn from(refusal: crate::domain::Refusal) -> Self {
        use crate::domain::Refusal;
        match refusal {
            Refusal::NotYours(message) => AppError::Forbidden(message.into()),
            Refusal::Transition { from, to } => AppError::InvalidTransition { from: from.into(), to: to.into() },
            Refusal::Unprocessable { error, detail } => AppError::Unprocessable { error, detail },
            Refusal::Mismatch(message) => AppError::BadRequest(message),
        }
    }
}

/// What a storage failure means to the caller.
impl From<crate::db::DbError> for AppError {
    fn from(err: crate::db::DbError) -> Self {
        use crate::db::DbError;
        match err {
            DbError::NotFound { entity, id } => AppError::NotFound { entity, id },
            DbError::Missing(message) => AppError::missing(message),
            DbError::Conflict(message) => AppError::Conflict(message),
            DbError::Refused(refusal) => refusal.into(),
            DbError::Query(err) => err.into(),
            DbError::Redis(err) => err.into(),
            DbError::Pool(err) => err.into(),
            DbError::Corrupt(err) => AppError::Internal(err),
        }
    }
}

impl From<ValidationError> for AppError {
    fn from(err: ValidationError) -> Self {
        AppError::BadRequest(err.0)
    }
}

/// PostgreSQL refuses NUL characters in text and `\u0000` in JSONB; that is
/// the client's text, not a server fault.
fn is_nul_text(message: &str) -> bool {
    message.contains("0x00") || message.contains("unsupported Unicode escape sequence")
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        match err {
            diesel::result::Error::NotFound => AppError::NotFound { entity: "resource", id: None },
            diesel::result::Error::DatabaseError(_, info) if is_nul_text(info.message()) => {
                AppError::BadRequest("text must not contain NUL (\\u0000) characters".into())
            }
            // The server went away mid-request (restart, failover): retryable.
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::ClosedConnection, _) => {
                tracing::error!("database connection closed mid-request");
                AppError::Unavailable("database unavailable".into())
            }
            diesel::result::Error::DatabaseError(_, info) if info.message().contains("connection closed") => {
                tracing::error!("database connection closed mid-request");
                AppError::Unavailable("database unavailable".into())
            }
            other => AppError::Internal(Box::new(other)),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        use diesel_async::pooled_connection::deadpool::PoolError;
        match err {
            PoolError::Timeout(_) => AppError::Unavailable("database is busy, please retry".into()),
            other => {
                tracing::error!(error = %other, "database pool error");
                AppError::Unavailable("database unavailable".into())
            }
        }
    }
}

impl From<redis::RedisError> for AppError {
    fn from(err: redis::RedisError) -> Self {
        tracing::error!(error = %err, "redis error");
        AppError::Unavailable("cache unavailable".into())
    }
}

fn capitalised(entity: &str) -> String {
    let mut chars = entity.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `{"success":false,"error":…,"detail":…}`
pub fn envelope_error(status: StatusCode, error: &str, detail: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"success": false, "error": error, "detail": detail}))
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound { .. } | AppError::Missing { .. } => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::InvalidTransition { .. } | AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Auth { status, .. } => *status,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PaymentDeclined { .. } => StatusCode::PAYMENT_REQUIRED,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::Unavailable(_) | AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            AppError::Auth { message, .. } => HttpResponse::build(status).json(json!({"error": message})),
            AppError::RateLimited { retry_after_secs } => {
                let mut resp = HttpResponse::build(status).json(json!({"error": "rate limit exceeded"}));
                if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, value);
                }
                resp
            }
            AppError::Busy { error, retry_after_secs } => {
                let mut resp = envelope_error(status, error, "");
                if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, value);
                }
                resp
            }
            AppError::NotFound { entity, id } => {
                let name = capitalised(entity);
                let detail = match id {
                    Some(id) => format!("{name} with id '{id}' was not found"),
                    None => String::new(),
                };
                let error = if entity.is_empty() || *entity == "resource" {
                    "not found".to_owned()
                } else {
                    format!("{name} not found")
                };
                envelope_error(status, &error, &detail)
            }
            AppError::Internal(source) => {
                let mut chain = source.to_string();
                let mut cause = source.source();
                while let Some(inner) = cause {
                    chain.push_str(": ");
                    chain.push_str(&inner.to_string());
                    cause = inner.source();
                }
                tracing::error!(error = %chain, "internal server error");
                envelope_error(status, "internal server error", "")
            }
            AppError::Unprocessable { error, detail }
            | AppError::Missing { error, detail }
            | AppError::PaymentDeclined { error, detail } => envelope_error(status, error, detail),
            AppError::Unavailable(message) => {
                tracing::warn!(error = %message, "dependency unavailable");
                envelope_error(status, message, "")
            }
            other => envelope_error(status, &other.to_string(), ""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body(err: AppError) -> (StatusCode, serde_json::Value) {
        let resp = err.error_response();
        let status = resp.status();
        let bytes = to_bytes(resp.into_body()).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[actix_web::test]
    async fn not_found_names_entity_and_id() {
        let (status, json) = body(AppError::not_found("user", "42")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            json,
            json!({"success": false, "error": "User not found", "detail": "User with id '42' was not found"})
        );
    }

    #[actix_web::test]
    async fn internal_errors_hide_their_cause() {
        let (status, json) = body(AppError::internal("password column missing")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json, json!({"success": false, "error": "internal server error", "detail": ""}));
    }

    #[actix_web::test]
    async fn auth_errors_are_raw() {
        let (status, json) = body(AppError::invalid_token()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(json, json!({"error": "invalid or expired token"}));
    }

    #[actix_web::test]
    async fn diesel_not_found_is_404_not_500() {
        let (status, _) = body(diesel::result::Error::NotFound.into()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
