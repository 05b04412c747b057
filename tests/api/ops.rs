//! The operators' live view: an admin's `/ws` `ops` subscription gets the
//! city, then what moves; operators re-dispatch a stuck booking and find
//! users to ban.

use std::time::Duration;

use serde_json::{Value, json};

use crate::dispatch::{dispatch_app, frame_for, north, socket};
use crate::fixtures::{PICKUP, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{WsClient, spawn_app, spawn_app_with};

/// The next `ops.*` frame within `secs` satisfying `want`.
async fn ops_frame(ws: &mut WsClient, secs: f64, want: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now()).as_secs_f64();
        let frame = ws.next_within(left).await?;
        if frame["type"].as_str().is_some_and(|t| t.starts_with("ops.")) && want(&frame) {
            return Some(frame);
        }
    }
}

fn runner_in<'a>(frame: &'a Value, id: &str) -> Option<&'a Value> {
    frame["runners"].as_array()?.iter().find(|r| r["id"] == id)
}

fn booking_in<'a>(frame: &'a Value, id: &str) -> Option<&'a Value> {
    frame["bookings"].as_array()?.iter().find(|b| b["id"] == id)
}

#[actix_web::test]
async fn an_admin_sees_the_city_then_what_moves_and_nobody_else_may() {
    let app = spawn_app().await;
    let admin = app.admin("ops-admin@example.my").await;
    let owner = app.register("ops-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "ops-runner@example.my", dog_crate(), PICKUP).await;
    let booking = id(&book(&app, &owner, &worked_example()).await);

    let mut not_admin = app.ws(&format!("/ws?token={}", owner.access)).await;
    not_admin.next_of("hello").await;
    not_admin.send(&json!({"type": "ops.subscribe"})).await;
    let refused = not_admin.next_of("error").await;
    assert_eq!(refused["code"], "forbidden");

    let mut ws = app.ws(&format!("/ws?token={}", admin.access)).await;
    ws.next_of("hello").await;
    ws.send(&json!({"type": "ops.subscribe"})).await;
    let snapshot = ops_frame(&mut ws, 3.0, |f| f["type"] == "ops.snapshot").await.expect("snapshot");
    let r = runner_in(&snapshot, &runner.user_id).expect("the online runner is on the map");
    assert_eq!(r["state"], "idle");
    assert!((r["lat"].as_f64().unwrap() - PICKUP.0).abs() < 1e-6);
    let b = booking_in(&snapshot, &booking).expect("the booking is on the map");
    assert_eq!((b["status"].as_str(), b["waiting"].as_bool()), (Some("requested"), Some(true)));
    assert!(b["dropoff"].is_array());

    // the runner moves: the next look carries the new position
    let moved = (PICKUP.0 + 0.01, PICKUP.1);
    let ping = app
        .post("/api/v1/runners/me/location", Some(&runner.access), &json!({"latitude": moved.0, "longitude": moved.1}))
        .await;
    assert_eq!(ping.status, 200, "{}", ping.text);
    let update = ops_frame(&mut ws, 5.0, |f| {
        runner_in(f, &runner.user_id).is_some_and(|r| (r["lat"].as_f64().unwrap_or(0.0) - moved.0).abs() < 1e-6)
    })
    .await
    .expect("the move reaches the console");
    assert_eq!(update["type"], "ops.update");

    // the runner takes the booking: it is no longer waiting, the runner is on a trip
    assert_eq!(app.accept(&runner, &booking).await.status, 200);
    let (mut assigned, mut on_trip) = (false, false);
    while !(assigned && on_trip) {
        let frame = ops_frame(&mut ws, 5.0, |_| true).await.expect("the assignment reaches the console");
        if let Some(b) = booking_in(&frame, &booking) {
            assigned |= b["status"] == "accepted" && b["waiting"] == false;
        }
        if let Some(r) = runner_in(&frame, &runner.user_id) {
            on_trip |= r["state"] == "on_trip";
        }
    }

    // the owner cancels, the runner goes off shift: both leave the map
    assert_eq!(app.cancel(&owner, &booking).await.status, 200);
    assert_eq!(app.go_offline(&runner).await.status, 200);
    let (mut offline, mut dropped) = (false, false);
    while !(offline && dropped) {
        let frame = ops_frame(&mut ws, 5.0, |_| true).await.expect("going offline and the cancel reach the console");
        offline |= runner_in(&frame, &runner.user_id).is_some_and(|r| r["state"] == "offline");
        // sent once more, with its final status, so the console drops it
        dropped |= booking_in(&frame, &booking).is_some_and(|b| b["status"] == "cancelled");
    }
}

#[actix_web::test]
async fn an_operator_redispatches_a_booking_that_waits_for_a_runner() {
    // a long retry: only the operator's action can bring the runner an offer soon
    let app = spawn_app_with(|s| {
        s.dispatch.enabled = true;
        s.dispatch.offer_timeout_ms = 10_000;
        s.dispatch.sweep_interval_ms = 100;
        s.dispatch.lease_secs = 2;
        s.dispatch.retry_interval_secs = 600;
    })
    .await;
    let admin = app.admin("rd-admin@example.my").await;
    let owner = app.register("rd-owner@example.my", "owner").await;
    let bid = id(&book(&app, &owner, &worked_example()).await);
    // nobody on shift: the pass ends, the booking waits for its retry
    let mut waited = false;
    for _ in 0..50 {
        let inbox = app.get("/api/v1/notifications?page=1", Some(&owner.access)).await;
        if inbox.text.contains("No Runner Yet") {
            waited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(waited, "the first pass found nobody");
    let runner = ready_runner(&app, "rd-runner@example.my", dog_crate(), north(0.5)).await;
    let mut ws = socket(&app, &runner).await;
    assert!(frame_for(&mut ws, "offer", &bid, 1.0).await.is_none(), "not before the retry");

    let resp = app.post(&format!("/api/v1/admin/bookings/{bid}/redispatch"), Some(&admin.access), &json!({})).await;
    assert_eq!(resp.status, 202, "{}", resp.text);
    frame_for(&mut ws, "offer", &bid, 5.0).await.expect("offered at once");
    assert_eq!(
        app.post(&format!("/api/v1/admin/bookings/{bid}/redispatch"), Some(&owner.access), &json!({})).await.status,
        403
    );
    // once taken it is not waiting any more
    assert_eq!(app.accept(&runner, &bid).await.status, 200);
    let late = app.post(&format!("/api/v1/admin/bookings/{bid}/redispatch"), Some(&admin.access), &json!({})).await;
    assert_eq!((late.status, late.body["error"].as_str()), (422, Some("booking is not waiting for a runner")));
    let _ = dispatch_app; // same settings family as the dispatch tests
}

#[actix_web::test]
async fn admins_find_users_by_email_or_name() {
    let app = spawn_app().await;
    let admin = app.admin("us-admin@example.my").await;
    app.register("siti.aminah@example.my", "owner").await;
    app.register("bob@example.my", "runner").await;
    let found = app.get("/api/v1/admin/users?q=SITI", Some(&admin.access)).await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["pagination"]["total"], 1);
    assert_eq!(found.body["data"][0]["email"], "siti.aminah@example.my");
    let by_name = app.get("/api/v1/admin/users?q=test%20person", Some(&admin.access)).await;
    assert!(by_name.body["pagination"]["total"].as_i64().unwrap() >= 2, "{}", by_name.text);
    let none = app.get("/api/v1/admin/users?q=%25", Some(&admin.access)).await;
    assert_eq!(none.body["pagination"]["total"], 0, "a % is a character, not a wildcard");
}
