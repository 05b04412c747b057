//! Runners on a trip under real app behaviour: a reload that loses the
//! socket and the app's online state, offers to runners who cannot see
//! them, and GPS positions no vehicle could reach.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::{PICKUP, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{Session, TestApp, spawn_app_with};

async fn status(app: &TestApp, s: &Session) -> Value {
    app.get("/api/v1/runners/me", Some(&s.access)).await.body["data"]["session_status"].clone()
}

async fn post_location(app: &TestApp, s: &Session, lat: f64, lng: f64) -> crate::helpers::TestResponse {
    app.post("/api/v1/runners/me/location", Some(&s.access), &json!({"latitude": lat, "longitude": lng})).await
}

#[actix_web::test]
async fn a_runner_on_a_live_trip_is_never_swept_and_its_positions_are_always_taken() {
    let app = spawn_app_with(|s| {
        s.realtime.presence_grace_secs = 1;
        s.realtime.location_flush_ms = 200;
    })
    .await;
    let owner = app.register("trip-owner@example.my", "owner").await;
    let on_trip = ready_runner(&app, "trip-runner@example.my", dog_crate(), PICKUP).await;
    let idle = ready_runner(&app, "idle-runner@example.my", dog_crate(), PICKUP).await;
    let booking = book(&app, &owner, &worked_example()).await;
    let bid = id(&booking);
    let resp = app.accept(&on_trip, &bid).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let mut feed = app.ws(&format!("/ws/tracking/{bid}?token={}", owner.access)).await;
    app.wait_numsub(&format!("booking:{bid}"), 1).await;

    // The web app reloads: no socket, no pings, longer than the grace.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(status(&app, &idle).await, "inactive", "an idle silent runner is swept");
    assert_eq!(status(&app, &on_trip).await, "active", "a runner on a trip is not");

    // Even when the app's own state said offline, the trip's positions go on.
    app.sql(&format!("UPDATE runners SET session_status = 'inactive' WHERE user_id = '{}'", on_trip.user_id)).await;
    app.go_offline(&on_trip).await;
    let resp = post_location(&app, &on_trip, 3.1440, 101.6870).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let frame = feed.next_of("location_update").await;
    assert_eq!(frame["latitude"], 3.144, "the owner's map moves");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&app, &on_trip).await, "active", "the ping restored presence");
    // The idle runner is still held to the rule.
    let resp = post_location(&app, &idle, 3.144, 101.687).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("runner must be online to update location")));
}

#[actix_web::test]
async fn offers_go_only_to_runners_with_a_live_socket() {
    let app = spawn_app_with(|s| {
        s.dispatch.enabled = true;
        s.dispatch.offer_timeout_ms = 10_000;
        s.dispatch.sweep_interval_ms = 100;
        s.dispatch.lease_secs = 2;
        s.dispatch.retry_interval_secs = 1;
    })
    .await;
    let owner = app.register("sock-owner@example.my", "owner").await;
    // The nearest runner uses the web app, which never opens /ws.
    let _web_only = ready_runner(&app, "web-only@example.my", dog_crate(), PICKUP).await;
    let farther = ready_runner(&app, "with-socket@example.my", dog_crate(), (PICKUP.0 + 0.01, PICKUP.1)).await;
    let mut ws = app.ws(&format!("/ws?token={}", farther.access)).await;
    ws.next_of("hello").await;
    app.wait_numsub(&format!("user:{}", farther.user_id), 1).await;

    let booking = book(&app, &owner, &worked_example()).await;
    let bid = id(&booking);
    let offer = ws.next_of("offer").await;
    assert_eq!(offer["booking_id"], bid.as_str(), "offered at once to the runner who can see it");

    // A socket that closes takes the runner out of the offers.
    drop(ws);
    let second = book(&app, &owner, &worked_example()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let offered = app
        .scalar(&format!(
            "SELECT count(*) FROM outbox WHERE aggregate_id = '{}' AND event_type = 'booking.offered'",
            id(&second)
        ))
        .await;
    assert_eq!(offered, 0, "nobody without a socket is offered the job");
}

#[actix_web::test]
async fn a_position_no_vehicle_could_reach_is_refused() {
    let app = spawn_app_with(|_| {}).await;
    let runner = ready_runner(&app, "teleport@example.my", dog_crate(), PICKUP).await;
    assert_eq!(post_location(&app, &runner, 3.1390, 101.6869).await.status, 200);
    // 1,000 km away a moment later.
    let jump = post_location(&app, &runner, 12.1390, 101.6869).await;
    assert_eq!(jump.status, 400, "{}", jump.text);
    assert!(jump.body["error"].as_str().unwrap().contains("km/h since the last one"), "{}", jump.text);
    // A plausible next position is fine.
    assert_eq!(post_location(&app, &runner, 3.1392, 101.6870).await.status, 200);
}
