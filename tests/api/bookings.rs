//! Bookings (contract §2.4, §4): the worked example end to end, the open
//! pool, the accept race, and every documented error.

use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::fixtures::{PICKUP, book, booking_for, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

async fn strings(app: &TestApp, sql: &str) -> Vec<String> {
    let mut conn = app.db().await;
    diesel::sql_query(sql).load::<Row>(&mut conn).await.unwrap().into_iter().map(|r| r.value).collect()
}

#[actix_web::test]
async fn the_worked_example_from_request_to_completion() {
    let app = spawn_app().await;
    let owner = app.register("aisyah@example.my", "owner").await;
    let runner = ready_runner(&app, "hafiz@example.my", dog_crate(), (3.1600, 101.7100)).await;

    // The owner books the worked-example trip and sees 2960 sen.
    let created = app.create_booking(&owner, &worked_example()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let booking = created.body["data"].clone();
    assert_eq!(booking["estimated_price_cents"], 2960);
    assert_eq!(booking["status"], "requested");
    assert_eq!(booking["crate_requirement"]["minimum_weight_capacity"], 14.399999999999999);
    assert_eq!(booking["version"], 1);
    insta::assert_json_snapshot!("booking_created", created.body, {
        ".data.id" => "[uuid]", ".data.owner_id" => "[uuid]", ".data.booking_number" => "[BK-XXXXXX]",
        ".data.created_at" => "[timestamp]", ".data.updated_at" => "[timestamp]",
        ".data.pet_spec.vaccinations[].date_given" => "[timestamp]", ".data.pet_spec.vaccinations[].expires_at" => "[timestamp]",
    });
    let number = booking["booking_number"].as_str().unwrap();
    assert!(number.starts_with("BK-") && number.len() == 9, "{number}");
    let path = format!("/api/v1/bookings/{}", id(&booking));

    // The runner finds it in the open pool.
    let pool = app.bookings(&runner, Some("requested")).await;
    assert_eq!(pool.status, 200);
    assert_eq!(pool.body["data"][0]["id"], booking["id"]);
    assert_eq!(pool.body["pagination"]["total"], 1);
    assert_eq!(app.get(&path, Some(&runner.access)).await.status, 200, "runners may read open-pool bookings");

    // accept → pickup → deliver
    let accepted = app.post(&format!("{path}/accept"), Some(&runner.access), &json!({})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.body["data"]["runner_id"], runner.user_id.as_str());
    assert_eq!(accepted.body["data"]["status"], "accepted");
    let picked = app.post(&format!("{path}/pickup"), Some(&runner.access), &json!({})).await;
    assert_eq!(picked.body["data"]["status"], "in_progress");
    assert!(picked.body["data"]["picked_up_at"].is_string());
    let delivered = app.post(&format!("{path}/deliver"), Some(&runner.access), &json!({})).await;
    assert_eq!(delivered.body["data"]["status"], "delivered");
    assert_eq!(delivered.body["data"]["final_price_cents"], json!(null));

    // The owner confirms; the price is final and the runner's trip counts.
    let confirmed = app.post(&format!("{path}/confirm"), Some(&owner.access), &json!({})).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(confirmed.body["data"]["status"], "completed");
    assert_eq!(confirmed.body["data"]["final_price_cents"], 2960);
    assert_eq!(confirmed.body["data"]["version"], 5);
    let me = app.get("/api/v1/runners/me", Some(&runner.access)).await;
    assert_eq!(me.body["data"]["total_trips"], 1);

    // The history shows every step, with who did it.
    let history = app.get(&format!("{path}/history"), Some(&owner.access)).await;
    let steps: Vec<(Value, Value)> = history.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from_status"].clone(), h["to_status"].clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (json!(null), json!("requested")),
            (json!("requested"), json!("accepted")),
            (json!("accepted"), json!("in_progress")),
            (json!("in_progress"), json!("delivered")),
            (json!("delivered"), json!("completed")),
        ]
    );
    assert_eq!(history.body["data"][1]["actor_id"], runner.user_id.as_str());

    // Every transition wrote its event, in order, numbered per booking, with
    // owner and runner ids; status events carry the change.
    let events =
        strings(&app, "SELECT event_type AS value FROM outbox WHERE aggregate_type = 'booking' ORDER BY id").await;
    assert_eq!(
        events,
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
    let seqs =
        strings(&app, "SELECT seq::text AS value FROM outbox WHERE aggregate_type = 'booking' ORDER BY id").await;
    assert_eq!(seqs, ["1", "2", "3", "4", "5", "6", "7"]);
    let changes = strings(
        &app,
        "SELECT concat(payload->'data'->>'old_status', '>', payload->'data'->>'new_status') AS value \
         FROM outbox WHERE event_type LIKE 'booking.%' ORDER BY id",
    )
    .await;
    assert_eq!(
        changes,
        [">requested", "requested>accepted", "accepted>in_progress", "in_progress>delivered", "delivered>completed"]
    );
    let owners =
        strings(&app, "SELECT payload->'data'->>'owner_id' AS value FROM outbox WHERE aggregate_type = 'booking'")
            .await;
    assert!(owners.iter().all(|o| o == &owner.user_id));
    let runners =
        strings(&app, "SELECT coalesce(payload->'data'->>'runner_id', 'null') AS value FROM outbox WHERE aggregate_type = 'booking' ORDER BY id").await;
    assert_eq!(runners[0], "null");
    assert!(runners[1..].iter().all(|r| r == &runner.user_id));

    // Lists by role and status.
    let done = app.bookings(&runner, Some("completed")).await;
    assert_eq!(done.body["pagination"], json!({"total": 1, "page": 1, "limit": 20, "total_pages": 1}));
    let active = app.bookings(&owner, Some("active")).await;
    assert_eq!(active.body["data"], json!([]));
    let all = app.bookings(&owner, None).await;
    assert_eq!(all.body["data"][0]["status"], "completed");
}

#[actix_web::test]
async fn quote_prices_without_storing() {
    let app = spawn_app().await;
    let owner = app.register("quote@example.my", "owner").await;
    let resp = app.post("/api/v1/bookings/quote", Some(&owner.access), &worked_example()).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(
        resp.body["data"]["breakdown"],
        json!({"base_fare_cents": 500, "distance_cents": 1460, "pet_surcharge_cents": 500, "crate_surcharge_cents": 500, "total_cents": 2960})
    );
    assert_eq!(resp.body["data"]["platform_fee_cents"], 444);
    assert_eq!(resp.body["data"]["runner_payout_cents"], 2516);
    assert_eq!(resp.body["data"]["crate_requirement"]["minimum_size"], "medium");
    let list = app.bookings(&owner, None).await;
    assert_eq!(list.body["pagination"]["total"], 0);
}

#[actix_web::test]
async fn create_validation_follows_the_contract() {
    let app = spawn_app().await;
    let owner = app.register("strict-owner@example.my", "owner").await;
    let old = (chrono::Utc::now() - chrono::Duration::days(400)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let expired = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let in_31_days = (chrono::Utc::now() + chrono::Duration::days(31)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/pet_spec/pet_type", json!("dragon"), "pricing error: unknown pet type for pricing: dragon"),
        ("/pet_spec/name", json!(""), "pet name is required"),
        ("/pet_spec/weight_kg", json!(0), "pet weight must be positive"),
        ("/pet_spec/vaccinations/0/date_given", json!(old), "vaccination 'Rabies' was given more than 1 year ago"),
        ("/pet_spec/vaccinations/0/expires_at", json!(expired), "vaccination 'Rabies' has expired"),
        ("/pickup_address", json!(null), "pickup address is required"),
        ("/dropoff_address/latitude", json!(0), "dropoff address: invalid latitude"),
        ("/pickup_address/line1", json!(""), "pickup address line1 is required"),
        ("/scheduled_at", json!("tomorrow"), "scheduled_at must be RFC 3339"),
        ("/scheduled_at", json!(expired), "scheduled_at must not be in the past"),
        ("/scheduled_at", json!(in_31_days), "scheduled_at must be at most 30 days ahead"),
        ("/notes", json!("x".repeat(1001)), "notes must be at most 1000 characters"),
        ("/pet_spec", json!(null), "pet_spec is required"),
    ];
    for (pointer, value, error) in cases {
        let mut body = worked_example();
        *body.pointer_mut(pointer).unwrap() = value;
        let resp = app.create_booking(&owner, &body).await;
        assert_eq!(resp.status, 400, "{pointer}: {}", resp.text);
        assert_eq!(resp.body, json!({"success": false, "error": error, "detail": ""}), "{pointer}");
    }
    // A booking with no vaccinations is allowed.
    let mut body = worked_example();
    body["pet_spec"]["vaccinations"] = json!([]);
    assert_eq!(app.create_booking(&owner, &body).await.status, 201);
    // Only owners book.
    let runner = app.register("not-an-owner@example.my", "runner").await;
    assert_eq!(app.create_booking(&runner, &worked_example()).await.status, 403);
}

#[actix_web::test]
async fn the_open_pool_shows_only_what_the_runners_crates_carry() {
    let app = spawn_app().await;
    let owner = app.register("pool-owner@example.my", "owner").await;
    let dog = book(&app, &owner, &worked_example()).await; // 12 kg dog: medium
    let big_dog = book(&app, &owner, &booking_for("dog", 40.0)).await; // xlarge
    let cat = book(&app, &owner, &booking_for("cat", 4.0)).await; // small
    let lizard = book(&app, &owner, &booking_for("reptile", 2.0)).await; // needs temperature control

    let medium = ready_runner(&app, "medium@example.my", dog_crate(), PICKUP).await;
    let small = ready_runner(
        &app,
        "small@example.my",
        json!({"size": "small", "pet_types": ["dog", "cat"], "max_weight_kg": 20, "ventilated": true}),
        PICKUP,
    )
    .await;
    let warm = ready_runner(
        &app,
        "warm@example.my",
        json!({"size": "xlarge", "pet_types": ["reptile", "dog"], "max_weight_kg": 50, "ventilated": true, "temperature_controlled": true}),
        PICKUP,
    )
    .await;
    let ids = |resp: &crate::helpers::TestResponse| -> Vec<String> {
        let mut v: Vec<String> = resp.body["data"].as_array().unwrap().iter().map(id).collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    let seen = app.bookings(&medium, Some("requested")).await;
    assert_eq!(
        ids(&seen),
        sorted(vec![id(&dog), id(&cat)]),
        "medium dog+cat crate: not the 40 kg dog, not the reptile"
    );
    let seen = app.bookings(&small, Some("requested")).await;
    assert_eq!(ids(&seen), vec![id(&cat)], "a small crate carries only the cat");
    let seen = app.bookings(&warm, Some("requested")).await;
    assert_eq!(ids(&seen), sorted(vec![id(&dog), id(&big_dog), id(&lizard)]));

    // A pulled accept is held to the same rule: 422 naming the failed rule.
    let resp = app.accept(&medium, &id(&big_dog)).await;
    assert_eq!(resp.status, 422);
    assert_eq!(resp.body["error"], "runner is not eligible for this booking: no crate is large enough");
    assert_eq!(resp.body["detail"], "no crate is large enough");
    // Not in the pool, not readable.
    let resp = app.booking(&small, &id(&big_dog)).await;
    assert_eq!(resp.status, 200, "any runner may read an open booking");

    // Once taken, a booking leaves everybody's pool.
    app.accept(&warm, &id(&dog)).await;
    let seen = app.bookings(&medium, Some("requested")).await;
    assert_eq!(ids(&seen), vec![id(&cat)]);
}

#[actix_web::test]
async fn the_pool_is_nearest_pickup_first() {
    let app = spawn_app().await;
    let owner = app.register("near-owner@example.my", "owner").await;
    let mut far = worked_example();
    far["pickup_address"]["latitude"] = json!(3.30);
    let far = book(&app, &owner, &far).await;
    let near = book(&app, &owner, &worked_example()).await;
    let mut mid = worked_example();
    mid["pickup_address"]["latitude"] = json!(3.20);
    let mid = book(&app, &owner, &mid).await;
    let runner = ready_runner(&app, "sorter@example.my", dog_crate(), PICKUP).await;
    let seen = app.bookings(&runner, Some("requested")).await;
    let order: Vec<String> = seen.body["data"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(order, [id(&near), id(&mid), id(&far)]);
}

#[actix_web::test]
async fn accept_rules_offline_low_rating_and_no_profile() {
    let app = spawn_app().await;
    let owner = app.register("rules-owner@example.my", "owner").await;
    let booking = book(&app, &owner, &worked_example()).await;
    let accept = format!("/api/v1/bookings/{}/accept", id(&booking));

    let offline = ready_runner(&app, "offline@example.my", dog_crate(), PICKUP).await;
    app.go_offline(&offline).await;
    let resp = app.post(&accept, Some(&offline.access), &json!({})).await;
    assert_eq!((resp.status, resp.body["detail"].as_str()), (422, Some("runner is not online")));

    let poor = ready_runner(&app, "poor@example.my", dog_crate(), PICKUP).await;
    app.sql(&format!("UPDATE runners SET rating = 2.5, total_trips = 12 WHERE user_id = '{}'", poor.user_id)).await;
    let resp = app.post(&accept, Some(&poor.access), &json!({})).await;
    assert_eq!((resp.status, resp.body["detail"].as_str()), (422, Some("rating 2.50 is below 3.00")));

    let nobody = app.register("no-profile@example.my", "runner").await;
    let resp = app.post(&accept, Some(&nobody.access), &json!({})).await;
    assert_eq!((resp.status, resp.body["detail"].as_str()), (422, Some("runner profile not found")));

    // A new runner (no trips yet) passes the quality bar whatever the rating.
    let fresh = ready_runner(&app, "fresh@example.my", dog_crate(), PICKUP).await;
    assert_eq!(app.post(&accept, Some(&fresh.access), &json!({})).await.status, 200);
    // Accepting twice is an illegal transition for the same runner.
    let again = app.post(&accept, Some(&fresh.access), &json!({})).await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (422, Some("cannot transition from 'accepted' to 'accepted'"))
    );
}

#[actix_web::test]
async fn twenty_runners_race_for_one_booking_and_one_wins() {
    let app = spawn_app_with(|s| s.database.pool_max_size = 12).await;
    let owner = app.register("race-owner@example.my", "owner").await;
    let booking = book(&app, &owner, &worked_example()).await;
    let mut runners = Vec::new();
    for i in 0..20 {
        runners.push(ready_runner(&app, &format!("racer{i}@example.my"), dog_crate(), PICKUP).await);
    }
    let accept = format!("/api/v1/bookings/{}/accept", id(&booking));
    let empty = json!({});
    let attempts = runners.iter().map(|r| app.post(&accept, Some(&r.access), &empty));
    let results = futures_util::future::join_all(attempts).await;

    let winners: Vec<usize> = (0..20).filter(|i| results[*i].status == 200).collect();
    assert_eq!(winners.len(), 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    for (i, r) in results.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(r.status, 409, "runner {i}: {}", r.text);
            assert_eq!(r.body["error"], "booking was modified by another transaction");
        }
    }
    let winner = &runners[winners[0]];
    let assigned =
        strings(&app, &format!("SELECT runner_id::text AS value FROM bookings WHERE id = '{}'", id(&booking))).await;
    assert_eq!(assigned, vec![winner.user_id.as_str()]);
    let accepts = strings(&app, "SELECT event_type AS value FROM outbox WHERE event_type = 'booking.accepted'").await;
    assert_eq!(accepts.len(), 1);
    let history =
        strings(&app, "SELECT to_status AS value FROM booking_status_history WHERE to_status = 'accepted'").await;
    assert_eq!(history.len(), 1);
}

#[actix_web::test]
async fn decline_returns_the_job_to_the_pool() {
    let app = spawn_app().await;
    let owner = app.register("decline-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "decliner@example.my", dog_crate(), PICKUP).await;
    let booking = book(&app, &owner, &worked_example()).await;
    let path = format!("/api/v1/bookings/{}", id(&booking));

    let early = app.post(&format!("{path}/decline"), Some(&runner.access), &json!({"reason": "too_far"})).await;
    assert_eq!(early.status, 403, "not assigned yet: {}", early.text);
    app.post(&format!("{path}/accept"), Some(&runner.access), &json!({})).await;
    let bad = app.post(&format!("{path}/decline"), Some(&runner.access), &json!({"reason": "lazy"})).await;
    assert_eq!(
        (bad.status, bad.body["error"].as_str()),
        (400, Some("reason must be one of: too_far, cannot_transport, already_busy, pickup_issue, other"))
    );
    let ok = app.post(&format!("{path}/decline"), Some(&runner.access), &json!({"reason": "too_far"})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["data"]["status"], "requested");
    assert_eq!(ok.body["data"]["runner_id"], json!(null));
    let reasons = strings(&app, "SELECT reason AS value FROM booking_decline_reasons").await;
    assert_eq!(reasons, ["too_far"]);
    let declined = strings(
        &app,
        "SELECT payload->'data'->>'runner_id' AS value FROM outbox WHERE event_type = 'booking.declined'",
    )
    .await;
    assert_eq!(declined, vec![runner.user_id.as_str()]);

    // Back in the pool; declining again is a 409 for the wrong state.
    app.post(&format!("{path}/accept"), Some(&runner.access), &json!({})).await;
    app.post(&format!("{path}/pickup"), Some(&runner.access), &json!({})).await;
    let late = app.post(&format!("{path}/decline"), Some(&runner.access), &json!({"reason": "other"})).await;
    assert_eq!(
        (late.status, late.body["error"].as_str()),
        (409, Some("cannot decline booking in state 'in_progress'"))
    );
}

#[actix_web::test]
async fn cancel_rules() {
    let app = spawn_app().await;
    let owner = app.register("cancel-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "cancel-runner@example.my", dog_crate(), PICKUP).await;

    // Owner cancels with a reason; a malformed body means no reason.
    let b1 = book(&app, &owner, &worked_example()).await;
    let resp = app
        .post(&format!("/api/v1/bookings/{}/cancel", id(&b1)), Some(&owner.access), &json!({"reason": "changed_mind"}))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["data"]["status"], "cancelled");
    assert_eq!(resp.body["data"]["cancel_note"], "changed_mind");
    assert!(resp.body["data"]["cancelled_at"].is_string());
    let again = app.cancel(&owner, &id(&b1)).await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (422, Some("cannot transition from 'cancelled' to 'cancelled'"))
    );

    let b2 = book(&app, &owner, &worked_example()).await;
    let resp = app.post_raw(&format!("/api/v1/bookings/{}/cancel", id(&b2)), "application/json", "not json").await;
    assert_eq!(resp.status, 401, "no token, so 401 before the body is read");
    app.accept(&runner, &id(&b2)).await;
    let resp = app
        .client
        .post(format!("{}/api/v1/bookings/{}/cancel", app.address, id(&b2)))
        .bearer_auth(&runner.access)
        .insert_header(("content-type", "application/json"))
        .send_body("{broken")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "the assigned runner may cancel; a malformed body is no reason");

    // Not from delivered.
    let b3 = book(&app, &owner, &worked_example()).await;
    for step in ["accept", "pickup", "deliver"] {
        app.post(&format!("/api/v1/bookings/{}/{step}", id(&b3)), Some(&runner.access), &json!({})).await;
    }
    let resp = app.cancel(&owner, &id(&b3)).await;
    assert_eq!(
        (resp.status, resp.body["error"].as_str()),
        (422, Some("cannot transition from 'delivered' to 'cancelled'"))
    );
    let long = app
        .post(&format!("/api/v1/bookings/{}/cancel", id(&b3)), Some(&owner.access), &json!({"reason": "x".repeat(501)}))
        .await;
    assert_eq!(long.status, 400);
}

#[actix_web::test]
async fn rebook_copies_and_reprices() {
    let app = spawn_app().await;
    let owner = app.register("rebook@example.my", "owner").await;
    let other = app.register("rebook-other@example.my", "owner").await;
    let original = book(&app, &owner, &worked_example()).await;
    let path = format!("/api/v1/bookings/{}/rebook", id(&original));
    let resp = app.post(&path, Some(&owner.access), &json!({})).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let copy = &resp.body["data"];
    assert_ne!(copy["id"], original["id"]);
    assert_ne!(copy["booking_number"], original["booking_number"]);
    assert_eq!(copy["pet_spec"], original["pet_spec"]);
    assert_eq!(copy["pickup_address"], original["pickup_address"]);
    assert_eq!(copy["notes"], "Friendly dog");
    assert_eq!(copy["scheduled_at"], json!(null));
    assert_eq!(copy["estimated_price_cents"], 2960);
    let resp = app.post(&path, Some(&other.access), &json!({})).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (403, Some("booking does not belong to this user")));
    // A vaccination that has since lapsed stops the rebook.
    app.sql(
        "UPDATE bookings SET pet_spec = jsonb_set(pet_spec, '{vaccinations,0,expires_at}', '\"2020-01-01T00:00:00Z\"')",
    )
    .await;
    let resp = app.post(&path, Some(&owner.access), &json!({})).await;
    assert_eq!((resp.status, resp.body["error"].as_str()), (400, Some("vaccination 'Rabies' has expired")));
}

