//! The dispatcher (pushed offers): who gets the offer, what happens on
//! decline, timeout, widening, races, cancel, and a node that stops.

use std::time::Duration;

use kilat::actors::messages::{GetDispatchStats, StopActor};
use serde_json::{Value, json};

use crate::fixtures::{PICKUP, address, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{Session, TestApp, WsClient, spawn_app_with, spawn_peer};

pub async fn dispatch_app(offer_timeout_ms: u64) -> TestApp {
    spawn_app_with(|s| {
        s.dispatch.enabled = true;
        s.dispatch.offer_timeout_ms = offer_timeout_ms;
        s.dispatch.sweep_interval_ms = 100;
        s.dispatch.lease_secs = 2;
        s.dispatch.retry_interval_secs = 1;
    })
    .await
}

/// A point `km` north of the pickup.
pub fn north(km: f64) -> (f64, f64) {
    (PICKUP.0 + km / 111.2, PICKUP.1)
}

/// The runner's `/ws`, ready to receive offers.
pub async fn socket(app: &TestApp, runner: &Session) -> WsClient {
    let mut ws = app.ws(&format!("/ws?token={}", runner.access)).await;
    ws.next_of("hello").await;
    app.wait_numsub(&format!("user:{}", runner.user_id), 1).await;
    ws
}

/// The next frame of `kind` about `booking_id` within `secs`, if any.
pub async fn frame_for(ws: &mut WsClient, kind: &str, booking_id: &str, secs: f64) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now()).as_secs_f64();
        let frame = ws.next_within(left).await?;
        if frame["type"] == kind && frame["booking_id"] == booking_id {
            return Some(frame);
        }
    }
}

