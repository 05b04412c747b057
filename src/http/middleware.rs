//! Request id + access log, security headers, CORS, and the Redis-backed
//! rate limiter shared by every node.

use std::time::Instant;

use actix_cors::Cors;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{Error, HttpMessage, ResponseError, web};
use uuid::Uuid;

use super::AppState;
use crate::auth::ACCESS;
use crate::config::Settings;
use crate::error::AppError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, in request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_request_id(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= 128 && raw.bytes().all(|b| b.is_ascii_graphic())
}

/// The request's root span for `tracing_actix_web::TracingLogger`: it
/// carries the request id (the caller's `X-Request-ID` when acceptable,
/// else a new UUID, kept in the request's extensions for the echo), and the
/// request ends with one log line: status and latency.
pub struct RequestSpan;

/// When the request started (for the latency in the access log line).
#[derive(Debug, Clone, Copy)]
struct Started(Instant);

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(req: &ServiceRequest) -> tracing::Span {
        let id = req
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| acceptable_request_id(v))
            .map(str::to_owned)
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
        req.extensions_mut().insert(RequestId(id));
        req.extensions_mut().insert(Started(Instant::now()));
        span
    }

    fn on_request_end<B: MessageBody>(span: tracing::Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, started) = match outcome {
            Ok(res) => (res.status().as_u16(), res.request().extensions().get::<Started>().copied()),
            Err(err) => (err.as_response_error().status_code().as_u16(), None),
        };
        let latency_ms = started.map(|s| s.0.elapsed().as_secs_f64() * 1000.0).unwrap_or_default();
        span.in_scope(|| {
            if status >= 500 {
                tracing::error!(status, latency_ms, "request finished");
            } else {
                tracing::info!(status, latency_ms, "request finished");
            }
        });
    }
}

/// Echoes the request id (set by [`RequestSpan`]) on the response.
pub async fn echo_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

/// The security headers (docs/API.md#platform).
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_XSS_PROTECTION, "1; mode=block"))
        .add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"))
        .add((header::REFERRER_POLICY, "strict-origin-when-cross-origin"))
}