#[actix_web::test]
async fn photos_by_the_assigned_runner() {
    let app = spawn_app().await;
    let owner = app.register("photo-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "photographer@example.my", dog_crate(), PICKUP).await;
    let booking = book(&app, &owner, &worked_example()).await;
    let path = format!("/api/v1/bookings/{}", id(&booking));
    app.post(&format!("{path}/accept"), Some(&runner.access), &json!({})).await;
    let bad = app
        .post(
            &format!("{path}/photo"),
            Some(&runner.access),
            &json!({"photo_type": "selfie", "photo_url": "https://x/y.jpg"}),
        )
        .await;
    assert_eq!((bad.status, bad.body["error"].as_str()), (400, Some("photo_type must be one of: pickup, delivery")));
    let ok = app
        .post(
            &format!("{path}/photo"),
            Some(&runner.access),
            &json!({"photo_type": "pickup", "photo_url": "https://x/y.jpg"}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    assert_eq!(ok.body["data"]["caption"], "");
    assert_eq!(ok.body["data"]["runner_id"], runner.user_id.as_str());
    let list = app.get(&format!("{path}/photos"), Some(&owner.access)).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn list_rejects_unknown_status_and_clamps_limit() {
    let app = spawn_app().await;
    let owner = app.register("lister@example.my", "owner").await;
    for _ in 0..3 {
        book(&app, &owner, &worked_example()).await;
    }
    let bad = app.bookings(&owner, Some("picked_up")).await;
    assert_eq!((bad.status, bad.body["error"].as_str()), (400, Some("invalid status")));
    let page = app.get("/api/v1/bookings?limit=2&page=2", Some(&owner.access)).await;
    assert_eq!(page.body["pagination"], json!({"total": 3, "page": 2, "limit": 2, "total_pages": 2}));
    assert_eq!(page.body["data"].as_array().unwrap().len(), 1);
    let big = app.get("/api/v1/bookings?limit=1000", Some(&owner.access)).await;
    assert_eq!(big.body["pagination"]["limit"], 100);
    let zero = app.get("/api/v1/bookings?limit=0", Some(&owner.access)).await;
    assert_eq!(zero.body["pagination"]["limit"], 20);
    let active = app.bookings(&owner, Some("active")).await;
    assert_eq!(active.body["pagination"]["total"], 3);
}

#[actix_web::test]
async fn admin_lists_and_counts_every_booking() {
    let app = spawn_app().await;
    let admin = app.admin("booking-admin@example.my").await;
    let owner = app.register("counted@example.my", "owner").await;
    let b = book(&app, &owner, &worked_example()).await;
    book(&app, &owner, &worked_example()).await;
    app.cancel(&owner, &id(&b)).await;
    let list = app.get("/api/v1/admin/bookings", Some(&admin.access)).await;
    assert_eq!(list.body["pagination"]["total"], 2);
    let stats = app.get("/api/v1/admin/stats/bookings", Some(&admin.access)).await;
    assert_eq!(
        stats.body["data"],
        json!({"total_bookings": 2, "by_status": {"requested": 1, "accepted": 0, "in_progress": 0, "delivered": 0, "completed": 0, "cancelled": 1}})
    );
    assert_eq!(app.get("/api/v1/admin/bookings", Some(&owner.access)).await.status, 403);
}

#[actix_web::test]
async fn one_owner_booking_many_trips_at_once() {
    // Every booking notifies the same owner: their inbox events must be
    // numbered one after the other, not collide.
    let app = spawn_app_with(|s| s.database.pool_max_size = 12).await;
    let owner = app.register("busy-owner@example.my", "owner").await;
    let body = worked_example();
    let attempts = (0..12).map(|_| app.create_booking(&owner, &body));
    let results = futures_util::future::join_all(attempts).await;
    assert!(results.iter().all(|r| r.status == 201), "{:?}", results.iter().map(|r| &r.text).collect::<Vec<_>>());
    let inbox = app.get("/api/v1/notifications?page=1&limit=100", Some(&owner.access)).await;
    assert_eq!(inbox.body["pagination"]["total"], 12);
}
