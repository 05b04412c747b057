//! No event lost under load and faults on `/ws`: a reconnect storm of
//! subscriptions, a replay racing new commits, a failed subscription.

use std::time::Duration;

use serde_json::json;

use crate::fixtures::{PICKUP, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{WsClient, spawn_app, spawn_app_with};

async fn subscribed(ws: &mut WsClient, booking_id: &str) -> serde_json::Value {
    for _ in 0..200 {
        let frame = ws.next().await;
        if (frame["type"] == "subscribed" || frame["type"] == "error") && frame["booking_id"] == booking_id {
            return frame;
        }
    }
    panic!("no answer to the subscribe of {booking_id}");
}

#[actix_web::test]
async fn a_reconnect_storm_of_first_subscriptions_all_succeed_on_a_small_pool() {
    // Four pooled connections (the test config) and 160 first subscriptions
    // at once, each starting a booking actor that needs a connection itself.
    let app = spawn_app().await;
    let owner = app.register("storm-owner@example.my", "owner").await;
    let mut booking_ids = Vec::new();
    for _ in 0..40 {
        booking_ids.push(id(&book(&app, &owner, &worked_example()).await));
    }
    let mut sockets = Vec::new();
    for _ in 0..4 {
        let mut ws = app.ws(&format!("/ws?token={}", owner.access)).await;
        ws.next_of("hello").await;
        sockets.push(ws);
    }
    for ws in sockets.iter_mut() {
        for bid in &booking_ids {
            ws.send(&json!({"type": "subscribe", "booking_id": bid, "last_seq": 0})).await;
        }
    }
    let mut ok = 0;
    let mut failures = Vec::new();
    for ws in sockets.iter_mut() {
        let mut answered = 0;
        while answered < booking_ids.len() {
            let frame = ws.next_within(30.0).await.expect("every subscribe is answered");
            match frame["type"].as_str() {
                Some("subscribed") => {
                    answered += 1;
                    ok += 1;
                    assert_eq!(frame["recovered"], true, "{frame}");
                }
                Some("error") => {
                    answered += 1;
                    failures.push(frame);
                }
                _ => {}
            }
        }
    }
    assert_eq!((ok, failures.len()), (160, 0), "failures: {failures:?}");
}

#[actix_web::test]
async fn resubscribing_while_events_commit_never_loses_one_nor_says_unrecovered() {
    let app = spawn_app_with(|s| {
        s.rate_limit.api_per_minute = 100_000;
        s.server.workers = 4;
        s.database.pool_max_size = 12;
    })
    .await;
    let owner = app.register("race-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "race-runner@example.my", dog_crate(), PICKUP).await;
    let booking = book(&app, &owner, &worked_example()).await;
    let bid = id(&booking);
    let resp = app.accept(&runner, &bid).await;
    assert_eq!(resp.status, 200, "{}", resp.text);

    // The runner keeps committing events on the booking's stream (chat),
    // from three clients at once.
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (address, token, bid) = (app.address.clone(), runner.access.clone(), bid.clone());
            actix_web::rt::spawn(async move {
                let client = awc::Client::default();
                let mut sent = 0;
                for n in 0..80 {
                    let resp = client
                        .post(format!("{address}/api/v1/chat/{bid}/messages"))
                        .bearer_auth(&token)
                        .send_json(&json!({"message_type": "text", "content": format!("on my way {w}-{n}")}))
                        .await;
                    if resp.is_ok_and(|r| r.status().is_success()) {
                        sent += 1;
                    }
                }
                sent
            })
        })
        .collect();
    // Meanwhile four tabs of the owner's app drop and re-subscribe from what they have.
    let tab = |_: usize| async {
        let mut ws = app.ws(&format!("/ws?token={}", owner.access)).await;
        ws.next_of("hello").await;
        let (mut last_seq, mut unrecovered, mut rounds) = (0i64, 0, 0);
        while !writers.iter().all(|w| w.is_finished()) || rounds < 5 {
            rounds += 1;
            ws.send(&json!({"type": "subscribe", "booking_id": bid, "last_seq": last_seq})).await;
            let frame = subscribed(&mut ws, &bid).await;
            assert_eq!(frame["type"], "subscribed", "{frame}");
            if frame["recovered"] != true {
                unrecovered += 1;
            }
            let seq = frame["seq"].as_i64().unwrap();
            assert!(seq >= last_seq, "the stream never goes back: {seq} < {last_seq}");
            last_seq = seq;
            ws.send(&json!({"type": "unsubscribe", "booking_id": bid})).await;
            ws.next_of("unsubscribed").await;
            // (under the flood limit of 50 frames a second)
            tokio::time::sleep(Duration::from_millis(45)).await;
        }
        (rounds, unrecovered)
    };
    let results = futures_util::future::join_all((0..4).map(tab)).await;
    let mut committed = 0;
    for writer in writers {
        committed += writer.await.unwrap();
    }
    assert_eq!(committed, 240, "every message committed");
    let rounds: usize = results.iter().map(|r| r.0).sum();
    let unrecovered: usize = results.iter().map(|r| r.1).sum();
    assert!(rounds >= 20, "{rounds}");
    assert_eq!(
        unrecovered, 0,
        "a re-subscribe racing commits is always recovered ({unrecovered} of {rounds} said false)"
    );
}

