//! Liveness and readiness (docs/API.md#platform), raw (no envelope).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = r#"{"status":"healthy","service":"kilat"}"#)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "healthy", "service": "kilat"}))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// ready | not_ready | draining (shutting down: send traffic elsewhere)
    pub status: &'static str,
    pub service: &'static str,
    /// one entry per dependency: "ready" or "error: <text>"
    pub checks: Checks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    pub database: String,
    pub redis: String,
}

async fn check_database(state: &AppState) -> String {
    let probe = async {
        let mut conn = state.pool.get().await.map_err(|e| e.to_string())?;
        crate::db::pool::ping(&mut conn).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    };
    verdict(tokio::time::timeout(CHECK_TIMEOUT, probe).await)
}

async fn check_redis(state: &AppState) -> String {
    let probe = async { state.redis.ping().await.map_err(|e| e.to_string()) };
    verdict(tokio::time::timeout(CHECK_TIMEOUT, probe).await)
}

fn verdict(result: Result<Result<(), String>, tokio::time::error::Elapsed>) -> String {
    match result {
        Ok(Ok(())) => "ready".to_owned(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: timed out".to_owned(),
    }
}

#[utoipa::path(get, path = "/readiness", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, description = "a dependency failed, or the node is draining (SIGTERM)", body = Readiness)))]
pub async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    let (database, redis) = tokio::join!(check_database(&state), check_redis(&state));
    let draining = *state.draining.borrow() != super::NodePhase::Serving;
    let ready = database == "ready" && redis == "ready" && !draining;
    let body = Readiness {
        status: if draining {
            "draining"
        } else if ready {
            "ready"
        } else {
            "not_ready"
        },
        service: "kilat",
        checks: Checks { database, redis },
    };
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Reads what lives outside the registry (the outbox, dead letters, the
/// pool, the dispatcher's rounds) into its gauges, then renders it.
async fn scrape(state: &AppState) -> String {
    let m = &state.metrics;
    let pool = state.pool.status();
    m.scrape.pool.with_label_values(&["in_use"]).set(pool.size.saturating_sub(pool.available) as i64);
    m.scrape.pool.with_label_values(&["idle"]).set(pool.available as i64);
    m.scrape.pool.with_label_values(&["max"]).set(pool.max_size as i64);
    m.scrape.pool_waiting.set(pool.waiting as i64);
    let backlog = async {
        let mut conn = state.pool.get().await.ok()?;
        crate::db::outbox::backlog(&mut conn).await.ok()
    };
    if let Ok(Some(b)) = tokio::time::timeout(CHECK_TIMEOUT, backlog).await {
        m.scrape.outbox_pending.set(b.pending);
        m.scrape.outbox_lag.set(b.lag_secs);
        m.scrape.dead_letters.with_label_values(&["payment"]).set(b.payment_dead_letters);
        m.scrape.dead_letters.with_label_values(&["payout"]).set(b.payout_dead_letters);
    }
    let stats = state.services.live.dispatcher.send(crate::actors::messages::GetDispatchStats);
    if let Ok(Ok(stats)) = tokio::time::timeout(CHECK_TIMEOUT, stats).await {
        m.dispatch.active_rounds.set(stats.active_rounds as i64);
    }
    m.render()
}

#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format (kilat_* series); off with metrics.enabled = false (404)",
               content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>, req: actix_web::HttpRequest) -> HttpResponse {
    if !state.settings.metrics.enabled {
        return super::not_found(req).await;
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(scrape(&state).await)
}

#[utoipa::path(get, path = "/docs", tag = "health",
    responses((status = 308, description = "to /docs/, the API's Swagger UI (served from the binary, works offline)")))]
pub async fn docs() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header(("Location", "/docs/")).finish()
}

const LANDING: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kilat Dispatch</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
a{display:block;margin:.4rem 0}</style></head>
<body><h1>Kilat Dispatch</h1>
<p>The dispatch server behind Kilat. For operators and developers:</p>
<a href="/console">Operator console</a>
<a href="/docs/">API documentation (Swagger UI)</a>
<a href="/api/v1/openapi.json">OpenAPI document</a>
<a href="/metrics">Prometheus metrics</a>
<a href="/health">Health</a>
<a href="/readiness">Readiness</a>
</body></html>"#;

#[utoipa::path(get, path = "/", tag = "health",
    responses((status = 200, description = "a landing page linking the docs, metrics and health", content_type = "text/html")))]
pub async fn landing() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(LANDING)
}
