use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[actix_web::test]
async fn health_is_raw_and_healthy() {
    let app = spawn_app().await;
    let resp = app.get("/health", None).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, json!({"status": "healthy", "service": "kilat"}));
}

#[actix_web::test]
async fn readiness_reports_each_dependency() {
    let app = spawn_app().await;
    let resp = app.get("/readiness", None).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(
        resp.body,
        json!({"status": "ready", "service": "kilat", "checks": {"database": "ready", "redis": "ready"}})
    );
}

#[actix_web::test]
async fn readiness_fails_when_redis_is_unreachable_and_says_which() {
    // Nothing listens on port 1: the node must still start and answer.
    let app = spawn_app_with(|s| s.redis.url = "redis://127.0.0.1:1/0".into()).await;
    let resp = app.get("/readiness", None).await;
    assert_eq!(resp.status, 503, "{}", resp.text);
    assert_eq!(resp.body["status"], "not_ready");
    assert_eq!(resp.body["checks"]["database"], "ready");
    assert!(resp.body["checks"]["redis"].as_str().unwrap().starts_with("error: "), "{}", resp.text);
    // Liveness is not readiness: the process is fine.
    assert_eq!(app.get("/health", None).await.status, 200);
    // Losing the rate limiter's store must not take the API down.
    app.register("redis-down@example.my", "owner").await;
}

#[actix_web::test]
async fn readiness_fails_when_postgres_is_unreachable() {
    let app = spawn_app_with(|s| s.database.url = "postgres://kilat:kilat@127.0.0.1:1/kilat".into()).await;
    let resp = app.get("/readiness", None).await;
    assert_eq!(resp.status, 503);
    assert!(resp.body["checks"]["database"].as_str().unwrap().starts_with("error: "));
    assert_eq!(resp.body["checks"]["redis"], "ready");
}
