//! Builders for marketplace fixtures: the contract's worked-example booking,
//! and runners that are set up, equipped and online.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp};

/// Pickup in the contract's worked example (1 Jalan Ampang).
pub const PICKUP: (f64, f64) = (3.1579, 101.7116);
pub const DROPOFF: (f64, f64) = (3.1178, 101.6776);

fn ts(days_from_now: i64) -> String {
    (Utc::now() + Duration::days(days_from_now)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn address(line1: &str, (lat, lng): (f64, f64)) -> Value {
    json!({"line1": line1, "line2": "", "city": "Kuala Lumpur", "state": "WP", "postal_code": "50450",
           "country": "Malaysia", "latitude": lat, "longitude": lng})
}

/// The worked example: a 12 kg dog from Jalan Ampang to Mid Valley, 2960 sen.
pub fn worked_example() -> Value {
    json!({
        "pet_spec": {"pet_type": "dog", "breed": "Beagle", "name": "Buddy", "weight_kg": 12.0, "age_months": 24,
            "vaccinations": [{"vaccine_name": "Rabies", "date_given": ts(-30), "expires_at": ts(300),
                              "vet_name": "Kilat Vet", "verified": true}],
            "special_needs": "", "photo_url": ""},
        "pickup_address": address("1 Jalan Ampang", PICKUP),
        "dropoff_address": address("Mid Valley", DROPOFF),
        // a trip now; `scheduled()` books one ahead
        "scheduled_at": null,
        "notes": "Friendly dog"
    })
}

/// The worked example booked for `minutes` from now (RFC 3339, whole seconds).
pub fn scheduled(minutes: f64) -> Value {
    let mut body = worked_example();
    let at = Utc::now() + Duration::milliseconds((minutes * 60_000.0) as i64);
    body["scheduled_at"] = json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    body
}

/// A booking for another pet on the same route.
pub fn booking_for(pet_type: &str, weight_kg: f64) -> Value {
    let mut body = worked_example();
    body["pet_spec"]["pet_type"] = json!(pet_type);
    body["pet_spec"]["weight_kg"] = json!(weight_kg);
    body
}

pub fn dog_crate() -> Value {
    json!({"size": "medium", "pet_types": ["dog", "cat"], "max_weight_kg": 20, "ventilated": true,
           "temperature_controlled": false})
}

/// Creates a booking as `owner` and returns its `data`.
pub async fn book(app: &TestApp, owner: &Session, body: &Value) -> Value {
    let resp = app.create_booking(owner, body).await;
    assert_eq!(resp.status, 201, "create booking: {}", resp.text);
    resp.body["data"].clone()
}

/// A runner with a profile, one crate and online at `at`.
pub async fn ready_runner(app: &TestApp, email: &str, crate_spec: Value, at: (f64, f64)) -> Session {
    let s = app.register(email, "runner").await;
    let resp = app
        .post(
            "/api/v1/runners",
            Some(&s.access),
            &json!({"vehicle_type": "car", "vehicle_plate": "WXY 1234", "vehicle_model": "Perodua Myvi",
                    "air_conditioned": true}),
        )
        .await;
    assert_eq!(resp.status, 201, "runner profile: {}", resp.text);
    let resp = app.post("/api/v1/runners/me/crates", Some(&s.access), &crate_spec).await;
    assert_eq!(resp.status, 201, "crate: {}", resp.text);
    go_online(app, &s, at).await;
    s
}

pub async fn go_online(app: &TestApp, s: &Session, (lat, lng): (f64, f64)) {
    let resp =
        app.post("/api/v1/runners/me/online", Some(&s.access), &json!({"latitude": lat, "longitude": lng})).await;
    assert_eq!(resp.status, 200, "online: {}", resp.text);
}

/// An owner's booking accepted by a ready runner: (owner, runner, booking).
pub async fn accepted_trip(app: &TestApp, tag: &str) -> (Session, Session, Value) {
    let owner = app.register(&format!("{tag}-owner@example.my"), "owner").await;
    let runner = ready_runner(app, &format!("{tag}-runner@example.my"), dog_crate(), PICKUP).await;
    let booking = book(app, &owner, &worked_example()).await;
    let resp = app.accept(&runner, &id(&booking)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    (owner, runner, booking)
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}
