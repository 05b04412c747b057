//! Escrow payments (contract §2.5, §4.7): the simulated gateway's pay →
//! poll `held` → track → confirm flow, and the same money moving through
//! the real async-stripe client against a server speaking Stripe's wire
//! format, with signed webhooks, retries, dead letters and races.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::fixtures::{PICKUP, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{Session, TestApp, spawn_app, spawn_app_with};
use crate::stripe_mock::{DECLINED_CARD, GOOD_CARD, SECRET_KEY, StripeMock, WEBHOOK_SECRET};

pub const PRICE: i64 = 2960;

pub async fn stripe_app() -> (TestApp, StripeMock) {
    let stripe = StripeMock::start().await;
    let url = stripe.url.clone();
    let app = spawn_app_with(move |s| {
        s.payments.provider = kilat::config::PaymentProvider::Stripe;
        s.payments.stripe_api_base = url;
        s.payments.stripe_secret_key = SECRET_KEY.into();
        s.payments.webhook_secret = WEBHOOK_SECRET.into();
    })
    .await;
    (app, stripe)
}

fn initiate_body(booking_id: &str, card: Option<&str>) -> Value {
    let mut body = json!({"booking_id": booking_id, "amount_cents": PRICE, "currency": "MYR",
                          "customer_email": "payer@example.my"});
    if let Some(card) = card {
        body["payment_method"] = json!(card);
    }
    body
}

pub async fn initiate(
    app: &TestApp,
    owner: &Session,
    booking_id: &str,
    card: Option<&str>,
) -> crate::helpers::TestResponse {
    app.post("/api/v1/payments/initiate", Some(&owner.access), &initiate_body(booking_id, card)).await
}