#[actix_web::test]
async fn a_failed_subscription_names_its_booking() {
    let app = spawn_app().await;
    let owner = app.register("named-owner@example.my", "owner").await;
    let mut ws = app.ws(&format!("/ws?token={}", owner.access)).await;
    ws.next_of("hello").await;
    let missing = uuid::Uuid::new_v4().to_string();
    ws.send(&json!({"type": "subscribe", "booking_id": missing, "last_seq": 3})).await;
    let frame = subscribed(&mut ws, &missing).await;
    assert_eq!((frame["type"].as_str(), frame["code"].as_str()), (Some("error"), Some("not_found")), "{frame}");
}

#[actix_web::test]
async fn a_status_that_arrives_after_a_newer_one_is_still_delivered() {
    let app = spawn_app().await;
    let owner = app.register("order-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "order-runner@example.my", dog_crate(), PICKUP).await;
    let booking = book(&app, &owner, &worked_example()).await;
    let bid = id(&booking);
    assert_eq!(app.accept(&runner, &bid).await.status, 200);
    let mut ws = app.ws(&format!("/ws?token={}", owner.access)).await;
    ws.next_of("hello").await;
    ws.send(&json!({"type": "subscribe", "booking_id": bid, "last_seq": 0})).await;
    let current = subscribed(&mut ws, &bid).await["seq"].as_i64().unwrap();

    // After a Redis outage the user's channel can carry a newer event
    // before the booking's actor has caught up the one before it.
    let newer = json!({"kind": "event", "seq": current + 2, "event": {
        "type": "booking.delivery_confirmed", "time": "2026-12-01T10:00:00Z",
        "data": {"booking_id": bid, "old_status": "in_progress", "new_status": "delivered"}}});
    let client = ::redis::Client::open(app.settings.redis.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let channel = format!("{}user:{}", app.settings.redis.key_prefix, owner.user_id);
    let _: i64 = ::redis::cmd("PUBLISH").arg(&channel).arg(newer.to_string()).query_async(&mut conn).await.unwrap();
    let first = ws.next_of("booking.status").await;
    assert_eq!(first["seq"], current + 2);

    // The older one (the pickup) then arrives: it is not dropped.
    assert_eq!(app.pickup(&runner, &bid).await.status, 200);
    let late = ws.next_of("booking.status").await;
    assert_eq!((late["seq"].as_i64(), late["new_status"].as_str()), (Some(current + 1), Some("in_progress")), "{late}");
}