/// The apps' local origins plus the deployment's (docs/API.md#platform).
pub fn cors(settings: &Settings) -> Cors {
    let defaults = ["http://localhost:3000", "http://localhost:3001", "http://localhost:3002", "http://localhost:8080"];
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers([header::ORIGIN, header::CONTENT_TYPE, header::ACCEPT, header::AUTHORIZATION, REQUEST_ID])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .supports_credentials()
        .max_age(12 * 3600);
    for origin in defaults.iter().copied().chain(settings.server.cors_origins.iter().map(String::as_str)) {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Which limit applies to a path, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// Identity routes: per client IP (docs/API.md#platform).
    Identity,
    /// Every other API route: per user, or per IP when anonymous.
    Api,
}

pub fn scope_for(path: &str) -> Option<LimitScope> {
    const IDENTITY: [&str; 5] = [
        "/api/v1/auth/",
        "/api/v1/runners/apply",
        "/api/v1/referrals/",
        "/api/v1/admin/users",
        "/api/v1/admin/stats/users",
    ];
    if IDENTITY.iter().any(|p| path.starts_with(p)) {
        Some(LimitScope::Identity)
    } else if path == "/api/v1/runners/me/location" || path == "/api/v1/openapi.json" {
        None
    } else if path.starts_with("/api/") {
        Some(LimitScope::Api)
    } else {
        None
    }
}

/// The client address a limit counts against. Behind our load balancer
/// (`trust_forwarded_for`) it is the one entry the balancer itself wrote:
/// the rightmost `X-Forwarded-For` value (nginx appends the address that
/// connected to it; anything to its left came from the client and is
/// ignored, as is `Forwarded`, which nginx passes through untouched).
/// Without a usable header, the socket's peer address.
fn client_ip(req: &ServiceRequest, trust_forwarded: bool) -> String {
    if trust_forwarded {
        let headers = req.headers().get_all("x-forwarded-for");
        if let Some(ip) = headers.last().and_then(|v| v.to_str().ok()).and_then(rightmost_address) {
            return ip;
        }
    }
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".to_owned())
}

/// The last comma-separated entry of an `X-Forwarded-For` value, when it is
/// an IP address.
fn rightmost_address(value: &str) -> Option<String> {
    let last = value.rsplit(',').next()?.trim();
    last.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

/// Fixed-window limiter on Redis, so every node counts against the same
/// window. Each window is its own key: it ends on the clock whatever the
/// traffic, so a client that keeps calling while blocked is let through in
/// the next window (the reference's limiter blocked it forever). When
/// Redis is unreachable the request goes through and a warning is logged:
/// losing the limiter must not take the API down.
/// Counts every request in the node's metrics, by route template (never
/// the raw path: ids would make a series each), method and status.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let metrics = req.app_data::<web::Data<AppState>>().map(|s| s.metrics.http.clone());
    let res = next.call(req).await;
    if let Some(m) = metrics {
        let status = match &res {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        m.observe(&route, method, status, started.elapsed().as_secs_f64());
    }
    res
}

pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(scope) = scope_for(req.path()) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let settings = &state.settings.rate_limit;
    let (limit, subject, label) = match scope {
        LimitScope::Identity => {
            (settings.auth_per_minute, client_ip(&req, state.settings.server.trust_forwarded_for), "auth")
        }
        LimitScope::Api => {
            let user = super::extract::bearer_token(req.request())
                .ok()
                .and_then(|t| state.keys.decode(&t))
                .filter(|c| c.token_type == ACCESS)
                .map(|c| format!("user:{}", c.sub));
            let subject =
                user.unwrap_or_else(|| format!("ip:{}", client_ip(&req, state.settings.server.trust_forwarded_for)));
            (settings.api_per_minute, subject, "api")
        }
    };
    let window = settings.window_secs.max(1);
    let now = state.clock.unix_secs();
    let index = now / window;
    let key = state.redis.key(&format!("rl:{label}:{subject}:{index}"));
    match state.redis.count_hit(&key, window).await {
        Ok(count) if count > u64::from(limit) => {
            let retry_after_secs = (window - now % window).max(1);
            let err = AppError::RateLimited { retry_after_secs };
            Ok(req.into_response(err.error_response()).map_into_right_body())
        }
        Ok(_) => Ok(next.call(req).await?.map_into_left_body()),
        Err(err) => {
            tracing::warn!(error = %err, "rate limiter unavailable; request allowed");
            Ok(next.call(req).await?.map_into_left_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_routes_use_the_identity_limit() {
        assert_eq!(scope_for("/api/v1/auth/login"), Some(LimitScope::Identity));
        assert_eq!(scope_for("/api/v1/admin/users/abc/ban"), Some(LimitScope::Identity));
        assert_eq!(scope_for("/api/v1/admin/stats/users"), Some(LimitScope::Identity));
        assert_eq!(scope_for("/api/v1/bookings"), Some(LimitScope::Api));
    }

    #[test]
    fn location_posts_and_probes_are_exempt() {
        assert_eq!(scope_for("/api/v1/runners/me/location"), None);
        assert_eq!(scope_for("/health"), None);
        assert_eq!(scope_for("/ws"), None);
    }

    #[test]
    fn only_the_address_the_balancer_appended_counts() {
        assert_eq!(rightmost_address("203.0.113.9").as_deref(), Some("203.0.113.9"));
        // A client-supplied entry to the left is ignored.
        assert_eq!(rightmost_address("1.2.3.4, 203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(rightmost_address("1.2.3.4,2001:db8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(rightmost_address("1.2.3.4, not-an-ip"), None);
        assert_eq!(rightmost_address(""), None);
    }

    #[test]
    fn request_ids_must_be_printable_and_short() {
        assert!(acceptable_request_id("abc-123"));
        assert!(!acceptable_request_id(""));
        assert!(!acceptable_request_id("has space"));
        assert!(!acceptable_request_id(&"x".repeat(129)));
    }
}