#[actix_web::test]
async fn the_nearest_eligible_runner_gets_the_offer() {
    let app = dispatch_app(10_000).await;
    let owner = app.register("d-owner@example.my", "owner").await;
    let near = north(0.1);
    let small = ready_runner(
        &app,
        "d-small@example.my",
        json!({"size": "small", "pet_types": ["dog"], "max_weight_kg": 30, "ventilated": true}),
        near,
    )
    .await;
    let cats = ready_runner(
        &app,
        "d-cats@example.my",
        json!({"size": "large", "pet_types": ["cat"], "max_weight_kg": 30, "ventilated": true}),
        near,
    )
    .await;
    let poor = ready_runner(&app, "d-poor@example.my", dog_crate(), near).await;
    app.sql(&format!("UPDATE runners SET rating = 2.5, total_trips = 10 WHERE user_id = '{}'", poor.user_id)).await;
    let busy = ready_runner(&app, "d-busy@example.my", dog_crate(), near).await;
    let offline = ready_runner(&app, "d-offline@example.my", dog_crate(), near).await;
    app.go_offline(&offline).await;
    let good = ready_runner(&app, "d-good@example.my", dog_crate(), north(1.0)).await;
    let far = ready_runner(&app, "d-far@example.my", dog_crate(), north(2.0)).await;
    // The busy runner is on another job (picked far outside everyone's radius).
    let mut elsewhere = worked_example();
    elsewhere["pickup_address"] = address("Ipoh", (4.6, 101.1));
    let other = book(&app, &app.register("d-other@example.my", "owner").await, &elsewhere).await;
    assert_eq!(app.accept(&busy, &id(&other)).await.status, 200);

    let mut sockets = Vec::new();
    for r in [&small, &cats, &poor, &busy, &offline, &good, &far] {
        sockets.push(socket(&app, r).await);
    }
    let booking = book(&app, &owner, &worked_example()).await;
    let bid = id(&booking);

    let offer =
        frame_for(&mut sockets[5], "offer", &bid, 5.0).await.expect("the nearest eligible runner is offered the job");
    assert_eq!(offer["estimated_price_cents"], 2960);
    assert_eq!(offer["runner_payout_cents"], 2516);
    let km = offer["pickup_distance_km"].as_f64().unwrap();
    assert!((0.9..1.1).contains(&km), "{km}");
    assert!(offer["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(offer["pet_spec"]["name"], "Buddy");
    for (i, ws) in sockets.iter_mut().enumerate().filter(|(i, _)| *i != 5) {
        assert!(frame_for(ws, "offer", &bid, 0.3).await.is_none(), "runner #{i} must not be offered this job");
    }
    let stats = app.live.dispatcher.send(GetDispatchStats).await.unwrap();
    assert_eq!(stats.offers_sent, 1);
    assert!(stats.first_offer_ms_p50 > 0.0);
    let searching = app.get("/api/v1/notifications?page=1", Some(&owner.access)).await;
    assert!(searching.text.contains("Finding a Runner"), "the owner hears that dispatch started");
}

#[actix_web::test]
async fn a_booking_dispatched_at_its_create_says_searching_once_and_in_order() {
    let app = dispatch_app(10_000).await;
    let owner = app.register("dn-owner@example.my", "owner").await;
    // nobody is near: the first pass ends at once, with its own notice
    let bid = id(&book(&app, &owner, &worked_example()).await);
    // the create's commit already holds the search's start, after the request
    let stream = app
        .scalar(&format!(
            "SELECT count(*) FROM outbox WHERE aggregate_id = '{bid}' AND \
             ((seq = 1 AND event_type = 'booking.requested') OR (seq = 2 AND event_type = 'booking.searching'))"
        ))
        .await;
    assert_eq!(stream, 2, "booking.requested is seq 1 and booking.searching seq 2");
    let mut inbox = String::new();
    for _ in 0..50 {
        inbox = app.get("/api/v1/notifications?page=1", Some(&owner.access)).await.text;
        if inbox.contains("No Runner Yet") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(inbox.contains("No Runner Yet"), "the first pass found nobody: {inbox}");
    assert_eq!(inbox.matches("Finding a Runner").count(), 1, "one searching notice, not one per path: {inbox}");
    let searching = app
        .scalar(&format!(
            "SELECT count(*) FROM outbox WHERE aggregate_id = '{bid}' AND event_type = 'booking.searching'"
        ))
        .await;
    assert_eq!(searching, 1);
}

#[actix_web::test]
async fn decline_moves_to_the_next_candidate_at_once() {
    let app = dispatch_app(10_000).await;
    let owner = app.register("dd-owner@example.my", "owner").await;
    let first = ready_runner(&app, "dd-first@example.my", dog_crate(), north(0.5)).await;
    let second = ready_runner(&app, "dd-second@example.my", dog_crate(), north(1.5)).await;
    let (mut ws1, mut ws2) = (socket(&app, &first).await, socket(&app, &second).await);
    let bid = id(&book(&app, &owner, &worked_example()).await);
    frame_for(&mut ws1, "offer", &bid, 5.0).await.expect("first offer");
    ws1.send(&json!({"type": "offer.decline", "booking_id": bid})).await;
    frame_for(&mut ws1, "offer.declined", &bid, 2.0).await.expect("decline acknowledged");
    // the offer's timeout is 10 s: an offer now is the decline's doing
    frame_for(&mut ws2, "offer", &bid, 5.0).await.expect("the next candidate is offered");
    let events = app.booking(&owner, &bid).await;
    assert_eq!(events.body["data"]["status"], "requested");
    let stats = app.live.dispatcher.send(GetDispatchStats).await.unwrap();
    assert_eq!((stats.offers_declined, stats.offers_expired), (1, 0), "moved on by the decline, not a timeout");
}

#[actix_web::test]
async fn a_timeout_moves_on_and_tells_the_first_runner() {
    let app = dispatch_app(600).await;
    let owner = app.register("dt-owner@example.my", "owner").await;
    let first = ready_runner(&app, "dt-first@example.my", dog_crate(), north(0.5)).await;
    let second = ready_runner(&app, "dt-second@example.my", dog_crate(), north(1.5)).await;
    let (mut ws1, mut ws2) = (socket(&app, &first).await, socket(&app, &second).await);
    let bid = id(&book(&app, &owner, &worked_example()).await);
    frame_for(&mut ws1, "offer", &bid, 5.0).await.expect("first offer");
    frame_for(&mut ws1, "offer.expired", &bid, 3.0).await.expect("the first runner hears it expired");
    frame_for(&mut ws2, "offer", &bid, 3.0).await.expect("the second runner is offered next");
}

#[actix_web::test]
async fn the_radius_widens_to_find_a_far_runner() {
    let app = dispatch_app(10_000).await;
    let owner = app.register("dw-owner@example.my", "owner").await;
    let far = ready_runner(&app, "dw-far@example.my", dog_crate(), north(8.0)).await;
    let mut ws = socket(&app, &far).await;
    let bid = id(&book(&app, &owner, &worked_example()).await);
    let offer = frame_for(&mut ws, "offer", &bid, 5.0).await.expect("found beyond the first 5 km");
    assert!(offer["pickup_distance_km"].as_f64().unwrap() > 7.5);
}

#[actix_web::test]
async fn accepting_over_the_socket_assigns_the_booking() {
    let app = dispatch_app(10_000).await;
    let owner = app.register("da-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "da-runner@example.my", dog_crate(), north(0.5)).await;
    let mut ws = socket(&app, &runner).await;
    let bid = id(&book(&app, &owner, &worked_example()).await);
    frame_for(&mut ws, "offer", &bid, 5.0).await.expect("offer");
    ws.send(&json!({"type": "offer.accept", "booking_id": bid})).await;
    let accepted = frame_for(&mut ws, "offer.accepted", &bid, 3.0).await.expect("accepted");
    assert_eq!(accepted["status"], "accepted");
    let booking = app.booking(&owner, &bid).await;
    assert_eq!(booking.body["data"]["runner_id"], runner.user_id.as_str());
    let mut matched = false;
    for _ in 0..40 {
        let stats = app.live.dispatcher.send(GetDispatchStats).await.unwrap();
        if stats.matched == 1 && stats.active_rounds == 0 {
            matched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matched, "the round ends with a match");
}

#[actix_web::test]
async fn two_nodes_never_offer_one_runner_two_jobs_at_once() {
    let node_a = dispatch_app(1_500).await;
    let node_b = spawn_peer(&node_a).await;
    let runner = ready_runner(&node_a, "d2-runner@example.my", dog_crate(), north(0.5)).await;
    let mut ws = socket(&node_a, &runner).await;
    let o1 = node_a.register("d2-o1@example.my", "owner").await;
    let o2 = node_b.register("d2-o2@example.my", "owner").await;
    let (b1, b2) =
        futures_util::future::join(book(&node_a, &o1, &worked_example()), book(&node_b, &o2, &worked_example())).await;
    let (b1, b2) = (id(&b1), id(&b2));
    // Within one offer's lifetime the runner sees exactly one offer.
    let mut offers = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1_200);
    while let Some(frame) =
        ws.next_within(deadline.saturating_duration_since(tokio::time::Instant::now()).as_secs_f64()).await
    {
        if frame["type"] == "offer" {
            offers.push(frame["booking_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert!(offers[0] == b1 || offers[0] == b2);
}

#[actix_web::test]
async fn another_node_takes_over_when_a_dispatcher_stops() {
    let node_a = dispatch_app(4_000).await;
    let node_b = spawn_peer(&node_a).await;
    let first = ready_runner(&node_a, "dl-first@example.my", dog_crate(), north(0.5)).await;
    let second = ready_runner(&node_a, "dl-second@example.my", dog_crate(), north(1.0)).await;
    let (mut ws1, mut ws2) = (socket(&node_a, &first).await, socket(&node_a, &second).await);
    // Node B does not dispatch at first: only A's round exists.
    node_b.live.dispatcher.send(StopActor).await.unwrap();
    let node_c = spawn_peer(&node_a).await; // the survivor, started after B stopped
    let owner = node_a.register("dl-owner@example.my", "owner").await;
    let bid = id(&book(&node_a, &owner, &worked_example()).await);
    frame_for(&mut ws1, "offer", &bid, 5.0).await.expect("node A offers the first runner");
    // Node A "crashes": its dispatcher stops, its lease (2 s) lapses.
    node_a.live.dispatcher.send(StopActor).await.unwrap();
    let offer = frame_for(&mut ws2, "offer", &bid, 8.0).await.expect("the surviving node dispatches the booking");
    assert_eq!(offer["booking_id"], bid.as_str());
    let stats = node_c.live.dispatcher.send(GetDispatchStats).await.unwrap();
    assert_eq!(stats.offers_sent, 1, "the offer came from the surviving node");
    // a takeover searches quietly: the owner heard "searching" once, from the create
    tokio::time::sleep(Duration::from_millis(300)).await;
    let searching = node_c
        .scalar(&format!(
            "SELECT count(*) FROM outbox WHERE aggregate_id = '{bid}' AND event_type = 'booking.searching'"
        ))
        .await;
    assert_eq!(searching, 1, "the takeover must not tell the owner again");
}

#[actix_web::test]
async fn a_pushed_accept_racing_a_pulled_accept_has_one_winner() {
    let app = dispatch_app(10_000).await;
    let owner = app.register("dr-owner@example.my", "owner").await;
    let pushed = ready_runner(&app, "dr-pushed@example.my", dog_crate(), north(0.5)).await;
    let pulled = ready_runner(&app, "dr-pulled@example.my", dog_crate(), north(3.0)).await;
    let mut ws = socket(&app, &pushed).await;
    let bid = id(&book(&app, &owner, &worked_example()).await);
    frame_for(&mut ws, "offer", &bid, 5.0).await.expect("offer");
    let accept = format!("/api/v1/bookings/{bid}/accept");
    let empty = json!({});
    let (rest, ()) = futures_util::future::join(
        app.post(&accept, Some(&pulled.access), &empty),
        ws.send(&json!({"type": "offer.accept", "booking_id": bid})),
    )
    .await;
    let socket_answer = loop {
        let frame = ws.next().await;
        if frame["type"] == "offer.accepted" || frame["type"] == "error" {
            break frame;
        }
    };
    let rest_won = rest.status == 200;
    let socket_won = socket_answer["type"] == "offer.accepted";
    assert!(rest_won ^ socket_won, "exactly one winner: rest {} / socket {socket_answer}", rest.status);
    if !socket_won {
        assert_eq!(socket_answer["code"], "offer_failed");
    } else {
        assert_eq!(rest.status, 409);
    }
    let booking = app.booking(&owner, &bid).await;
    let winner = if rest_won { &pulled } else { &pushed };
    assert_eq!(booking.body["data"]["runner_id"], winner.user_id.as_str());
}

#[actix_web::test]
async fn accepting_by_offer_id_assigns_and_a_stale_offer_id_is_refused() {
    let app = dispatch_app(10_000).await;
    let owner = app.register("do-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "do-runner@example.my", dog_crate(), north(0.5)).await;
    let mut ws = socket(&app, &runner).await;
    // an offer id nobody made
    ws.send(&json!({"type": "offer.accept", "offer_id": uuid::Uuid::new_v4()})).await;
    let refused = ws.next_of("error").await;
    assert_eq!(refused["code"], "offer_failed", "{refused}");
    ws.send(&json!({"type": "offer.accept", "offer_id": "not-a-uuid"})).await;
    assert_eq!(ws.next_of("error").await["code"], "invalid_offer_id");
    let bid = id(&book(&app, &owner, &worked_example()).await);
    let offer = frame_for(&mut ws, "offer", &bid, 5.0).await.expect("offer");
    let offer_id = offer["offer_id"].as_str().unwrap().to_owned();
    ws.send(&json!({"type": "offer.accept", "offer_id": offer_id})).await;
    let accepted = frame_for(&mut ws, "offer.accepted", &bid, 3.0).await.expect("accepted by offer id");
    assert_eq!(accepted["status"], "accepted");
    let booking = app.booking(&owner, &bid).await;
    assert_eq!(booking.body["data"]["runner_id"], runner.user_id.as_str());
    // the same offer again: it is no longer open (the booking is taken)
    ws.send(&json!({"type": "offer.accept", "offer_id": offer_id})).await;
    assert_eq!(ws.next_of("error").await["code"], "offer_failed");
}

#[actix_web::test]
async fn an_expired_offer_id_cannot_take_the_booking() {
    let app = dispatch_app(600).await;
    let owner = app.register("dx-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "dx-runner@example.my", dog_crate(), north(0.5)).await;
    let mut ws = socket(&app, &runner).await;
    let bid = id(&book(&app, &owner, &worked_example()).await);
    let offer = frame_for(&mut ws, "offer", &bid, 5.0).await.expect("offer");
    frame_for(&mut ws, "offer.expired", &bid, 3.0).await.expect("the offer expires");
    // the runner answers late, with the expired offer's id
    let reservation_gone = async {
        let key = format!("{}offer:{}", app.settings.redis.key_prefix, runner.user_id);
        let client = ::redis::Client::open(app.settings.redis.url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        for _ in 0..40 {
            let held: Option<String> = ::redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
            if held.is_none_or(|h| !h.ends_with(offer["offer_id"].as_str().unwrap())) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };
    assert!(reservation_gone.await, "an expired offer's reservation is released");
    ws.send(&json!({"type": "offer.accept", "offer_id": offer["offer_id"]})).await;
    let refused = ws.next_of("error").await;
    assert_eq!(refused["code"], "offer_failed", "{refused}");
    let booking = app.booking(&owner, &bid).await;
    assert!(booking.body["data"]["runner_id"].is_null(), "the late answer took nothing");
}

#[actix_web::test]
async fn cancel_withdraws_the_offer_and_frees_the_runner() {
    let app = dispatch_app(10_000).await;
    let owner = app.register("dc-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "dc-runner@example.my", dog_crate(), north(0.5)).await;
    let mut ws = socket(&app, &runner).await;
    let bid = id(&book(&app, &owner, &worked_example()).await);
    let offer = frame_for(&mut ws, "offer", &bid, 5.0).await.expect("offer");
    let key = format!("{}offer:{}", app.settings.redis.key_prefix, runner.user_id);
    let client = ::redis::Client::open(app.settings.redis.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let held: Option<String> = ::redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
    let reserved = format!("{bid} {}", offer["offer_id"].as_str().unwrap());
    assert_eq!(held.as_deref(), Some(reserved.as_str()), "the runner is reserved for this offer while it stands");
    app.post(&format!("/api/v1/bookings/{bid}/cancel"), Some(&owner.access), &json!({"reason": "changed_mind"})).await;
    frame_for(&mut ws, "offer.withdrawn", &bid, 3.0).await.expect("the offer is withdrawn");
    let mut freed = false;
    for _ in 0..40 {
        let held: Option<String> = ::redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
        if held.is_none() {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed, "the runner's reservation is released");
}
