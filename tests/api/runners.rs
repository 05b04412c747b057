//! Runner profiles, crates, presence and nearby search (contract §2.2).

use serde_json::json;

use crate::fixtures::{dog_crate, go_online, ready_runner};
use crate::helpers::spawn_app;

#[actix_web::test]
async fn profile_defaults_name_and_phone_from_the_user() {
    let app = spawn_app().await;
    let s = app.register("hafiz@example.my", "runner").await;
    app.put("/api/v1/auth/profile", Some(&s.access), &json!({"phone": "+60198765432"})).await;

    let before = app.get("/api/v1/runners/me", Some(&s.access)).await;
    assert_eq!(before.status, 404);
    assert_eq!(before.body, json!({"success": false, "error": "runner not found", "detail": ""}));

    // web-runner's body: no full_name, no phone, no vehicle_year
    let resp = app
        .post(
            "/api/v1/runners",
            Some(&s.access),
            &json!({"vehicle_type": "car", "vehicle_plate": "WXY 1234", "vehicle_model": "Myvi", "air_conditioned": true}),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let data = &resp.body["data"];
    assert_eq!(data["full_name"], "Test Person");
    assert_eq!(data["phone"], "+60198765432");
    assert_eq!(data["session_status"], "inactive");
    assert_eq!(data["crate_specs"], json!([]));
    assert_eq!(data["distance_km"], json!(null));
    assert_eq!(data["user_id"], s.user_id.as_str());
    assert_ne!(data["id"], data["user_id"]);
    insta::assert_json_snapshot!("runner_profile", resp.body, {
        ".data.id" => "[uuid]", ".data.user_id" => "[uuid]", ".data.created_at" => "[timestamp]",
    });

    let dup = app
        .post(
            "/api/v1/runners",
            Some(&s.access),
            &json!({"vehicle_type": "van", "vehicle_plate": "A", "vehicle_model": "B"}),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.body["error"], format!("runner with user_id '{}' already exists", s.user_id));
}

#[actix_web::test]
async fn profile_validation_and_roles() {
    let app = spawn_app().await;
    let s = app.register("v@example.my", "runner").await;
    let resp = app.post("/api/v1/runners", Some(&s.access), &json!({"vehicle_plate": "A", "vehicle_model": "B"})).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("vehicle_type is required")));
    let resp = app
        .post(
            "/api/v1/runners",
            Some(&s.access),
            &json!({"vehicle_type": "car", "vehicle_plate": "A", "vehicle_model": "B", "vehicle_year": 0}),
        )
        .await;
    assert_eq!(resp.status, 400);
    let owner = app.register("o@example.my", "owner").await;
    let resp = app.post("/api/v1/runners", Some(&owner.access), &json!({"vehicle_type": "car"})).await;
    assert_eq!((resp.status, resp.body.clone()), (403, json!({"error": "insufficient permissions"})));
}

#[actix_web::test]
async fn crates_online_location_offline() {
    let app = spawn_app().await;
    let s = ready_runner(&app, "crates@example.my", dog_crate(), (3.15, 101.71)).await;
    let resp = app
        .post(
            "/api/v1/runners/me/crates",
            Some(&s.access),
            &json!({"size": "Large", "pet_types": ["Dog"], "max_weight_kg": 35, "width_cm": 80, "ventilated": true}),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    assert_eq!(resp.body["data"]["size"], "large");
    assert_eq!(resp.body["data"]["pet_types"], json!(["dog"]));
    assert_eq!(resp.body["data"]["height_cm"], 0.0);
    let bad = app
        .post(
            "/api/v1/runners/me/crates",
            Some(&s.access),
            &json!({"size": "small", "pet_types": ["cat"], "max_weight_kg": 0}),
        )
        .await;
    assert_eq!(bad.status, 400);
    let bad =
        app.post("/api/v1/runners/me/crates", Some(&s.access), &json!({"size": "small", "max_weight_kg": 5})).await;
    assert_eq!((bad.status, bad.body["error"].as_str()), (400, Some("pet_types is required")));

    let me = app.get("/api/v1/runners/me", Some(&s.access)).await;
    assert_eq!(me.body["data"]["session_status"], "active");
    assert_eq!(me.body["data"]["crate_specs"].as_array().unwrap().len(), 2);

    let moved = app
        .post(
            "/api/v1/runners/me/location",
            Some(&s.access),
            &json!({"latitude": 3.16, "longitude": 101.72, "speed_kmh": 30}),
        )
        .await;
    assert_eq!(moved.body, json!({"success": true, "data": {"message": "location updated"}}));
    let bad =
        app.post("/api/v1/runners/me/location", Some(&s.access), &json!({"latitude": 95.0, "longitude": 101.72})).await;
    assert_eq!((bad.status, bad.body["error"].as_str()), (400, Some("invalid latitude")));

    let off = app.go_offline(&s).await;
    assert_eq!(off.body["data"]["message"], "runner is now offline");
    let stale =
        app.post("/api/v1/runners/me/location", Some(&s.access), &json!({"latitude": 3.16, "longitude": 101.72})).await;
    assert_eq!((stale.status, stale.body["error"].as_str()), (400, Some("runner must be online to update location")));
    let zero =
        app.post("/api/v1/runners/me/online", Some(&s.access), &json!({"latitude": 0, "longitude": 101.7})).await;
    assert_eq!((zero.status, zero.body["error"].as_str()), (400, Some("invalid latitude")));
}

#[actix_web::test]
async fn nearby_runners_are_online_nearest_first_with_distance() {
    let app = spawn_app().await;
    let near = ready_runner(&app, "near@example.my", dog_crate(), (3.1580, 101.7120)).await;
    let far = ready_runner(&app, "far@example.my", dog_crate(), (3.1900, 101.7116)).await;
    let away = ready_runner(&app, "away@example.my", dog_crate(), (3.5000, 101.7116)).await;
    let off = ready_runner(&app, "off@example.my", dog_crate(), (3.1579, 101.7116)).await;
    app.go_offline(&off).await;
    let owner = app.register("looker@example.my", "owner").await;

    let resp = app.get("/api/v1/runners/nearby?latitude=3.1579&longitude=101.7116", Some(&owner.access)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let list = resp.body["data"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|r| r["user_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [near.user_id.as_str(), far.user_id.as_str()], "default radius 5 km, offline runners hidden");
    let d0 = list[0]["distance_km"].as_f64().unwrap();
    let d1 = list[1]["distance_km"].as_f64().unwrap();
    assert!(d0 < 0.1 && (3.4..3.7).contains(&d1), "{d0} {d1}");
    assert_eq!(list[0]["crate_specs"][0]["size"], "medium");

    let wide =
        app.get("/api/v1/runners/nearby?latitude=3.1579&longitude=101.7116&radius_km=50", Some(&owner.access)).await;
    assert_eq!(wide.body["data"].as_array().unwrap().len(), 3);
    assert_eq!(wide.body["data"][2]["user_id"], away.user_id.as_str());

    for (query, error) in [
        ("latitude=abc&longitude=101.7", "invalid latitude"),
        ("latitude=3.1", "invalid longitude"),
        ("latitude=3.1&longitude=101.7&radius_km=-2", "invalid radius"),
    ] {
        let resp = app.get(&format!("/api/v1/runners/nearby?{query}"), Some(&owner.access)).await;
        assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some(error)), "{query}");
    }
    assert_eq!(app.get("/api/v1/runners/nearby?latitude=3.1&longitude=101.7", None).await.status, 401);
    go_online(&app, &off, (3.1579, 101.7116)).await;
}
