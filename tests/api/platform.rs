//! The HTTP platform every route shares: envelope on each error class,
//! request ids, security headers, CORS, body limits, OpenAPI.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[actix_web::test]
async fn unknown_route_is_a_404_envelope() {
    let app = spawn_app().await;
    let resp = app.get("/api/v1/no-such-thing", None).await;
    assert_eq!(resp.status, 404);
    assert_eq!(
        resp.body,
        json!({"success": false, "error": "not found", "detail": "no route for GET /api/v1/no-such-thing"})
    );
}

#[actix_web::test]
async fn malformed_json_is_a_400_envelope() {
    let app = spawn_app().await;
    let resp = app.post_raw("/api/v1/auth/login", "application/json", "{\"email\": ").await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.body["success"], false);
    assert!(resp.body["error"].as_str().unwrap().starts_with("malformed JSON"), "{}", resp.text);
    assert_eq!(resp.body["detail"], "");
}

#[actix_web::test]
async fn wrong_types_name_the_problem() {
    let app = spawn_app().await;
    let resp = app.post("/api/v1/auth/register", None, &json!({"email": 42})).await;
    assert_eq!(resp.status, 400);
    let error = resp.body["error"].as_str().unwrap();
    assert!(error.starts_with("invalid request body: invalid type: integer `42`"), "{error}");
}

#[actix_web::test]
async fn empty_body_and_wrong_content_type_are_400() {
    let app = spawn_app().await;
    let resp = app.post_raw("/api/v1/auth/login", "application/json", "").await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("request body is empty")));
    let resp = app.post_raw("/api/v1/auth/login", "text/plain", "{}").await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("Content-Type must be application/json")));
}

#[actix_web::test]
async fn oversized_body_is_413_not_500() {
    let app = spawn_app_with(|s| s.server.json_limit_bytes = 64).await;
    let big = json!({"email": "a@b.my", "password": "x".repeat(200)});
    let resp = app.post("/api/v1/auth/login", None, &big).await;
    assert_eq!(resp.status, 413);
    assert_eq!(resp.body["error"], "request body is larger than 64 bytes");
}

#[actix_web::test]
async fn request_id_is_echoed_or_generated() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(format!("{}/health", app.address))
        .insert_header(("X-Request-ID", "abc-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("x-request-id").unwrap(), "abc-123");
    let resp = app.get("/health", None).await;
    let generated = resp.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
    // on errors too
    let resp = app.get("/nope", None).await;
    assert!(resp.headers.contains_key("x-request-id"));
}

#[actix_web::test]
async fn security_headers_on_every_response() {
    let app = spawn_app().await;
    for path in ["/health", "/api/v1/nope", "/api/v1/auth/profile"] {
        let resp = app.get(path, None).await;
        let h = |name: &str| resp.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(h("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert_eq!(h("x-frame-options").as_deref(), Some("DENY"), "{path}");
        assert_eq!(h("strict-transport-security").as_deref(), Some("max-age=31536000; includeSubDomains"));
        assert_eq!(h("referrer-policy").as_deref(), Some("strict-origin-when-cross-origin"));
        assert!(h("x-xss-protection").is_some());
    }
}

#[actix_web::test]
async fn cors_allows_the_apps_origins_only() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(awc::http::Method::OPTIONS, format!("{}/api/v1/auth/login", app.address))
            .insert_header(("Origin", origin))
            .insert_header(("Access-Control-Request-Method", "POST"))
            .insert_header(("Access-Control-Request-Headers", "authorization, content-type, x-request-id"))
            .send()
    };
    let ok = preflight("http://localhost:3000").await.unwrap();
    assert!(ok.status().is_success());
    assert_eq!(ok.headers().get("access-control-allow-origin").unwrap(), "http://localhost:3000");
    assert_eq!(ok.headers().get("access-control-allow-credentials").unwrap(), "true");
    assert_eq!(ok.headers().get("access-control-max-age").unwrap(), "43200");
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}

/// One route list feeds the router and the document: every documented
/// operation answers on the real server (never the "no route" 404), and a
/// path the document lacks is not served.
#[actix_web::test]
async fn every_documented_operation_is_served_and_nothing_else() {
    let app = spawn_app().await;
    let spec = app.get("/api/v1/openapi.json", None).await.body;
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { uuid::Uuid::new_v4().to_string() } else { seg.to_owned() })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let resp = app.request(&method.to_uppercase(), &concrete, None, Some(&json!({}))).await;
            let unrouted =
                resp.status == 404 && resp.body["detail"].as_str().is_some_and(|d| d.starts_with("no route"));
            assert!(!unrouted, "{method} {path} is documented but not served: {}", resp.text);
            assert!(resp.status < 500, "{method} {path}: {} {}", resp.status, resp.text);
        }
    }
    assert!(operations >= 85, "{operations} operations documented");
    for (method, path) in
        [("GET", "/api/v1/bookings/x/undocumented"), ("PATCH", "/api/v1/bookings"), ("GET", "/api/v2/health")]
    {
        let resp = app.request(method, path, None, None).await;
        assert!(resp.status == 404 || resp.status == 405, "{method} {path}: {}", resp.status);
    }
}