pub async fn payment_of(app: &TestApp, who: &Session, booking_id: &str) -> Value {
    let resp = app.get(&format!("/api/v1/payments/booking/{booking_id}"), Some(&who.access)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.body["data"].clone()
}

/// Polls the booking's payment until `status` (the saga runs in the
/// background), as the apps poll.
pub async fn wait_for(app: &TestApp, who: &Session, booking_id: &str, status: &str) -> Value {
    for _ in 0..100 {
        let p = payment_of(app, who, booking_id).await;
        if p["escrow_status"] == status {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("payment of {booking_id} never became {status}: {}", payment_of(app, who, booking_id).await);
}

pub async fn post_ok(app: &TestApp, path: &str, who: &Session) -> Value {
    let resp = app.post(path, Some(&who.access), &json!({})).await;
    assert_eq!(resp.status, 200, "{path}: {}", resp.text);
    resp.body["data"].clone()
}

/// A runner carries the booking to `delivered`.
pub async fn carry(app: &TestApp, runner: &Session, booking_id: &str) {
    for step in ["accept", "pickup", "deliver"] {
        post_ok(app, &format!("/api/v1/bookings/{booking_id}/{step}"), runner).await;
    }
}

async fn webhook(app: &TestApp, payload: &str, signature: &str) -> crate::helpers::TestResponse {
    let resp = app
        .client
        .post(format!("{}/api/v1/payments/webhook", app.address))
        .insert_header(("content-type", "application/json"))
        .insert_header(("Stripe-Signature", signature))
        .send_body(payload.to_owned())
        .await
        .expect("webhook sent");
    crate::helpers::read_response(resp).await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db().await;
    diesel::sql_query(sql).get_result::<N>(&mut conn).await.expect(sql).n
}

#[actix_web::test]
async fn simulated_gateway_pay_poll_track_confirm_pays_the_runner() {
    let app = spawn_app().await;
    let owner = app.register("pay-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "pay-runner@example.my", dog_crate(), PICKUP).await;
    let booking = id(&book(&app, &owner, &worked_example()).await);

    let resp = initiate(&app, &owner, &booking, None).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let p = &resp.body["data"];
    assert_eq!(p["escrow_status"], "held");
    assert_eq!(p["amount_cents"], PRICE);
    assert_eq!(p["platform_fee_cents"], 444);
    assert_eq!(p["runner_payout_cents"], 2516);
    assert_eq!(p["currency"], "MYR");
    assert_eq!(p["payment_intent_id"], p["stripe_payment_id"]);
    assert!(p["stripe_payment_id"].as_str().unwrap().starts_with("pi_sim_"));
    // contract §6: the keys the iOS owner requires are always there
    for key in [
        "payment_method",
        "refund_reason",
        "stripe_payment_id",
        "escrow_held_at",
        "escrow_released_at",
        "refunded_at",
        "runner_id",
        "version",
        "created_at",
        "updated_at",
        "booking_number",
    ] {
        assert!(p.get(key).is_some(), "{key} missing from {p}");
    }
    assert_eq!(p["refund_reason"], "");
    assert_eq!(p["escrow_released_at"], Value::Null);
    assert_eq!(p["runner_id"], Value::Null);

    // poll until held (already), track, confirm
    assert_eq!(payment_of(&app, &owner, &booking).await["escrow_status"], "held");
    carry(&app, &runner, &booking).await;
    assert_eq!(payment_of(&app, &runner, &booking).await["escrow_status"], "held", "deliver releases nothing");
    let done = post_ok(&app, &format!("/api/v1/bookings/{booking}/confirm"), &owner).await;
    assert_eq!(done["status"], "completed");

    let released = wait_for(&app, &owner, &booking, "released").await;
    assert_eq!(released["runner_id"], runner.user_id.as_str());
    assert!(released["escrow_released_at"].is_string());
    assert_eq!(released["runner_payout_cents"], 2516);

    // the runner's earnings list shows it; the owner was told at each step
    let earnings = app.get("/api/v1/payments", Some(&runner.access)).await;
    assert_eq!(earnings.status, 200, "{}", earnings.text);
    assert_eq!(earnings.body["data"][0]["id"], released["id"]);
    assert_eq!(earnings.body["pagination"]["total"], 1);
    let inbox = app.get("/api/v1/notifications?page=1&limit=50", Some(&owner.access)).await;
    let types: Vec<&str> = inbox.body["data"].as_array().unwrap().iter().filter_map(|n| n["type"].as_str()).collect();
    assert!(types.contains(&"payment.escrow_held"), "{types:?}");
    assert!(types.contains(&"payment.escrow_released"), "{types:?}");
}

#[actix_web::test]
async fn stripe_happy_path_initiate_webhook_held_confirm_capture_released() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("s-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "s-runner@example.my", dog_crate(), PICKUP).await;
    let booking = id(&book(&app, &owner, &worked_example()).await);

    // no card yet: the app confirms with the client secret
    let resp = initiate(&app, &owner, &booking, None).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let p = resp.body["data"].clone();
    assert_eq!(p["escrow_status"], "pending");
    let pi = p["payment_intent_id"].as_str().unwrap().to_owned();
    assert!(pi.starts_with("pi_mock"), "{p}");
    assert_eq!(p["client_secret"], format!("{pi}_secret_mock"));

    // what reached Stripe: a manual-capture intent for the booking's price
    let create = &stripe.requests("create")[0];
    assert_eq!(create.form["amount"], PRICE.to_string());
    assert_eq!(create.form["currency"], "myr");
    assert_eq!(create.form["capture_method"], "manual");
    assert_eq!(create.form["metadata[booking_id]"], booking);
    assert_eq!(create.form["metadata[owner_id]"], owner.user_id);
    assert_eq!(create.form["metadata[payment_id]"], p["id"].as_str().unwrap());
    assert_eq!(create.idempotency_key.as_deref(), Some(format!("kilat-hold-{booking}-1").as_str()));

    // the app confirms; Stripe tells us the money is capturable
    let confirmed = stripe.confirm_in_app(&pi);
    let payload = stripe.event("payment_intent.amount_capturable_updated", confirmed);
    let resp = webhook(&app, &payload, &StripeMock::sign(&payload, WEBHOOK_SECRET, None)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["data"]["outcome"], "processed");
    let held = payment_of(&app, &owner, &booking).await;
    assert_eq!(held["escrow_status"], "held");
    assert!(held["escrow_held_at"].is_string());

    carry(&app, &runner, &booking).await;
    assert!(stripe.requests("capture").is_empty(), "delivery alone captures nothing");
    post_ok(&app, &format!("/api/v1/bookings/{booking}/confirm"), &owner).await;
    let released = wait_for(&app, &owner, &booking, "released").await;
    assert_eq!(released["runner_id"], runner.user_id.as_str());
    let captures = stripe.requests("capture");
    assert_eq!(captures.len(), 1);
    assert_eq!(captures[0].path, format!("/v1/payment_intents/{pi}/capture"));
    assert_eq!(
        captures[0].idempotency_key.as_deref(),
        Some(format!("kilat-capture-{}", p["id"].as_str().unwrap()).as_str())
    );
    assert_eq!(stripe.intent(&pi)["status"], "succeeded");
    assert_eq!(stripe.intent(&pi)["amount_received"], PRICE);
    let b = app.booking(&owner, &booking).await;
    assert_eq!(b.body["data"]["status"], "completed");
    assert_eq!(b.body["data"]["final_price_cents"], PRICE);
}

#[actix_web::test]
async fn declined_card_is_402_and_failed_then_a_new_attempt_succeeds() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("dc-owner@example.my", "owner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);

    let resp = initiate(&app, &owner, &booking, Some(DECLINED_CARD)).await;
    assert_eq!(resp.status, 402, "{}", resp.text);
    assert_eq!(resp.body["success"], false);
    assert_eq!(resp.body["error"], "payment declined");
    assert_eq!(resp.body["detail"], "Your card was declined.");
    let failed = payment_of(&app, &owner, &booking).await;
    assert_eq!(failed["escrow_status"], "failed");
    assert!(failed["failure_reason"].as_str().unwrap().contains("declined"), "{failed}");

    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    assert_eq!(resp.body["data"]["escrow_status"], "held");
    assert_eq!(resp.body["data"]["client_secret"], Value::Null);
    assert_ne!(resp.body["data"]["id"], failed["id"]);
    let keys: Vec<_> = stripe.requests("create").into_iter().map(|r| r.idempotency_key.unwrap()).collect();
    assert_eq!(keys, vec![format!("kilat-hold-{booking}-1"), format!("kilat-hold-{booking}-2")]);
    // and now it is live: a third attempt is refused
    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    assert_eq!(resp.status, 409, "{}", resp.text);
    assert_eq!(resp.body["error"], "payment already exists for this booking");
    assert_eq!(payment_of(&app, &owner, &booking).await["escrow_status"], "held");
}

#[actix_web::test]
async fn stripe_503_twice_then_ok_is_retried_under_one_idempotency_key() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("r-owner@example.my", "owner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    stripe.fail("create", 503, 2);

    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    assert_eq!(resp.body["data"]["escrow_status"], "held");
    let creates = stripe.requests("create");
    assert_eq!(creates.len(), 3, "two 503s, then the one that worked");
    assert!(creates.iter().all(|r| r.idempotency_key == creates[0].idempotency_key));
}

#[actix_web::test]
async fn a_lost_answer_is_retried_under_the_same_key_and_creates_one_intent() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("la-owner@example.my", "owner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    stripe.lose_answers("create", 1);

    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    assert_eq!(resp.body["data"]["escrow_status"], "held");
    assert_eq!(stripe.requests("create").len(), 2);
    assert_eq!(stripe.intents().len(), 1, "the retry got the first intent back, no second hold");
    assert_eq!(resp.body["data"]["stripe_payment_id"], stripe.intents()[0]["id"]);
}

/// Every answer lost: the attempt fails (502) though Stripe holds the money.
/// Stripe's webhook then reports the hold; it is an orphan and is voided.
#[actix_web::test]
async fn an_orphan_hold_reported_by_webhook_is_voided() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("or-owner@example.my", "owner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    stripe.lose_answers("create", app.settings.payments.request_attempts as usize);

    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    assert_eq!(resp.status, 502, "{}", resp.text);
    let failed = payment_of(&app, &owner, &booking).await;
    assert_eq!(failed["escrow_status"], "failed");
    assert_eq!(failed["stripe_payment_id"], "");
    let orphan = stripe.intents().pop().unwrap();
    assert_eq!(orphan["status"], "requires_capture");
    assert_eq!(orphan["metadata"]["payment_id"], failed["id"]);

    let payload = stripe.event("payment_intent.amount_capturable_updated", orphan.clone());
    let resp = webhook(&app, &payload, &StripeMock::sign(&payload, WEBHOOK_SECRET, None)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let pi = orphan["id"].as_str().unwrap();
    for _ in 0..100 {
        if stripe.intent(pi)["status"] == "canceled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stripe.intent(pi)["status"], "canceled", "nobody will capture it: the hold is released");
    let still = payment_of(&app, &owner, &booking).await;
    assert_eq!(still["escrow_status"], "failed", "a failed attempt stays failed; the owner may pay again");
    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
}

#[actix_web::test]
async fn stripe_down_is_502_never_500_and_the_attempt_may_be_retried() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("dn-owner@example.my", "owner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    stripe.fail("create", 500, 3);

    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    assert_eq!(resp.status, 502, "{}", resp.text);
    assert_eq!(resp.body["error"], "payment provider unavailable, please retry");
    let failed = payment_of(&app, &owner, &booking).await;
    assert_eq!(failed["escrow_status"], "failed");
    assert_eq!(failed["failure_reason"], "payment provider unavailable");

    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    assert_eq!(resp.body["data"]["escrow_status"], "held");
}

#[actix_web::test]
async fn cancel_while_held_cancels_the_intent_and_refunds() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("c-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "c-runner@example.my", dog_crate(), PICKUP).await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    let pi = resp.body["data"]["stripe_payment_id"].as_str().unwrap().to_owned();
    post_ok(&app, &format!("/api/v1/bookings/{booking}/accept"), &runner).await;

    let resp = app
        .post(&format!("/api/v1/bookings/{booking}/cancel"), Some(&owner.access), &json!({"reason": "vet visit"}))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let refunded = wait_for(&app, &owner, &booking, "refunded").await;
    assert_eq!(refunded["refund_reason"], "booking cancelled: vet visit");
    assert!(refunded["refunded_at"].is_string());
    assert_eq!(stripe.intent(&pi)["status"], "canceled", "the uncaptured hold is released, not captured");
    assert!(stripe.requests("capture").is_empty());
    assert!(stripe.requests("refund").is_empty(), "nothing was captured, so nothing to refund");
    // the runner (a participant) sees the same
    assert_eq!(payment_of(&app, &runner, &booking).await["escrow_status"], "refunded");
}

#[actix_web::test]
async fn cancel_before_the_hold_completes_voids_the_intent() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("cp-owner@example.my", "owner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    let resp = initiate(&app, &owner, &booking, None).await;
    assert_eq!(resp.body["data"]["escrow_status"], "pending");
    let pi = resp.body["data"]["stripe_payment_id"].as_str().unwrap().to_owned();

    app.cancel(&owner, &booking).await;
    let failed = wait_for(&app, &owner, &booking, "failed").await;
    assert!(failed["failure_reason"].as_str().unwrap().starts_with("booking cancelled"), "{failed}");
    assert_eq!(stripe.intent(&pi)["status"], "canceled");
    // a booking that is cancelled cannot be paid again
    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    assert_eq!(resp.status, 422, "{}", resp.text);
}

#[actix_web::test]
async fn capture_failing_every_attempt_is_dead_lettered_then_admin_retry_releases() {
    let (app, stripe) = stripe_app().await;
    let admin = app.admin("dl-admin@example.my").await;
    let owner = app.register("dl-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "dl-runner@example.my", dog_crate(), PICKUP).await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    assert_eq!(initiate(&app, &owner, &booking, Some(GOOD_CARD)).await.status, 201);
    carry(&app, &runner, &booking).await;
    // every saga attempt (3) × every request attempt (3) fails
    let p = &app.settings.payments;
    let budget = (p.saga_attempts as u32 * p.request_attempts) as usize;
    stripe.fail("capture", 500, budget);
    post_ok(&app, &format!("/api/v1/bookings/{booking}/confirm"), &owner).await;

    let mut letters = Value::Null;
    for _ in 0..100 {
        let resp = app.get("/api/v1/admin/payments/dead-letters", Some(&admin.access)).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        if resp.body["pagination"]["total"] == 1 {
            letters = resp.body["data"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let letter = &letters[0];
    assert_eq!(letter["step"], "capture", "{letters}");
    assert_eq!(letter["attempts"], p.saga_attempts);
    assert!(letter["last_error"].as_str().unwrap().contains("unavailable"), "{letter}");
    assert_eq!(stripe.requests("capture").len(), budget);
    // the money is still held, not lost and not failed
    assert_eq!(payment_of(&app, &owner, &booking).await["escrow_status"], "held");

    let resp = app
        .post(&format!("/api/v1/admin/payments/dead-letters/{}/retry", letter["id"]), Some(&admin.access), &json!({}))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["data"]["escrow_status"], "released");
    assert_eq!(payment_of(&app, &owner, &booking).await["escrow_status"], "released");
    let resp = app.get("/api/v1/admin/payments/dead-letters", Some(&admin.access)).await;
    assert_eq!(resp.body["pagination"]["total"], 0);
    let again = app
        .post(&format!("/api/v1/admin/payments/dead-letters/{}/retry", letter["id"]), Some(&admin.access), &json!({}))
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    // owners and runners cannot see the dead letters
    assert_eq!(app.get("/api/v1/admin/payments/dead-letters", Some(&owner.access)).await.status, 403);
}

#[actix_web::test]
async fn webhook_needs_a_valid_signature_and_a_replay_is_processed_once() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("wh-owner@example.my", "owner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    let resp = initiate(&app, &owner, &booking, None).await;
    let pi = resp.body["data"]["stripe_payment_id"].as_str().unwrap().to_owned();
    let payload = stripe.event("payment_intent.amount_capturable_updated", stripe.confirm_in_app(&pi));

    for (why, signature) in [
        ("wrong secret", StripeMock::sign(&payload, "whsec_someone_else", None)),
        ("stale timestamp", StripeMock::sign(&payload, WEBHOOK_SECRET, Some(chrono::Utc::now().timestamp() - 3600))),
        ("garbage", "t=abc,v1=zz".to_owned()),
    ] {
        let resp = webhook(&app, &payload, &signature).await;
        assert_eq!(resp.status, 400, "{why}: {}", resp.text);
        assert_eq!(resp.body["success"], false);
    }
    let tampered = payload.replace("requires_capture", "succeeded");
    let resp = webhook(&app, &tampered, &StripeMock::sign(&payload, WEBHOOK_SECRET, None)).await;
    assert_eq!(resp.status, 400, "a signature over another body: {}", resp.text);
    let unsigned = app.post_raw("/api/v1/payments/webhook", "application/json", "{}").await;
    assert_eq!(unsigned.status, 400);
    assert_eq!(payment_of(&app, &owner, &booking).await["escrow_status"], "pending");

    let signature = StripeMock::sign(&payload, WEBHOOK_SECRET, None);
    let first = webhook(&app, &payload, &signature).await;
    assert_eq!(first.body["data"]["outcome"], "processed", "{}", first.text);
    let held = payment_of(&app, &owner, &booking).await;
    for _ in 0..2 {
        let replay = webhook(&app, &payload, &signature).await;
        assert_eq!(replay.status, 200, "Stripe must stop resending: {}", replay.text);
        assert_eq!(replay.body["data"]["outcome"], "duplicate");
    }
    let after = payment_of(&app, &owner, &booking).await;
    assert_eq!(after["version"], held["version"]);
    assert_eq!(after["escrow_held_at"], held["escrow_held_at"]);
    let held_events = count(&app, "SELECT count(*) AS n FROM outbox WHERE event_type = 'payment.escrow_held'").await;
    assert_eq!(held_events, 1);
    let notices = count(&app, "SELECT count(*) AS n FROM notifications WHERE event_type = 'payment.escrow_held'").await;
    assert_eq!(notices, 1);

    // an event type we do not act on is acknowledged, not an error
    let other = stripe.event("payment_intent.created", stripe.intent(&pi));
    let resp = webhook(&app, &other, &StripeMock::sign(&other, WEBHOOK_SECRET, None)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
}

#[actix_web::test]
async fn a_failed_confirmation_reported_by_webhook_fails_the_attempt() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("wf-owner@example.my", "owner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    let resp = initiate(&app, &owner, &booking, None).await;
    let pi = resp.body["data"]["stripe_payment_id"].as_str().unwrap().to_owned();
    let mut object = stripe.intent(&pi);
    object["last_payment_error"] =
        json!({"type": "card_error", "code": "card_declined", "message": "Insufficient funds."});
    let payload = stripe.event("payment_intent.payment_failed", object);
    let resp = webhook(&app, &payload, &StripeMock::sign(&payload, WEBHOOK_SECRET, None)).await;
    assert_eq!(resp.body["data"]["outcome"], "processed", "{}", resp.text);
    let failed = payment_of(&app, &owner, &booking).await;
    assert_eq!(failed["escrow_status"], "failed");
    assert_eq!(failed["failure_reason"], "Insufficient funds.");
    let events = count(&app, "SELECT count(*) AS n FROM outbox WHERE event_type = 'payment.failed'").await;
    assert_eq!(events, 1);
}

#[actix_web::test]
async fn initiate_checks_owner_amount_booking_and_duplicates() {
    let app = spawn_app().await;
    let owner = app.register("ck-owner@example.my", "owner").await;
    let other = app.register("ck-other@example.my", "owner").await;
    let runner = app.register("ck-runner@example.my", "runner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);

    let mut body = initiate_body(&booking, None);
    body["amount_cents"] = json!(100);
    let resp = app.post("/api/v1/payments/initiate", Some(&owner.access), &body).await;
    assert_eq!(resp.status, 400, "{}", resp.text);
    assert_eq!(resp.body["error"], "amount_cents does not match the booking price");

    let resp = initiate(&app, &other, &booking, None).await;
    assert_eq!(resp.status, 403, "{}", resp.text);
    assert_eq!(resp.body["error"], "booking does not belong to this user");

    let resp = initiate(&app, &runner, &booking, None).await;
    assert_eq!(resp.status, 403, "{}", resp.text);

    let resp = initiate(&app, &owner, "6f1c2b1e-0000-4000-8000-000000000000", None).await;
    assert_eq!(resp.status, 404, "{}", resp.text);
    assert_eq!(resp.body["error"], "Booking not found");

    for (field, value, message) in [
        ("currency", json!("USD"), "currency must be MYR"),
        ("customer_email", json!("not-an-email"), "customer_email must be a valid email"),
        ("booking_id", json!("nope"), "booking_id must be a valid UUID"),
        ("amount_cents", json!(-5), "amount_cents must be greater than 0"),
    ] {
        let mut body = initiate_body(&booking, None);
        body[field] = value;
        let resp = app.post("/api/v1/payments/initiate", Some(&owner.access), &body).await;
        assert_eq!(resp.status, 400, "{field}: {}", resp.text);
        assert_eq!(resp.body["error"], message);
    }
    assert_eq!(app.get(&format!("/api/v1/payments/booking/{booking}"), Some(&owner.access)).await.status, 404);

    // two initiates at once: one payment, one 409
    let barrier = Arc::new(Barrier::new(2));
    let (a, b) = tokio::join!(
        async {
            barrier.wait().await;
            initiate(&app, &owner, &booking, None).await.status
        },
        async {
            barrier.wait().await;
            initiate(&app, &owner, &booking, None).await.status
        }
    );
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    let p = payment_of(&app, &owner, &booking).await;
    // reading: participants and admins only
    let resp = app.get(&format!("/api/v1/payments/{}", p["id"].as_str().unwrap()), Some(&other.access)).await;
    assert_eq!(resp.status, 403, "{}", resp.text);
    let resp = app.get(&format!("/api/v1/payments/booking/{booking}"), Some(&other.access)).await;
    assert_eq!(resp.status, 403, "{}", resp.text);
    let resp = app.get(&format!("/api/v1/payments/{}", p["id"].as_str().unwrap()), Some(&owner.access)).await;
    assert_eq!(resp.status, 200);
    let resp = app.get("/api/v1/payments/6f1c2b1e-0000-4000-8000-000000000000", Some(&owner.access)).await;
    assert_eq!(resp.status, 404);
    assert_eq!(resp.body["error"], "Payment not found");
}

#[actix_web::test]
async fn admin_refund_of_a_held_payment_and_stats() {
    let (app, stripe) = stripe_app().await;
    let admin = app.admin("rf-admin@example.my").await;
    let owner = app.register("rf-owner@example.my", "owner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
    let payment = resp.body["data"]["id"].as_str().unwrap().to_owned();
    let pi = resp.body["data"]["stripe_payment_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/payments/{payment}/refund");

    assert_eq!(app.post(&path, Some(&owner.access), &json!({"reason": "mine"})).await.status, 403);
    let resp = app.post(&path, Some(&admin.access), &json!({})).await;
    assert_eq!(resp.status, 400, "{}", resp.text);
    assert_eq!(resp.body["error"], "reason is required");

    let resp = app.post(&path, Some(&admin.access), &json!({"reason": "duplicate booking"})).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(resp.body["data"]["escrow_status"], "refunded");
    assert_eq!(resp.body["data"]["refund_reason"], "duplicate booking");
    assert_eq!(stripe.intent(&pi)["status"], "canceled");
    let resp = app.post(&path, Some(&admin.access), &json!({"reason": "again"})).await;
    assert_eq!(resp.status, 422, "only a held payment: {}", resp.text);

    let stats = app.get("/api/v1/admin/stats/payments", Some(&admin.access)).await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.body["data"]["total_payments"], 1);
    assert_eq!(stats.body["data"]["by_status"]["refunded"], 1);
    assert_eq!(stats.body["data"]["by_status"]["held"], 0);
    assert_eq!(stats.body["data"]["total_revenue_cents"], 0);
    let list = app.get("/api/v1/admin/payments", Some(&admin.access)).await;
    assert_eq!(list.body["data"][0]["id"], payment.as_str());
}

#[actix_web::test]
async fn a_delivery_nobody_confirms_is_auto_confirmed_and_paid_out() {
    let app = spawn_app().await;
    let owner = app.register("ac-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "ac-runner@example.my", dog_crate(), PICKUP).await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    assert_eq!(initiate(&app, &owner, &booking, None).await.status, 201);
    carry(&app, &runner, &booking).await;
    // delivered just now: not yet
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(payment_of(&app, &owner, &booking).await["escrow_status"], "held");
    let hours = app.settings.payments.auto_confirm_hours + 1.0;
    app.sql(&format!(
        "UPDATE bookings SET delivered_at = now() - make_interval(hours => {hours}) WHERE id = '{booking}'"
    ))
    .await;
    wait_for(&app, &owner, &booking, "released").await;
    let b = app.booking(&owner, &booking).await;
    assert_eq!(b.body["data"]["status"], "completed");
    let history = app.get(&format!("/api/v1/bookings/{booking}/history"), Some(&owner.access)).await;
    let last = history.body["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to_status"], "completed");
    assert_eq!(last["reason"], "auto-confirmed after delivery");
}

/// Confirm (after a last-second delivery) races a cancel, repeatedly:
/// whichever wins, the booking and the money agree, here and at Stripe.
#[actix_web::test]
async fn confirm_racing_cancel_ends_with_booking_and_money_agreeing() {
    let (app, stripe) = stripe_app().await;
    let owner = app.register("race-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "race-runner@example.my", dog_crate(), PICKUP).await;
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let booking = id(&book(&app, &owner, &worked_example()).await);
        let resp = initiate(&app, &owner, &booking, Some(GOOD_CARD)).await;
        let pi = resp.body["data"]["stripe_payment_id"].as_str().unwrap().to_owned();
        post_ok(&app, &format!("/api/v1/bookings/{booking}/accept"), &runner).await;
        post_ok(&app, &format!("/api/v1/bookings/{booking}/pickup"), &runner).await;
        let barrier = Arc::new(Barrier::new(2));
        let (_, cancel) = tokio::join!(
            async {
                barrier.wait().await;
                let d = app.deliver(&runner, &booking).await;
                if d.status == 200 {
                    app.confirm(&owner, &booking).await;
                }
            },
            async {
                barrier.wait().await;
                app.post(&format!("/api/v1/bookings/{booking}/cancel"), Some(&owner.access), &json!({"reason": "race"}))
                    .await
                    .status
            }
        );
        assert!([200, 409, 422].contains(&cancel), "cancel answered {cancel}");
        let status = app.booking(&owner, &booking).await.body["data"]["status"].as_str().unwrap().to_owned();
        let (money, at_stripe) = match status.as_str() {
            "completed" => ("released", "succeeded"),
            "cancelled" => ("refunded", "canceled"),
            other => panic!("booking ended {other}"),
        };
        wait_for(&app, &owner, &booking, money).await;
        assert_eq!(stripe.intent(&pi)["status"], at_stripe, "{status}");
        outcomes.push(status);
    }
    // each booking has exactly one provider outcome: never both captured and cancelled
    let captures = stripe.requests("capture").len();
    let cancels = stripe.requests("cancel").len();
    assert_eq!(captures + cancels, 4, "{outcomes:?}");
}

#[actix_web::test]
async fn with_trigger_escrow_held_only_paid_bookings_are_offered() {
    let app = spawn_app_with(|s| {
        s.dispatch.enabled = true;
        s.dispatch.trigger = kilat::config::DispatchTrigger::EscrowHeld;
        s.dispatch.sweep_interval_ms = 100;
        s.dispatch.offer_timeout_ms = 10_000;
    })
    .await;
    let owner = app.register("tr-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "tr-runner@example.my", dog_crate(), PICKUP).await;
    let mut ws = app.ws(&format!("/ws?token={}", runner.access)).await;
    ws.next_of("hello").await;
    app.wait_numsub(&format!("user:{}", runner.user_id), 1).await;
    let booking = id(&book(&app, &owner, &worked_example()).await);

    let early = async {
        loop {
            let f = ws.next_within(1.0).await;
            match f {
                Some(f) if f["type"] == "offer" => return Some(f),
                Some(_) => continue,
                None => return None,
            }
        }
    };
    assert!(early.await.is_none(), "no offer before the money is held");

    assert_eq!(initiate(&app, &owner, &booking, None).await.status, 201);
    let offer = ws.next_of("offer").await;
    assert_eq!(offer["booking_id"], booking.as_str());
}

/// Paying while the dispatcher records its offers on the same booking: the
/// two take the booking's locks in the same order, so neither deadlocks
/// (the simulator found a 500 "deadlock detected" here).
#[actix_web::test]
async fn paying_while_the_dispatcher_offers_never_deadlocks() {
    let app = spawn_app_with(|s| {
        s.dispatch.enabled = true;
        s.dispatch.offer_timeout_ms = 10_000;
    })
    .await;
    let owner = app.register("dd-owner@example.my", "owner").await;
    let mut runners = Vec::new();
    for i in 0..6 {
        let r = ready_runner(&app, &format!("dd-runner-{i}@example.my"), dog_crate(), PICKUP).await;
        let mut ws = app.ws(&format!("/ws?token={}", r.access)).await;
        ws.next_of("hello").await;
        runners.push(ws);
    }
    let pays = (0..12).map(|_| async {
        let booking = id(&book(&app, &owner, &worked_example()).await);
        initiate(&app, &owner, &booking, None).await.status
    });
    let statuses = futures_util::future::join_all(pays).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
}
