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
