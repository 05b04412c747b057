//! The identity rate limit (contract §1.10, §7 #28): a true fixed window,
//! per IP, shared by every node through Redis.

use serde_json::json;

use crate::helpers::{spawn_app_with, spawn_peer};

async fn attempt(app: &crate::helpers::TestApp) -> crate::helpers::TestResponse {
    app.post("/api/v1/auth/login", None, &json!({"email": "nobody@example.my", "password": "whatever1"})).await
}

#[actix_web::test]
async fn over_the_limit_is_429_and_the_next_window_passes_again() {
    let app = spawn_app_with(|s| {
        s.rate_limit.auth_per_minute = 5;
        s.rate_limit.window_secs = 2;
    })
    .await;
    // Start at the beginning of a window so all five land in one.
    let now = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(2000 - (now.timestamp_millis() % 2000) as u64 + 20)).await;
    for _ in 0..5 {
        assert_eq!(attempt(&app).await.status, 401);
    }
    let blocked = attempt(&app).await;
    assert_eq!(blocked.status, 429);
    assert_eq!(blocked.body, json!({"error": "rate limit exceeded"}));
    let retry_after: u64 = blocked.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    // Hammering while blocked does not extend the block (the reference's bug).
    for _ in 0..10 {
        assert_eq!(attempt(&app).await.status, 429);
    }
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    assert_eq!(attempt(&app).await.status, 401);
}

#[actix_web::test]
async fn the_window_is_shared_across_nodes() {
    let node_a = spawn_app_with(|s| {
        s.rate_limit.auth_per_minute = 4;
        s.rate_limit.window_secs = 60;
    })
    .await;
    let node_b = spawn_peer(&node_a).await;
    // Avoid a window edge: a 60 s window with fewer than 5 s left could split the run.
    let left = 60 - chrono::Utc::now().timestamp() % 60;
    if left < 5 {
        tokio::time::sleep(std::time::Duration::from_secs(left as u64 + 1)).await;
    }
    assert_eq!(attempt(&node_a).await.status, 401);
    assert_eq!(attempt(&node_b).await.status, 401);
    assert_eq!(attempt(&node_a).await.status, 401);
    assert_eq!(attempt(&node_b).await.status, 401);
    assert_eq!(attempt(&node_a).await.status, 429);
    assert_eq!(attempt(&node_b).await.status, 429);
}

#[actix_web::test]
async fn probes_are_never_limited() {
    let app = spawn_app_with(|s| {
        s.rate_limit.auth_per_minute = 1;
        s.rate_limit.api_per_minute = 1;
    })
    .await;
    for _ in 0..5 {
        assert_eq!(app.get("/health", None).await.status, 200);
    }
}

#[actix_web::test]
async fn the_101st_identity_request_in_a_minute_is_refused() {
    // The production default: 100 per minute per IP.
    let app = crate::helpers::spawn_app().await;
    assert_eq!(app.settings.rate_limit.auth_per_minute, 100);
    let left = 60 - chrono::Utc::now().timestamp() % 60;
    if left < 15 {
        tokio::time::sleep(std::time::Duration::from_secs(left as u64 + 1)).await;
    }
    let forgot = json!({"email": "someone@example.my"});
    for i in 1..=100 {
        let resp = app.post("/api/v1/auth/forgot-password", None, &forgot).await;
        assert_eq!(resp.status, 202, "request {i}");
    }
    let resp = app.post("/api/v1/auth/forgot-password", None, &forgot).await;
    assert_eq!(resp.status, 429);
}

#[actix_web::test]
async fn other_api_routes_are_limited_per_user() {
    let app = spawn_app_with(|s| s.rate_limit.api_per_minute = 3).await;
    let left = 60 - chrono::Utc::now().timestamp() % 60;
    if left < 10 {
        tokio::time::sleep(std::time::Duration::from_secs(left as u64 + 1)).await;
    }
    let a = app.register("limit-a@example.my", "owner").await;
    let b = app.register("limit-b@example.my", "owner").await;
    // Any /api route outside identity counts; an unknown one still answers 404.
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/elsewhere", Some(&a.access)).await.status, 404);
    }
    assert_eq!(app.get("/api/v1/elsewhere", Some(&a.access)).await.status, 429);
    // Another user on the same IP has a quota of their own.
    assert_eq!(app.get("/api/v1/elsewhere", Some(&b.access)).await.status, 404);
}
