//! Scheduled trips: kept out of dispatch until their lead time, listed in
//! the open pool with their time, the owner reminded before pickup, owner
//! and admins alarmed when nobody has taken one by its time, and any node
//! picks a due one up.

use std::time::Duration;

use kilat::actors::messages::StopActor;
use serde_json::{Value, json};

use crate::dispatch::{dispatch_app, frame_for, north, socket};
use crate::fixtures::{book, dog_crate, id, ready_runner, scheduled};
use crate::helpers::{Session, TestApp, spawn_app, spawn_app_with, spawn_peer};

/// The user's inbox titles, newest first.
async fn titles(app: &TestApp, user: &Session) -> Vec<String> {
    let resp = app.get("/api/v1/notifications?page=1&limit=100", Some(&user.access)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.body["data"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap().to_owned()).collect()
}

/// Waits up to `secs` for `title` to reach the user's inbox; the inbox then.
async fn wait_for_title(app: &TestApp, user: &Session, title: &str, secs: u64) -> Vec<String> {
    for _ in 0..secs * 10 {
        let seen = titles(app, user).await;
        if seen.iter().any(|t| t == title) {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("'{title}' never reached the inbox: {:?}", titles(app, user).await);
}

#[actix_web::test]
async fn a_scheduled_trip_is_offered_at_its_lead_time_not_before() {
    // the default lead: runners are sought 45 minutes before the time
    let app = dispatch_app(10_000).await;
    assert_eq!(app.settings.dispatch.schedule_lead_minutes, 45.0);
    let owner = app.register("s-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "s-runner@example.my", dog_crate(), north(0.5)).await;
    let mut ws = socket(&app, &runner).await;

    // 45 minutes and 4 seconds ahead: dispatch opens in about 4 s
    let booking = book(&app, &owner, &scheduled(45.0 + 4.0 / 60.0)).await;
    let bid = id(&booking);
    assert!(booking["scheduled_at"].is_string());
    assert!(frame_for(&mut ws, "offer", &bid, 1.5).await.is_none(), "not offered before its lead time");

    // Runners see it coming in the open pool, with its time, but cannot take it yet.
    let pool = app.bookings(&runner, Some("requested")).await;
    assert_eq!(pool.body["data"][0]["id"], bid.as_str());
    assert_eq!(pool.body["data"][0]["scheduled_at"], booking["scheduled_at"]);
    let early = app.accept(&runner, &bid).await;
    assert_eq!(early.status, 422, "{}", early.text);
    let error = early.body["error"].as_str().unwrap();
    assert!(error.starts_with("booking is scheduled for ") && error.contains("runners can take it from"), "{error}");

    let offer = frame_for(&mut ws, "offer", &bid, 8.0).await.expect("offered once the lead time came");
    assert_eq!(offer["estimated_price_cents"], 2960);
    ws.send(&json!({"type": "offer.accept", "offer_id": offer["offer_id"]})).await;
    frame_for(&mut ws, "offer.accepted", &bid, 3.0).await.expect("the runner takes it");
    assert_eq!(app.booking(&owner, &bid).await.body["data"]["status"], "accepted");
}

#[actix_web::test]
async fn the_owner_is_reminded_once_before_pickup() {
    let app = spawn_app_with(|s| s.dispatch.sweep_interval_ms = 100).await;
    assert_eq!(app.settings.dispatch.schedule_reminder_minutes, 60.0);
    let owner = app.register("sr-owner@example.my", "owner").await;
    // booked more than an hour ahead: reminded when the hour begins (in ~3 s)
    let soon = book(&app, &owner, &scheduled(60.0 + 3.0 / 60.0)).await;
    // booked inside the hour already: nothing to remind of
    let late = app.register("sr-late@example.my", "owner").await;
    book(&app, &late, &scheduled(50.0)).await;
    // nor of a trip tomorrow, yet
    let tomorrow = app.register("sr-tomorrow@example.my", "owner").await;
    book(&app, &tomorrow, &scheduled(24.0 * 60.0)).await;

    assert!(!titles(&app, &owner).await.contains(&"Trip Reminder".to_owned()), "not before the hour");
    let inbox = wait_for_title(&app, &owner, "Trip Reminder", 8).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // several more sweeps
    let inbox_after = titles(&app, &owner).await;
    assert_eq!(inbox_after.iter().filter(|t| *t == "Trip Reminder").count(), 1, "reminded once: {inbox_after:?}");
    assert_eq!(inbox.len(), inbox_after.len());
    let notes = app.get("/api/v1/notifications?page=1&limit=100", Some(&owner.access)).await;
    let reminder = notes.body["data"].as_array().unwrap().iter().find(|n| n["title"] == "Trip Reminder").unwrap();
    assert_eq!(reminder["booking_id"], soon["id"]);
    assert!(reminder["body"].as_str().unwrap().contains("is scheduled for"), "{reminder}");
    assert!(!titles(&app, &late).await.contains(&"Trip Reminder".to_owned()));
    assert!(!titles(&app, &tomorrow).await.contains(&"Trip Reminder".to_owned()), "tomorrow's trip is not due");
}

#[actix_web::test]
async fn a_scheduled_trip_nobody_takes_alarms_the_owner_and_the_admins() {
    // a 3-second lead so the time itself comes within the test
    let app = spawn_app_with(|s| {
        s.dispatch.enabled = true;
        s.dispatch.sweep_interval_ms = 100;
        s.dispatch.lease_secs = 2;
        s.dispatch.retry_interval_secs = 1;
        s.dispatch.schedule_lead_minutes = 0.05;
    })
    .await;
    let admin = app.admin("sm-admin@example.my").await;
    let owner = app.register("sm-owner@example.my", "owner").await;
    let booking = book(&app, &owner, &scheduled(4.0 / 60.0)).await;
    let number = booking["booking_number"].as_str().unwrap().to_owned();

    let inbox = wait_for_title(&app, &owner, "No Runner for Your Scheduled Trip", 10).await;
    assert!(inbox.contains(&"Finding a Runner".to_owned()), "dispatch ran from the lead time: {inbox:?}");
    let alarms = app.get("/api/v1/notifications?page=1&limit=100", Some(&admin.access)).await;
    let alarm: Vec<&Value> =
        alarms.body["data"].as_array().unwrap().iter().filter(|n| n["title"] == "Scheduled Trip Unassigned").collect();
    assert_eq!(alarm.len(), 1, "{}", alarms.text);
    assert!(alarm[0]["body"].as_str().unwrap().starts_with(&format!("Booking {number} was due at ")));
    // the booking still waits for a runner; the owner may cancel
    assert_eq!(app.booking(&owner, &id(&booking)).await.body["data"]["status"], "requested");
}

#[actix_web::test]
async fn a_scheduled_trip_survives_its_node_and_is_dispatched_by_a_restarted_one() {
    let node_a = dispatch_app(10_000).await;
    let owner = node_a.register("sn-owner@example.my", "owner").await;
    let bid = id(&book(&node_a, &owner, &scheduled(45.0 + 6.0 / 60.0)).await);
    // The node that took the booking goes down before its time comes...
    node_a.live.dispatcher.send(StopActor).await.unwrap();
    // ...and a node started afterwards (knowing nothing but the database)
    // dispatches it on time.
    let node_b = spawn_peer(&node_a).await;
    let runner = ready_runner(&node_b, "sn-runner@example.my", dog_crate(), north(0.5)).await;
    let mut ws = socket(&node_b, &runner).await;
    assert!(frame_for(&mut ws, "offer", &bid, 1.0).await.is_none(), "not before its lead time");
    let offer = frame_for(&mut ws, "offer", &bid, 12.0).await.expect("the restarted node dispatches it on time");
    assert_eq!(offer["booking_id"], bid.as_str());
}

#[actix_web::test]
async fn quotes_and_bookings_refuse_times_in_the_past() {
    let app = spawn_app().await;
    let owner = app.register("sp-owner@example.my", "owner").await;
    let resp = app.create_booking(&owner, &scheduled(-10.0)).await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.body["error"], "scheduled_at must not be in the past");
    let quote = app.post("/api/v1/bookings/quote", Some(&owner.access), &scheduled(-10.0)).await;
    assert_eq!(quote.status, 400, "{}", quote.text);
}