#[actix_web::test]
async fn openapi_lists_every_route() {
    let app = spawn_app().await;
    let resp = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(resp.status, 200);
    let paths = resp.body["paths"].as_object().unwrap();
    for path in [
        "/health",
        "/readiness",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/logout-all",
        "/api/v1/auth/profile",
        "/api/v1/auth/forgot-password",
        "/api/v1/auth/reset-password",
        "/api/v1/admin/users",
        "/api/v1/admin/users/{id}",
        "/api/v1/admin/users/{id}/ban",
        "/api/v1/admin/stats/users",
        "/api/v1/admin/bookings",
        "/api/v1/admin/stats/bookings",
        "/api/v1/runners",
        "/api/v1/runners/me",
        "/api/v1/runners/me/online",
        "/api/v1/runners/me/offline",
        "/api/v1/runners/me/location",
        "/api/v1/runners/me/crates",
        "/api/v1/runners/nearby",
        "/api/v1/pets",
        "/api/v1/pets/{id}",
        "/api/v1/petshops",
        "/api/v1/petshops/nearby",
        "/api/v1/petshops/mine",
        "/api/v1/petshops/{id}",
        "/api/v1/bookings",
        "/api/v1/bookings/quote",
        "/api/v1/bookings/{id}",
        "/api/v1/bookings/{id}/accept",
        "/api/v1/bookings/{id}/decline",
        "/api/v1/bookings/{id}/pickup",
        "/api/v1/bookings/{id}/deliver",
        "/api/v1/bookings/{id}/confirm",
        "/api/v1/bookings/{id}/cancel",
        "/api/v1/bookings/{id}/rebook",
        "/api/v1/bookings/{id}/photo",
        "/api/v1/bookings/{id}/photos",
        "/api/v1/bookings/{id}/history",
        "/api/v1/bookings/{id}/tracking",
        "/api/v1/tracking/{booking_id}",
        "/api/v1/tracking/{booking_id}/route",
        "/api/v1/tracking/{booking_id}/share",
        "/api/v1/tracking/shared/{token}",
        "/api/v1/chat/{booking_id}/messages",
        "/api/v1/notifications",
        "/api/v1/notifications/{id}",
        "/api/v1/notifications/{id}/read",
        "/api/v1/notifications/preferences",
        "/api/v1/notifications/fcm-token",
        "/api/v1/notifications/device-tokens",
        "/api/v1/admin/dispatch/stats",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the spec");
    }
    assert!(paths["/api/v1/auth/profile"].get("put").is_some());
}

#[actix_web::test]
async fn nul_characters_are_a_client_mistake_not_a_500() {
    let app = spawn_app().await;
    let owner = app.register("nul@example.my", "owner").await;
    let resp = app.post("/api/v1/pets", Some(&owner.access), &json!({"name": "Bud\u{0}dy", "pet_type": "dog"})).await;
    assert_eq!(resp.status, 400, "{}", resp.text);
    assert_eq!(resp.body["error"], "text must not contain NUL (\\u0000) characters");
    let mut booking = crate::fixtures::worked_example();
    booking["pet_spec"]["breed"] = json!("Bea\u{0}gle");
    let resp = app.create_booking(&owner, &booking).await;
    assert_eq!(resp.status, 400, "{}", resp.text);
}

#[actix_web::test]
async fn the_role_guards_403_is_raw_in_the_spec_and_on_the_wire() {
    let app = spawn_app().await;
    let owner = app.register("wrong-role@example.my", "owner").await;
    let spec = app.get("/api/v1/openapi.json", None).await.body;
    for (method, path) in kilat::http::openapi::ROLE_GUARDED {
        let op = &spec["paths"][*path][*method];
        let schema = op["responses"]["403"]["content"]["application/json"]["schema"].to_string();
        assert!(schema.contains("RawError"), "{method} {path}: {schema}");
        assert!(op["responses"]["401"].is_object(), "{method} {path} documents 401");
    }
    // What an owner gets from a runner-only route is exactly that.
    let resp = app.post("/api/v1/runners/me/online", Some(&owner.access), &serde_json::json!({})).await;
    assert_eq!(resp.status, 403);
    assert_eq!(resp.body, serde_json::json!({"error": "insufficient permissions"}));
}
