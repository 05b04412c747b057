//! Notifications and chat (contract §2.7, §2.8, §4.13).

use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::{PICKUP, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{Session, TestApp, spawn_app, spawn_app_with};

async fn inbox(app: &TestApp, s: &Session) -> Vec<Value> {
    app.get("/api/v1/notifications?page=1&limit=100", Some(&s.access)).await.body["data"].as_array().unwrap().clone()
}

fn types(items: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|n| n["event_type"].as_str().unwrap().to_owned()).collect();
    v.reverse(); // oldest first, to read as a story
    v
}

#[actix_web::test]
async fn the_owner_is_told_every_step_and_a_cancel_tells_the_other_side() {
    let app = spawn_app().await;
    let owner = app.register("told-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "told-runner@example.my", dog_crate(), PICKUP).await;
    let booking = book(&app, &owner, &worked_example()).await;
    let path = format!("/api/v1/bookings/{}", id(&booking));
    for step in ["accept", "pickup", "deliver"] {
        app.post(&format!("{path}/{step}"), Some(&runner.access), &json!({})).await;
    }
    app.post(&format!("{path}/confirm"), Some(&owner.access), &json!({})).await;
    let items = inbox(&app, &owner).await;
    assert_eq!(
        types(&items),
        [
            "booking.requested",
            "booking.accepted",
            "tracking.started",
            "booking.pet_picked_up",
            "booking.delivery_confirmed",
            "tracking.completed",
            "booking.completed"
        ]
    );
    let accepted = items.iter().find(|n| n["event_type"] == "booking.accepted").unwrap();
    assert_eq!(accepted["title"], "Runner Assigned!");
    assert_eq!(
        accepted["body"],
        format!("A runner has accepted your booking {}", booking["booking_number"].as_str().unwrap())
    );
    assert_eq!(accepted["type"], "booking.accepted");
    assert_eq!(accepted["booking_id"], booking["id"]);
    assert_eq!(accepted["is_read"], false);
    assert_eq!(accepted["status"], "sent", "stored even with no push channel");
    assert_eq!(accepted["channels_sent"], json!([]));
    for key in ["id", "user_id", "channels_failed", "metadata", "created_at", "updated_at"] {
        assert!(accepted.get(key).is_some(), "{key}");
    }
    let completed = items.iter().find(|n| n["event_type"] == "booking.completed").unwrap();
    assert!(completed["body"].as_str().unwrap().ends_with("RM 29.60"));
    assert!(inbox(&app, &runner).await.is_empty(), "progress goes to the owner");

    // Cancel: the other participant hears of it, not the canceller.
    let second = book(&app, &owner, &worked_example()).await;
    app.accept(&runner, &id(&second)).await;
    app.post(
        &format!("/api/v1/bookings/{}/cancel", id(&second)),
        Some(&owner.access),
        &json!({"reason": "changed_mind"}),
    )
    .await;
    let runner_items = inbox(&app, &runner).await;
    assert_eq!(types(&runner_items), ["booking.cancelled"]);
    assert_eq!(
        runner_items[0]["body"],
        format!("Booking {} was cancelled: changed_mind", second["booking_number"].as_str().unwrap())
    );
    assert!(!types(&inbox(&app, &owner).await).contains(&"booking.cancelled".to_owned()));
}

#[actix_web::test]
async fn both_list_shapes_mark_read_and_ownership() {
    let app = spawn_app().await;
    let owner = app.register("lists@example.my", "owner").await;
    let other = app.register("lists-other@example.my", "owner").await;
    for _ in 0..3 {
        book(&app, &owner, &worked_example()).await;
    }
    // page mode
    let page = app.get("/api/v1/notifications?page=1&limit=2", Some(&owner.access)).await;
    assert_eq!(page.body["pagination"], json!({"total": 3, "page": 1, "limit": 2, "total_pages": 2}));
    // cursor mode (no page): newest first, both spellings
    let first = app.get("/api/v1/notifications?limit=2", Some(&owner.access)).await;
    let data = &first.body["data"];
    assert_eq!(data["items"].as_array().unwrap().len(), 2);
    let cursor = data["next_cursor"].as_str().unwrap().to_owned();
    assert!(!cursor.is_empty());
    assert_eq!(data["nextCursor"], data["next_cursor"]);
    assert_eq!(data["items"][0]["createdAt"], data["items"][0]["created_at"]);
    assert_eq!(data["items"][0]["readAt"], json!(null));
    let rest = app.get(&format!("/api/v1/notifications?limit=2&cursor={cursor}"), Some(&owner.access)).await;
    assert_eq!(rest.body["data"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["data"]["next_cursor"], "");
    let ids: Vec<&Value> = data["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest.body["data"]["items"].as_array().unwrap())
        .map(|i| &i["id"])
        .collect();
    assert_eq!(ids.len(), 3);
    let bad = app.get("/api/v1/notifications?cursor=%%%", Some(&owner.access)).await;
    assert_eq!((bad.status, bad.body["error"].as_str()), (400, Some("invalid cursor")));

    // mark read: PUT, POST with read_at, idempotent, own only
    let nid = data["items"][0]["id"].as_str().unwrap();
    let put = app.request("PUT", &format!("/api/v1/notifications/{nid}/read"), Some(&owner.access), None).await;
    assert_eq!(put.body, json!({"success": true, "data": {"message": "notification marked as read"}}));
    let post = app
        .post(
            &format!("/api/v1/notifications/{nid}/read"),
            Some(&owner.access),
            &json!({"read_at": "2026-05-18T04:00:00Z"}),
        )
        .await;
    assert_eq!(post.status, 200);
    let one = app.get(&format!("/api/v1/notifications/{nid}"), Some(&owner.access)).await;
    assert_eq!(one.body["data"]["is_read"], true);
    let theirs = app.request("PUT", &format!("/api/v1/notifications/{nid}/read"), Some(&other.access), None).await;
    assert_eq!((theirs.status, theirs.body["error"].as_str()), (404, Some("Notification not found")));
}

#[actix_web::test]
async fn preferences_tokens_and_the_push_channel() {
    let app = spawn_app_with(|s| s.realtime.notifier_interval_ms = 100).await;
    let owner = app.register("prefs@example.my", "owner").await;
    let t = Some(owner.access.as_str());
    let defaults = app.get("/api/v1/notifications/preferences", t).await;
    assert_eq!(defaults.body["data"]["id"], json!(null));
    assert_eq!(defaults.body["data"]["enable_push"], true);
    let resp = app.put("/api/v1/notifications/preferences", t, &json!({"enable_push": true})).await;
    assert_eq!(resp.body["data"]["message"], "preferences updated");
    let stored = app.get("/api/v1/notifications/preferences", t).await;
    assert_eq!(
        (stored.body["data"]["enable_push"].as_bool(), stored.body["data"]["enable_sms"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(stored.body["data"]["id"].is_string());

    let missing = app.post("/api/v1/notifications/fcm-token", t, &json!({})).await;
    assert_eq!((missing.status, missing.body["error"].as_str()), (400, Some("token is required")));
    let ok = app.post("/api/v1/notifications/fcm-token", t, &json!({"token": "fcm-abc"})).await;
    assert_eq!(ok.body["data"]["message"], "FCM token registered");
    let bad = app.post("/api/v1/notifications/device-tokens", t, &json!({"token": "d", "scope_id": "x"})).await;
    assert_eq!((bad.status, bad.body["error"].as_str()), (400, Some("invalid scope_id")));
    let ok = app
        .post("/api/v1/notifications/device-tokens", t, &json!({"token": "d", "platform": "ios", "scope_id": ""}))
        .await;
    assert_eq!(ok.body["data"]["message"], "device token registered");

    // With a token and push enabled, the next notification goes out on push.
    book(&app, &owner, &worked_example()).await;
    let mut sent = false;
    for _ in 0..50 {
        let items = inbox(&app, &owner).await;
        if items[0]["status"] == "sent" && items[0]["channels_sent"] == json!(["push"]) {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sent, "notification delivered on push");
    let pushed = app.push.sent.lock().unwrap().clone();
    assert_eq!(pushed, [("push".to_owned(), "fcm-abc".to_owned(), "Booking Received".to_owned())]);
}

#[actix_web::test]
async fn chat_is_stored_and_pushed_to_the_other_participant() {
    let app = spawn_app().await;
    let owner = app.register("chat-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "chat-runner@example.my", dog_crate(), PICKUP).await;
    let stranger = app.register("chat-stranger@example.my", "owner").await;
    let booking = book(&app, &owner, &worked_example()).await;
    let bid = id(&booking);
    app.accept(&runner, &bid).await;

    let mut runner_ws = app.ws(&format!("/ws?token={}", runner.access)).await;
    runner_ws.next_of("hello").await;
    let mut owner_ws = app.ws(&format!("/ws?token={}", owner.access)).await;
    owner_ws.next_of("hello").await;
    app.wait_numsub(&format!("user:{}", runner.user_id), 1).await;

    let path = format!("/api/v1/chat/{bid}/messages");
    let resp =
        app.post(&path, Some(&owner.access), &json!({"message_type": "text", "content": "Buddy loves treats"})).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    assert_eq!(resp.body["data"]["sender_role"], "owner");
    for key in ["id", "booking_id", "sender_id", "message_type", "content", "created_at"] {
        assert!(resp.body["data"].get(key).is_some(), "{key}");
    }
    let frame = runner_ws.next_of("chat_message").await;
    assert_eq!(frame["content"], "Buddy loves treats");
    assert_eq!(frame["sender_id"], owner.user_id.as_str());
    let note = runner_ws.next_of("notification").await;
    assert_eq!(note["data"]["title"], "New Message");
    while let Some(frame) = owner_ws.next_within(0.5).await {
        assert_ne!(frame["type"], "chat_message", "no echo to the sender");
    }

    app.post(&path, Some(&runner.access), &json!({"message_type": "quick_reply", "content": "On my way"})).await;
    let list = app.get(&format!("{path}?limit=1&page=2"), Some(&owner.access)).await;
    assert_eq!(list.body["pagination"]["total"], 2);
    assert_eq!(list.body["data"][0]["content"], "On my way", "oldest first");
    let bad = app.post(&path, Some(&owner.access), &json!({"message_type": "video", "content": "x"})).await;
    assert_eq!(
        (bad.status, bad.body["error"].as_str()),
        (400, Some("message_type must be one of: text, image, quick_reply"))
    );
    let empty = app.post(&path, Some(&owner.access), &json!({"message_type": "text"})).await;
    assert_eq!((empty.status, empty.body["error"].as_str()), (400, Some("content is required")));
    assert_eq!(
        app.post(&path, Some(&stranger.access), &json!({"message_type": "text", "content": "hi"})).await.status,
        403
    );
    assert_eq!(app.get(&path, Some(&stranger.access)).await.status, 403);
}

#[actix_web::test]
async fn participants_get_status_and_notifications_on_their_socket_without_subscribing() {
    let app = spawn_app().await;
    let owner = app.register("live-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "live-runner@example.my", dog_crate(), PICKUP).await;
    let booking = book(&app, &owner, &worked_example()).await;
    let mut owner_ws = app.ws(&format!("/ws?token={}", owner.access)).await;
    owner_ws.next_of("hello").await;
    app.wait_numsub(&format!("user:{}", owner.user_id), 1).await;
    app.accept(&runner, &id(&booking)).await;
    let mut saw_status = false;
    let mut saw_note = false;
    for _ in 0..10 {
        let Some(frame) = owner_ws.next_within(2.0).await else { break };
        match frame["type"].as_str() {
            Some("booking.status") if frame["new_status"] == "accepted" => saw_status = true,
            Some("notification") if frame["data"]["title"] == "Runner Assigned!" => saw_note = true,
            _ => {}
        }
        if saw_status && saw_note {
            break;
        }
    }
    assert!(saw_status && saw_note, "status {saw_status}, notification {saw_note}");
}
