//! Promos, subscriptions and referrals change what owners pay, and every
//! discount is accounted for in the ledger (the platform pays it; the
//! runner's payout stays the booking's).

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::fixtures::{PICKUP, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{Session, TestApp, spawn_app, spawn_app_with};
use crate::payments::{carry, initiate, wait_for};
use crate::payouts::{account, ledger};

fn ts(hours: i64) -> String {
    (Utc::now() + Duration::hours(hours)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn promo(app: &TestApp, admin: &Session, body: Value) -> crate::helpers::TestResponse {
    app.post("/api/v1/promos", Some(&admin.access), &body).await
}

async fn pay_with(app: &TestApp, owner: &Session, booking: &str, code: Option<&str>) -> crate::helpers::TestResponse {
    let mut body = json!({"booking_id": booking, "amount_cents": 2960, "currency": "MYR",
                          "customer_email": "payer@example.my"});
    if let Some(code) = code {
        body["promo_code"] = json!(code);
    }
    app.post("/api/v1/payments/initiate", Some(&owner.access), &body).await
}

async fn ledger_ok(app: &TestApp, admin: &Session) -> Value {
    let check = ledger(app, admin).await;
    assert_eq!(check["ok"], true, "{check}");
    check
}

#[actix_web::test]
async fn a_promo_is_validated_applied_to_the_hold_and_given_back_on_refund() {
    let app = spawn_app().await;
    let admin = app.admin("pr-admin@example.my").await;
    let owner = app.register("pr-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "pr-runner@example.my", dog_crate(), PICKUP).await;

    let created = promo(
        &app,
        &admin,
        json!({"code": " kilat10 ", "discount_type": "percentage", "discount_value": 10,
        "max_discount_cents": 250, "min_amount_cents": 1000, "max_uses": 5,
        "valid_from": ts(-1), "valid_until": ts(24)}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["data"]["code"], "KILAT10");
    assert_eq!(created.body["data"]["current_uses"], 0);
    let bad = promo(
        &app,
        &admin,
        json!({"code": "X", "discount_type": "percentage", "discount_value": 150,
        "valid_from": ts(-1), "valid_until": ts(1)}),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(promo(&app, &owner, json!({"code": "Y"})).await.status, 403);
    let dup = promo(
        &app,
        &admin,
        json!({"code": "KILAT10", "discount_type": "fixed", "discount_value": 100,
        "valid_from": ts(-1), "valid_until": ts(1)}),
    )
    .await;
    assert_eq!(dup.status, 409);

    let validate = |code: &str, amount: i64| {
        let body = json!({"code": code, "amount_cents": amount});
        let (app, token) = (&app, owner.access.clone());
        async move { app.post("/api/v1/promos/validate", Some(&token), &body).await }
    };
    let ok = validate("kilat10", 2960).await;
    assert_eq!(ok.body["data"], json!({"valid": true, "code": "KILAT10", "discount_cents": 250, "message": ""}));
    let small = validate("KILAT10", 500).await;
    assert_eq!(small.body["data"]["message"], "minimum amount of 1000 cents required");
    let none = validate("NOPE", 2960).await;
    assert_eq!((none.status, none.body["data"]["valid"].clone()), (200, json!(false)));
    assert_eq!(none.body["data"]["message"], "promo code not found");

    // Applied: the hold is the price less 250 (10 %, capped); the runner's payout is the booking's.
    let first = id(&book(&app, &owner, &worked_example()).await);
    let paid = pay_with(&app, &owner, &first, Some("Kilat10")).await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let p = &paid.body["data"];
    assert_eq!((p["amount_cents"].as_i64(), p["discount_cents"].as_i64()), (Some(2710), Some(250)));
    assert_eq!((p["runner_payout_cents"].as_i64(), p["promo_code"].as_str()), (Some(2516), Some("KILAT10")));
    let used = validate("KILAT10", 2960).await;
    assert_eq!(used.body["data"]["message"], "you have already used this promo code");
    let second = id(&book(&app, &owner, &worked_example()).await);
    let again = pay_with(&app, &owner, &second, Some("KILAT10")).await;
    assert_eq!((again.status, again.body["error"].as_str()), (400, Some("you have already used this promo code")));
    let uses = app.get("/api/v1/admin/promos", Some(&admin.access)).await;
    assert_eq!(uses.body["data"][0]["current_uses"], 1);

    // Refunded: the use comes back, and so does every sen.
    assert_eq!(app.cancel(&owner, &first).await.status, 200);
    wait_for(&app, &owner, &first, "refunded").await;
    let uses = app.get("/api/v1/promos/active", Some(&owner.access)).await;
    assert_eq!(uses.body["data"][0]["current_uses"], 0, "the refund gave the use back");
    let check = ledger_ok(&app, &admin).await;
    assert_eq!(account(&check, "platform:marketing"), 0);
    assert_eq!(account(&check, &format!("owner:{}:funding", owner.user_id)), 0);

    // Used again on a trip that completes: the platform pays the 250.
    let paid = pay_with(&app, &owner, &second, Some("KILAT10")).await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    carry(&app, &runner, &second).await;
    assert_eq!(app.confirm(&owner, &second).await.status, 200);
    wait_for(&app, &owner, &second, "released").await;
    let check = ledger_ok(&app, &admin).await;
    assert_eq!(account(&check, "platform:marketing"), -250);
    assert_eq!(account(&check, &format!("owner:{}:funding", owner.user_id)), -2710);
    assert_eq!(account(&check, &format!("runner:{}:available", runner.user_id)), 2516);
    assert_eq!(account(&check, "platform:fees"), 444);
}

#[actix_web::test]
async fn a_promos_uses_never_pass_max_uses_under_concurrency() {
    let app = spawn_app_with(|s| s.rate_limit.auth_per_minute = 1000).await;
    let admin = app.admin("pm-admin@example.my").await;
    let created = promo(
        &app,
        &admin,
        json!({"code": "FIRST3", "discount_type": "fixed", "discount_value": 300,
        "max_uses": 3, "valid_from": ts(-1), "valid_until": ts(1)}),
    )
    .await;
    assert_eq!(created.status, 201);
    // 8 owners, each with a booking, pay with the code at once
    let mut owners = Vec::new();
    for i in 0..8 {
        let owner = app.register(&format!("pm-owner{i}@example.my"), "owner").await;
        let booking = id(&book(&app, &owner, &worked_example()).await);
        owners.push((owner, booking));
    }
    let answers =
        futures_util::future::join_all(owners.iter().map(|(o, b)| pay_with(&app, o, b, Some("FIRST3")))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
    for refused in answers.iter().filter(|r| r.status != 201) {
        assert_eq!(refused.status, 400);
        assert_eq!(refused.body["error"], "promo code is expired or fully used");
    }
    let list = app.get("/api/v1/admin/promos", Some(&admin.access)).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 0, "used up: no longer active");
    assert_eq!(app.scalar("SELECT current_uses::bigint FROM promos WHERE code = 'FIRST3'").await, 3);
    ledger_ok(&app, &admin).await;
}

#[actix_web::test]
async fn a_subscription_is_charged_at_once_and_discounts_quote_create_and_hold() {
    let app = spawn_app().await;
    let admin = app.admin("su-admin@example.my").await;
    let owner = app.register("su-owner@example.my", "owner").await;
    let plans = app.get("/api/v1/subscriptions/plans", None).await;
    assert_eq!(plans.body["data"][1]["plan"], "premium");
    assert_eq!(plans.body["data"][1]["discount_percent"], 15);
    assert_eq!(app.get("/api/v1/subscriptions/me", Some(&owner.access)).await.status, 404);
    let bad = app.post("/api/v1/subscriptions", Some(&owner.access), &json!({"plan": "gold"})).await;
    assert_eq!(bad.status, 400);

    let sub = app.post("/api/v1/subscriptions", Some(&owner.access), &json!({"plan": "premium"})).await;
    assert_eq!(sub.status, 201, "{}", sub.text);
    assert_eq!(
        (sub.body["data"]["status"].as_str(), sub.body["data"]["price_cents"].as_i64()),
        (Some("active"), Some(4990))
    );
    let twice = app.post("/api/v1/subscriptions", Some(&owner.access), &json!({"plan": "basic"})).await;
    assert_eq!((twice.status, twice.body["error"].as_str()), (409, Some("subscription already active")));

    // quote and create show the discount; the hold takes it off
    let quote = app.post("/api/v1/bookings/quote", Some(&owner.access), &worked_example()).await;
    assert_eq!(
        (quote.body["data"]["estimated_price_cents"].as_i64(), quote.body["data"]["discount_cents"].as_i64()),
        (Some(2960), Some(444))
    );
    assert_eq!(quote.body["data"]["discount_reason"], "premium subscription: 15% off");
    let created = app.create_booking(&owner, &worked_example()).await;
    assert_eq!(created.body["data"]["discount_cents"], 444);
    let booking = id(&created.body["data"]);
    let paid = initiate(&app, &owner, &booking, None).await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(
        (paid.body["data"]["amount_cents"].as_i64(), paid.body["data"]["discount_cents"].as_i64()),
        (Some(2516), Some(444))
    );

    // cancelled: no renewal, still in force
    let cancelled = app.post("/api/v1/subscriptions/me/cancel", Some(&owner.access), &json!({})).await;
    assert_eq!(cancelled.status, 200);
    assert_eq!(
        (cancelled.body["data"]["status"].as_str(), cancelled.body["data"]["auto_renew"].as_bool()),
        (Some("cancelled"), Some(false))
    );
    let still = app.post("/api/v1/bookings/quote", Some(&owner.access), &worked_example()).await;
    assert_eq!(still.body["data"]["discount_cents"], 444, "in force until expires_at");
    let check = ledger_ok(&app, &admin).await;
    assert_eq!(account(&check, "platform:subscriptions"), 4990);
    assert_eq!(account(&check, "platform:marketing"), -444);
    assert_eq!(account(&check, "escrow"), 2960, "the whole price is held");
}

#[actix_web::test]
async fn a_referral_pays_both_once_and_the_credit_is_spent_on_the_next_payment() {
    let app = spawn_app().await;
    let admin = app.admin("rf-admin@example.my").await;
    let friend = app.register("rf-friend@example.my", "owner").await;
    let runner = ready_runner(&app, "rf-runner@example.my", dog_crate(), PICKUP).await;
    let code = app.get("/api/v1/referrals/code", Some(&friend.access)).await.body["data"]["referral_code"].clone();
    let code = code.as_str().unwrap().to_owned();
    assert!(code.starts_with("REF-") && code.len() == 12, "{code}");

    let signup = |email: &str, code: &str| json!({"email": email, "password": "correct-horse", "full_name": "New Owner", "role": "owner", "referral_code": code});
    let unknown = app.post("/api/v1/auth/register", None, &signup("rf-x@example.my", "REF-00000000")).await;
    assert_eq!((unknown.status, unknown.body["error"].as_str()), (400, Some("referral code not found")));
    let joined = app.post("/api/v1/auth/register", None, &signup("rf-new@example.my", &code.to_lowercase())).await;
    assert_eq!(joined.status, 201, "{}", joined.text);
    let newcomer = app.login("rf-new@example.my", "correct-horse").await;
    let newcomer = crate::helpers::session(&newcomer.body);
    let mine = app.get("/api/v1/referrals/me", Some(&friend.access)).await;
    assert_eq!(mine.body["data"]["total_referrals"], 1);
    assert_eq!(mine.body["data"]["referrals"][0]["referrer_credited"], false);

    // The newcomer's first trip completes: 500 sen each, once; the
    // newcomer's second payment spends theirs by itself.
    for round in 0..2 {
        let b = id(&book(&app, &newcomer, &worked_example()).await);
        let paid = initiate(&app, &newcomer, &b, None).await;
        assert_eq!(paid.status, 201);
        assert_eq!(paid.body["data"]["credit_cents"], if round == 0 { 0 } else { 500 }, "round {round}");
        carry(&app, &runner, &b).await;
        assert_eq!(app.confirm(&newcomer, &b).await.status, 200);
        wait_for(&app, &newcomer, &b, "released").await;
        let check = ledger_ok(&app, &admin).await;
        assert_eq!(account(&check, &format!("owner:{}:credit", friend.user_id)), 500, "paid once (round {round})");
        let newcomers = account(&check, &format!("owner:{}:credit", newcomer.user_id));
        assert_eq!(newcomers, if round == 0 { 500 } else { 0 }, "round {round}");
    }
    let mine = app.get("/api/v1/referrals/me", Some(&friend.access)).await;
    assert_eq!(mine.body["data"]["referrals"][0]["referrer_credited"], true);
    let inbox = app.get("/api/v1/notifications?page=1", Some(&friend.access)).await;
    assert!(inbox.text.contains("Referral Reward"), "{}", inbox.text);

    // The friend's next payment spends the credit by itself.
    let b = id(&book(&app, &friend, &worked_example()).await);
    let paid = initiate(&app, &friend, &b, None).await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(
        (paid.body["data"]["amount_cents"].as_i64(), paid.body["data"]["credit_cents"].as_i64()),
        (Some(2460), Some(500))
    );
    let check = ledger_ok(&app, &admin).await;
    assert_eq!(account(&check, &format!("owner:{}:credit", friend.user_id)), 0, "spent");
    assert_eq!(account(&check, "platform:marketing"), -1000, "two rewards of 500, nothing more");
}
