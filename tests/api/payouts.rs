//! Runners' money: the balance is what their completed trips paid, in the
//! ledger; cash-outs never overdraw, go through the rail with retries under
//! one idempotency key, come back when refused; the ledger reconciles.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::{PICKUP, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{Session, TestApp, spawn_app};
use crate::payments::{carry, initiate, stripe_app, wait_for};
use crate::stripe_mock::{CLOSED_ACCOUNT, GOOD_CARD};

/// A worked-example trip paid in full to `runner` (2516 sen after the 444 fee).
async fn paid_trip(app: &TestApp, owner: &Session, runner: &Session, card: Option<&str>) -> String {
    let booking = id(&book(app, owner, &worked_example()).await);
    let resp = initiate(app, owner, &booking, card).await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    wait_for(app, owner, &booking, "held").await;
    carry(app, runner, &booking).await;
    assert_eq!(app.confirm(owner, &booking).await.status, 200);
    wait_for(app, owner, &booking, "released").await;
    booking
}

async fn balance(app: &TestApp, runner: &Session) -> (i64, i64, i64) {
    let resp = app.get("/api/v1/payouts/balance", Some(&runner.access)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let d = &resp.body["data"];
    assert_eq!(d["currency"], "MYR");
    (
        d["available_cents"].as_i64().unwrap(),
        d["pending_cents"].as_i64().unwrap(),
        d["paid_out_cents"].as_i64().unwrap(),
    )
}

async fn destination(app: &TestApp, runner: &Session, rail_account: Option<&str>) -> String {
    let resp = app
        .post(
            "/api/v1/payouts/destinations",
            Some(&runner.access),
            &json!({"bank_name": "Maybank", "account_holder": "Hafiz Ismail", "account_number": "1140 2233 6789",
                    "rail_account": rail_account}),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text);
    assert_eq!(resp.body["data"]["account_masked"], "•••• 6789");
    assert!(!resp.text.contains("114022336789"), "the full number is never echoed");
    resp.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn cash_out(app: &TestApp, runner: &Session, amount: i64, destination: &str) -> crate::helpers::TestResponse {
    app.post(
        "/api/v1/payouts/cash-out",
        Some(&runner.access),
        &json!({"amountMyrCents": amount, "destinationId": destination}),
    )
    .await
}

/// The runner's cash-out `id` once it reached `status`.
async fn cash_out_in(app: &TestApp, runner: &Session, id: &str, status: &str) -> Value {
    for _ in 0..100 {
        let list = app.get("/api/v1/payouts/cash-outs?limit=100", Some(&runner.access)).await;
        if let Some(c) = list.body["data"].as_array().unwrap().iter().find(|c| c["id"] == id)
            && c["status"] == status
        {
            return c.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cash-out {id} never became {status}");
}

pub async fn ledger(app: &TestApp, admin: &Session) -> Value {
    let resp = app.get("/api/v1/admin/ledger/check", Some(&admin.access)).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.body["data"].clone()
}

pub fn account(check: &Value, code: &str) -> i64 {
    check["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == code)
        .map(|a| a["balance_cents"].as_i64().unwrap())
        .unwrap_or(0)
}

#[actix_web::test]
async fn a_runners_balance_is_what_their_trips_paid_and_a_cash_out_reaches_the_bank() {
    let app = spawn_app().await;
    let admin = app.admin("po-admin@example.my").await;
    let owner = app.register("po-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "po-runner@example.my", dog_crate(), PICKUP).await;
    let other = ready_runner(&app, "po-other@example.my", dog_crate(), PICKUP).await;
    assert_eq!(balance(&app, &runner).await, (0, 0, 0));
    paid_trip(&app, &owner, &runner, None).await;
    assert_eq!(balance(&app, &runner).await, (2516, 0, 0), "the trip's payout, after the 15 % fee");

    let mine = destination(&app, &runner, None).await;
    let theirs = destination(&app, &other, None).await;
    let list = app.get("/api/v1/payouts/destinations", Some(&runner.access)).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1, "only the runner's own");

    let too_much = cash_out(&app, &runner, 2500, &mine).await;
    assert_eq!(too_much.status, 400, "2500 + 50 fee > 2516: {}", too_much.text);
    assert_eq!(too_much.body["error"], "amount exceeds available balance");
    let not_mine = cash_out(&app, &runner, 100, &theirs).await;
    assert_eq!((not_mine.status, &not_mine.body), (403, &json!({"error": "destination does not belong to runner"})));
    let zero = cash_out(&app, &runner, 0, &mine).await;
    assert_eq!(zero.status, 400);
    let by_owner = app.post("/api/v1/payouts/cash-out", Some(&owner.access), &json!({"amountMyrCents": 1})).await;
    assert_eq!(by_owner.status, 403);

    // everything: 2466 + the 50 sen fee
    let accepted = cash_out(&app, &runner, 2466, &mine).await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    assert_eq!(accepted.body["etaMinutes"], 0, "test config: no rail delay");
    assert!(accepted.body.get("success").is_none(), "raw, as the apps expect");
    let cid = accepted.body["cashOutId"].as_str().unwrap().to_owned();
    let paid = cash_out_in(&app, &runner, &cid, "completed").await;
    assert_eq!(paid["rail_reference"], format!("DN-{cid}"));
    assert_eq!(paid["fee_cents"], 50);
    assert_eq!(balance(&app, &runner).await, (0, 0, 2466));
    let inbox = app.get("/api/v1/notifications?page=1", Some(&runner.access)).await;
    assert!(inbox.text.contains("Cash-out Paid"), "{}", inbox.text);

    // every sen accounted for: owner paid 2960 = runner 2466 to the bank + fees 444 + 50
    let check = ledger(&app, &admin).await;
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["total_cents"], 0);
    assert_eq!(account(&check, &format!("owner:{}:funding", owner.user_id)), -2960);
    assert_eq!(account(&check, "escrow"), 0);
    assert_eq!(account(&check, "platform:fees"), 494);
    assert_eq!(account(&check, &format!("runner:{}:paid_out", runner.user_id)), 2466);
}

#[actix_web::test]
async fn concurrent_cash_outs_never_overdraw() {
    let app = spawn_app().await;
    let owner = app.register("pc-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "pc-runner@example.my", dog_crate(), PICKUP).await;
    paid_trip(&app, &owner, &runner, None).await;
    let dest = destination(&app, &runner, None).await;
    // ten at once of 500 (550 with the fee) against 2516: four fit
    let asks = futures_util::future::join_all((0..10).map(|_| cash_out(&app, &runner, 500, &dest))).await;
    let statuses: Vec<u16> = asks.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 4, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 6, "{statuses:?}");
    let (available, pending, paid) = balance(&app, &runner).await;
    assert_eq!(available, 2516 - 4 * 550, "never below zero");
    assert_eq!(pending + paid, 2000);
}

#[actix_web::test]
async fn a_refused_transfer_gives_the_money_back_and_a_rail_outage_is_dead_lettered_then_retried() {
    let (app, stripe) = stripe_app().await;
    let admin = app.admin("ps-admin@example.my").await;
    let owner = app.register("ps-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "ps-runner@example.my", dog_crate(), PICKUP).await;
    paid_trip(&app, &owner, &runner, Some(GOOD_CARD)).await;
    assert_eq!(balance(&app, &runner).await, (2516, 0, 0));

    // On Stripe a destination is a connected account.
    let needs = app
        .post(
            "/api/v1/payouts/destinations",
            Some(&runner.access),
            &json!({"bank_name": "Maybank", "account_holder": "Hafiz", "account_number": "12345678"}),
        )
        .await;
    assert_eq!(needs.status, 400, "{}", needs.text);

    // A closed account: Stripe refuses, the runner gets amount and fee back.
    let closed = destination(&app, &runner, Some(CLOSED_ACCOUNT)).await;
    let cid = cash_out(&app, &runner, 1000, &closed).await.body["cashOutId"].as_str().unwrap().to_owned();
    let failed = cash_out_in(&app, &runner, &cid, "failed").await;
    assert_eq!(failed["failure_reason"], "The destination account is closed.");
    assert_eq!(balance(&app, &runner).await, (2516, 0, 0), "refunded with its fee");
    let inbox = app.get("/api/v1/notifications?page=1", Some(&runner.access)).await;
    assert!(inbox.text.contains("Cash-out Failed"), "{}", inbox.text);

    // Stripe down for every attempt (3 attempts × 3 requests each): dead-lettered,
    // the money stays in flight (the transfer might have happened).
    let good = destination(&app, &runner, Some("acct_1RunnerKilat")).await;
    stripe.fail("transfer", 503, 9);
    let cid = cash_out(&app, &runner, 2000, &good).await.body["cashOutId"].as_str().unwrap().to_owned();
    let mut dead = Value::Null;
    for _ in 0..100 {
        let list = app.get("/api/v1/admin/payouts/dead-letters", Some(&admin.access)).await;
        if let Some(d) = list.body["data"].as_array().unwrap().iter().find(|c| c["id"] == cid.as_str()) {
            dead = d.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead["status"], "processing", "dead-lettered: {dead}");
    assert!(dead["last_error"].as_str().unwrap().contains("503"), "{dead}");
    assert_eq!(balance(&app, &runner).await, (2516 - 2050, 2000, 0));
    assert_eq!(ledger(&app, &admin).await["ok"], true);

    // An admin retries once Stripe is back: paid once, under one key.
    let retry =
        app.post(&format!("/api/v1/admin/payouts/dead-letters/{cid}/retry"), Some(&admin.access), &json!({})).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    let paid = cash_out_in(&app, &runner, &cid, "completed").await;
    assert!(paid["rail_reference"].as_str().unwrap().starts_with("tr_mock"), "{paid}");
    assert_eq!(balance(&app, &runner).await, (466, 0, 2000));
    let transfers = stripe.transfers();
    assert_eq!(transfers.len(), 1, "one transfer: {transfers:?}");
    assert_eq!(transfers[0].1, "acct_1RunnerKilat");
    let keys: std::collections::HashSet<Option<String>> = stripe
        .requests("transfer")
        .into_iter()
        .filter(|r| r.form.get("destination").map(String::as_str) == Some("acct_1RunnerKilat"))
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 1, "every attempt under one idempotency key: {keys:?}");
    assert_eq!(ledger(&app, &admin).await["ok"], true);
}

#[actix_web::test]
async fn the_ledger_follows_a_refund_and_reports_an_unbalanced_entry() {
    let app = spawn_app().await;
    let admin = app.admin("pl-admin@example.my").await;
    let owner = app.register("pl-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "pl-runner@example.my", dog_crate(), PICKUP).await;
    paid_trip(&app, &owner, &runner, None).await;
    // a second booking paid, then cancelled: its money goes back
    let refunded = id(&book(&app, &owner, &worked_example()).await);
    assert_eq!(initiate(&app, &owner, &refunded, None).await.status, 201);
    wait_for(&app, &owner, &refunded, "held").await;
    let held = ledger(&app, &admin).await;
    assert_eq!((account(&held, "escrow"), held["held_payments_cents"].as_i64()), (2960, Some(2960)));
    assert_eq!(app.cancel(&owner, &refunded).await.status, 200);
    wait_for(&app, &owner, &refunded, "refunded").await;

    let check = ledger(&app, &admin).await;
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(account(&check, "escrow"), 0);
    assert_eq!(account(&check, &format!("owner:{}:funding", owner.user_id)), -2960, "the refund came back");
    assert_eq!(account(&check, &format!("runner:{}:available", runner.user_id)), 2516);

    // A deliberately broken transaction is found...
    app.sql("INSERT INTO ledger_transactions (id, kind) VALUES ('00000000-0000-0000-0000-00000000beef', 'broken')")
        .await;
    app.sql(
        "INSERT INTO ledger_entries (transaction_id, account, amount_cents) \
             VALUES ('00000000-0000-0000-0000-00000000beef', 'platform:fees', 1)",
    )
    .await;
    let broken = ledger(&app, &admin).await;
    assert_eq!(broken["ok"], false);
    assert_eq!(broken["unbalanced_transactions"], json!(["00000000-0000-0000-0000-00000000beef"]));
    assert_eq!(broken["total_cents"], 1);
    // ...and the test puts it right again (teardown checks the ledger too)
    app.sql("DELETE FROM ledger_entries WHERE transaction_id = '00000000-0000-0000-0000-00000000beef'").await;
    app.sql("DELETE FROM ledger_transactions WHERE id = '00000000-0000-0000-0000-00000000beef'").await;
    assert_eq!(ledger(&app, &admin).await["ok"], true);
    assert_eq!(app.get("/api/v1/admin/ledger/check", Some(&owner.access)).await.status, 403);
}
