//! Reviews: who may review what, once; the runner's rating is the mean of
//! their reviews and the runner hears about each one.

use serde_json::{Value, json};

use crate::fixtures::{PICKUP, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{Session, TestApp, spawn_app};

/// A booking carried by `runner` to `status` (completed unless told).
async fn carried(app: &TestApp, owner: &Session, runner: &Session, complete: bool) -> String {
    let bid = id(&book(app, owner, &worked_example()).await);
    assert_eq!(app.accept(runner, &bid).await.status, 200);
    assert_eq!(app.pickup(runner, &bid).await.status, 200);
    assert_eq!(app.deliver(runner, &bid).await.status, 200);
    if complete {
        assert_eq!(app.confirm(owner, &bid).await.status, 200);
    }
    bid
}

async fn review(app: &TestApp, who: &Session, bid: &str, body: Value) -> crate::helpers::TestResponse {
    app.post(&format!("/api/v1/bookings/{bid}/review"), Some(&who.access), &body).await
}

#[actix_web::test]
async fn only_the_owner_reviews_a_completed_trip_once_with_a_rating_from_one_to_five() {
    let app = spawn_app().await;
    let owner = app.register("rv-owner@example.my", "owner").await;
    let other = app.register("rv-other@example.my", "owner").await;
    let runner = ready_runner(&app, "rv-runner@example.my", dog_crate(), PICKUP).await;
    let delivered = carried(&app, &owner, &runner, false).await;
    let resp = review(&app, &owner, &delivered, json!({"rating": 5})).await;
    assert_eq!(resp.status, 422, "not completed yet: {}", resp.text);
    let bid = carried(&app, &owner, &runner, true).await;
    for bad in [
        json!({"rating": 0}),
        json!({"rating": 6}),
        json!({"rating": 4.5}),
        json!({}),
        json!({"rating": 5, "tags": ["fast"]}),
    ] {
        assert_eq!(review(&app, &owner, &bid, bad.clone()).await.status, 400, "{bad}");
    }
    assert_eq!(review(&app, &other, &bid, json!({"rating": 5})).await.status, 403);
    let resp = app.post(&format!("/api/v1/bookings/{bid}/review"), Some(&runner.access), &json!({"rating": 5})).await;
    assert_eq!(resp.status, 403, "a runner cannot review");
    let resp = review(
        &app,
        &owner,
        &bid,
        json!({"rating": 4, "comment": " gentle with Milo ", "tags": ["gentle", "on_time"]}),
    )
    .await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let dto = &resp.body["data"];
    assert_eq!(dto["rating"], 4);
    assert_eq!(dto["comment"], "gentle with Milo");
    assert_eq!(dto["tags"], json!(["gentle", "on_time"]));
    assert_eq!(dto["runner_id"], runner.user_id.as_str());
    assert_eq!(dto["owner_id"], owner.user_id.as_str());
    assert!(dto["reply"].is_null() && dto["replied_at"].is_null());
    let again = review(&app, &owner, &bid, json!({"rating": 1})).await;
    assert_eq!(again.status, 409, "{}", again.text);
}

#[actix_web::test]
async fn concurrent_reviews_of_one_booking_give_one_201() {
    let app = spawn_app().await;
    let owner = app.register("rc-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "rc-runner@example.my", dog_crate(), PICKUP).await;
    let bid = carried(&app, &owner, &runner, true).await;
    let tries = (1..=5).map(|r| review(&app, &owner, &bid, json!({"rating": r})));
    let statuses: Vec<u16> = futures_util::future::join_all(tries).await.into_iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    let page = app.get(&format!("/api/v1/runners/{}/reviews", runner.user_id), Some(&owner.access)).await;
    assert_eq!(page.body["total_reviews"], 1);
}

#[actix_web::test]
async fn the_rating_is_the_mean_of_the_reviews_and_the_runner_hears_and_may_answer_once() {
    let app = spawn_app().await;
    let owner = app.register("rm-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "rm-runner@example.my", dog_crate(), PICKUP).await;
    let mut ws = app.ws(&format!("/ws?token={}", runner.access)).await;
    ws.next_of("hello").await;
    let before = app.get("/api/v1/runners/me", Some(&runner.access)).await;
    assert_eq!(before.body["data"]["rating"], 0.0, "not rated yet");
    let first = carried(&app, &owner, &runner, true).await;
    let second = carried(&app, &owner, &runner, true).await;
    let third = carried(&app, &owner, &runner, true).await;
    for (bid, stars) in [(&first, 5), (&second, 4), (&third, 4)] {
        assert_eq!(review(&app, &owner, bid, json!({"rating": stars})).await.status, 201);
    }
    // (5 + 4 + 4) / 3 = 4.33
    let me = app.get("/api/v1/runners/me", Some(&runner.access)).await;
    assert_eq!(me.body["data"]["rating"], 4.33, "{}", me.text);
    // the runner is told on their socket
    let mut heard = 0;
    while heard < 3 {
        let frame = ws.next_of("notification").await;
        if frame["data"]["event_type"] == "review.created" {
            heard += 1;
        }
    }
    // anyone signed in reads them, newest first, with the standing
    let page = app.get(&format!("/api/v1/runners/{}/reviews?limit=2", runner.user_id), Some(&owner.access)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!((page.body["rating"].clone(), page.body["total_reviews"].clone()), (json!(4.33), json!(3)));
    assert_eq!(page.body["pagination"]["total"], 3);
    let data = page.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["booking_id"], third.as_str(), "newest first");
    // the runner answers once; nobody else may
    let review_id = data[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/reviews/{review_id}/reply");
    let other = ready_runner(&app, "rm-other@example.my", dog_crate(), PICKUP).await;
    assert_eq!(app.post(&path, Some(&other.access), &json!({"text": "thanks"})).await.status, 403);
    assert_eq!(app.post(&path, Some(&runner.access), &json!({"text": " "})).await.status, 400);
    let answered = app.post(&path, Some(&runner.access), &json!({"text": "Thank you!"})).await;
    assert_eq!(answered.status, 200, "{}", answered.text);
    assert_eq!(answered.body["data"]["reply"], "Thank you!");
    assert!(answered.body["data"]["replied_at"].is_string());
    assert_eq!(app.post(&path, Some(&runner.access), &json!({"text": "again"})).await.status, 409);
    let unknown = app.get(&format!("/api/v1/runners/{}/reviews", uuid::Uuid::new_v4()), Some(&owner.access)).await;
    assert_eq!(unknown.status, 404);
}

#[actix_web::test]
async fn a_runner_reviewed_below_the_bar_is_skipped_by_dispatch_and_refused_on_pull() {
    use crate::dispatch::{dispatch_app, frame_for, north, socket};

    let app = dispatch_app(10_000).await;
    let owner = app.register("rl-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "rl-runner@example.my", dog_crate(), north(0.2)).await;
    let trips = [carried(&app, &owner, &runner, true).await, carried(&app, &owner, &runner, true).await];
    for bid in &trips {
        assert_eq!(review(&app, &owner, bid, json!({"rating": 2, "tags": ["rough"]})).await.status, 201);
    }
    // (2 + 2) / 2 = 2.00, under the standard policy's 3.00: the nearest
    // runner gets no offer, a farther unrated one does
    let other = ready_runner(&app, "rl-other@example.my", dog_crate(), north(3.0)).await;
    let (mut low_ws, mut other_ws) = (socket(&app, &runner).await, socket(&app, &other).await);
    let next = id(&book(&app, &owner, &worked_example()).await);
    frame_for(&mut other_ws, "offer", &next, 5.0).await.expect("the runner above the bar is offered the job");
    assert!(frame_for(&mut low_ws, "offer", &next, 0.3).await.is_none(), "the low-rated runner is skipped");
    let refused = app.accept(&runner, &next).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.body["error"], "runner is not eligible for this booking: rating 2.00 is below 3.00");
}

#[actix_web::test]
async fn completion_rate_counts_the_trips_a_runner_gave_up() {
    let app = spawn_app().await;
    let owner = app.register("cr-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "cr-runner@example.my", dog_crate(), PICKUP).await;
    // completion rate in percent, as the dispatcher's ranking reads it
    let rate = format!("SELECT round(completion_rate * 100)::bigint FROM runners WHERE user_id = '{}'", runner.user_id);
    assert_eq!(app.scalar(&rate).await, 100, "no history: full marks");
    carried(&app, &owner, &runner, true).await;
    carried(&app, &owner, &runner, true).await;
    // accepted, then declined
    let declined = id(&book(&app, &owner, &worked_example()).await);
    assert_eq!(app.accept(&runner, &declined).await.status, 200);
    let resp = app
        .post(&format!("/api/v1/bookings/{declined}/decline"), Some(&runner.access), &json!({"reason": "too_far"}))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    // accepted, then cancelled by the runner
    let dropped = id(&book(&app, &owner, &worked_example()).await);
    assert_eq!(app.accept(&runner, &dropped).await.status, 200);
    assert_eq!(app.cancel(&runner, &dropped).await.status, 200);
    // an owner's cancel is not the runner's doing
    let owners = id(&book(&app, &owner, &worked_example()).await);
    assert_eq!(app.accept(&runner, &owners).await.status, 200);
    assert_eq!(app.cancel(&owner, &owners).await.status, 200);
    assert_eq!(app.scalar(&rate).await, 50, "2 completed of 4 finished");
    let me = app.get("/api/v1/runners/me", Some(&runner.access)).await;
    assert_eq!(me.body["data"]["total_trips"], 2, "{}", me.text);
}

/// The closing note's worked example, end to end over REST and `/ws`:
/// ranking score = distance_km − 0.3 × rating − 1.0 × completion_rate
/// (lower first). Near (0.5 km, unrated, 1.00) scores −0.50; far (1.5 km,
/// unrated, 1.00) scores +0.50, so near is offered first. After far
/// completes a trip reviewed 5 stars, far scores 1.5 − 1.5 − 1.0 = −1.00
/// and is offered the next job before the nearer runner.
#[actix_web::test]
async fn a_five_star_review_moves_a_farther_runner_ahead_in_dispatch() {
    use crate::dispatch::{dispatch_app, frame_for, north, socket};

    let app = dispatch_app(10_000).await;
    let owner = app.register("rk-owner@example.my", "owner").await;
    let near = ready_runner(&app, "rk-near@example.my", dog_crate(), north(0.5)).await;
    let far = ready_runner(&app, "rk-far@example.my", dog_crate(), north(1.5)).await;
    let (mut near_ws, mut far_ws) = (socket(&app, &near).await, socket(&app, &far).await);

    // Before: the nearer runner is offered the job.
    let first = id(&book(&app, &owner, &worked_example()).await);
    frame_for(&mut near_ws, "offer", &first, 5.0).await.expect("near is offered first");
    assert!(frame_for(&mut far_ws, "offer", &first, 0.3).await.is_none());
    // The farther runner takes it from the open pool anyway, and carries it.
    assert_eq!(app.accept(&far, &first).await.status, 200);
    frame_for(&mut near_ws, "offer.withdrawn", &first, 3.0).await.expect("near's offer is withdrawn");
    assert_eq!(app.pickup(&far, &first).await.status, 200);
    assert_eq!(app.deliver(&far, &first).await.status, 200);
    assert_eq!(app.confirm(&owner, &first).await.status, 200);
    let reviewed = review(&app, &owner, &first, json!({"rating": 5, "tags": ["gentle"]})).await;
    assert_eq!(reviewed.status, 201, "{}", reviewed.text);

    // The farther runner hears of the review on their socket.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now()).as_secs_f64();
        let frame = far_ws.next_within(left).await.expect("the review reaches the runner's socket");
        if frame["type"] == "notification" && frame["data"]["event_type"] == "review.created" {
            assert_eq!(frame["data"]["title"], "New Review");
            break;
        }
    }
    let standing = app.get(&format!("/api/v1/runners/{}/reviews", far.user_id), Some(&owner.access)).await;
    assert_eq!((standing.body["rating"].as_f64(), standing.body["total_reviews"].as_i64()), (Some(5.0), Some(1)));
    let profile = app.get("/api/v1/runners/me", Some(&far.access)).await;
    assert_eq!(profile.body["data"]["total_trips"], 1);
    assert_eq!(profile.body["data"]["rating"], 5.0);

    // After: the next job goes to the five-star runner first.
    let second = id(&book(&app, &owner, &worked_example()).await);
    let offer = frame_for(&mut far_ws, "offer", &second, 5.0).await.expect("five stars outrank 1 km");
    let km = offer["pickup_distance_km"].as_f64().unwrap();
    assert!((1.4..1.6).contains(&km), "{km}");
    assert!(frame_for(&mut near_ws, "offer", &second, 0.3).await.is_none(), "the nearer runner waits");
}
