//! Sessions reaching live sockets: a ban, a logout or "sign out everywhere"
//! closes the user's sockets on every node (1008), other devices stay, and
//! a socket that missed the push still cannot act.

use serde_json::json;

use crate::fixtures::{PICKUP, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{Session, TestApp, WsClient, session, spawn_app, spawn_peer};

const POLICY: u16 = 1008;

async fn app_socket(app: &TestApp, s: &Session) -> WsClient {
    let mut ws = app.ws(&format!("/ws?token={}", s.access)).await;
    ws.next_of("hello").await;
    ws
}

fn close_code(reason: Option<Option<awc::ws::CloseReason>>) -> Option<u16> {
    reason.flatten().map(|r| u16::from(r.code))
}

#[actix_web::test]
async fn a_ban_closes_the_runners_sockets_on_every_node_and_stops_its_offers() {
    let node_a = spawn_app().await;
    let node_b = spawn_peer(&node_a).await;
    let admin = node_a.admin("ban-admin@example.my").await;
    let owner = node_a.register("ban-owner@example.my", "owner").await;
    let runner = ready_runner(&node_a, "ban-runner@example.my", dog_crate(), PICKUP).await;
    let booking = book(&node_a, &owner, &worked_example()).await;
    let bid = id(&booking);

    // The runner holds /ws on node B and a tracking feed on node A.
    let mut ws = app_socket(&node_b, &runner).await;
    let mut feed = node_a.ws(&format!("/ws/tracking/{bid}?token={}", owner.access)).await;
    node_a.wait_numsub(&format!("user:{}", runner.user_id), 1).await;

    let resp = node_a.ban(&admin, &runner.user_id).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(close_code(ws.closed_within(5.0).await), Some(POLICY), "the banned runner's socket is closed");
    // The owner's feed is not the banned user's: it stays open.
    assert_eq!(feed.closed_within(0.3).await, None);

    // A banned runner cannot take the booking any way.
    let accept = node_a.accept(&runner, &bid).await;
    assert_eq!(accept.status, 401);
    let status = node_a.scalar("SELECT count(*) FROM runners WHERE session_status = 'active'").await;
    assert_eq!(status, 0, "a banned runner is offline (no offers, no pool)");
}

#[actix_web::test]
async fn logout_closes_only_that_sessions_sockets() {
    let node_a = spawn_app().await;
    let node_b = spawn_peer(&node_a).await;
    let web = node_a.register("logout-ws@example.my", "owner").await;
    let phone = session(&node_a.login("logout-ws@example.my", "correct-horse").await.body);
    let booking = book(&node_a, &web, &worked_example()).await;
    let bid = id(&booking);

    let mut web_socket = app_socket(&node_b, &web).await;
    let mut web_feed = node_b.ws(&format!("/ws/tracking/{bid}?token={}", web.access)).await;
    let mut phone_socket = app_socket(&node_a, &phone).await;
    node_a.wait_numsub(&format!("user:{}", web.user_id), 2).await;

    let resp = node_a.post("/api/v1/auth/logout", Some(&web.access), &json!({})).await;
    assert_eq!(resp.status, 200);
    assert_eq!(close_code(web_socket.closed_within(5.0).await), Some(POLICY));
    assert_eq!(close_code(web_feed.closed_within(5.0).await), Some(POLICY));
    // The phone's socket lives on and still answers.
    phone_socket.send(&json!({"type": "ping"})).await;
    assert_eq!(phone_socket.next_of("pong").await["type"], "pong");

    // Sign out everywhere reaches the phone too.
    let resp = node_b.post("/api/v1/auth/logout-all", Some(&phone.access), &json!({})).await;
    assert_eq!(resp.status, 200);
    assert_eq!(close_code(phone_socket.closed_within(5.0).await), Some(POLICY));
}

#[actix_web::test]
async fn a_socket_that_missed_the_ban_cannot_accept_an_offer() {
    let app = spawn_app().await;
    let owner = app.register("missed-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "missed-runner@example.my", dog_crate(), PICKUP).await;
    let booking = book(&app, &owner, &worked_example()).await;
    let bid = id(&booking);
    let mut ws = app_socket(&app, &runner).await;

    // Banned behind the service's back: no push reaches the socket.
    app.sql(&format!(
        "UPDATE users SET is_banned = true, token_version = token_version + 1 WHERE id = '{}'",
        runner.user_id
    ))
    .await;
    ws.send(&json!({"type": "offer.accept", "booking_id": bid})).await;
    let frame = ws.next_of("error").await;
    assert_eq!(frame["code"], "session_ended", "{frame}");
    assert_eq!(close_code(ws.closed_within(5.0).await), Some(POLICY));
    let assigned =
        app.scalar(&format!("SELECT count(*) FROM bookings WHERE id = '{bid}' AND runner_id IS NOT NULL")).await;
    assert_eq!(assigned, 0, "the booking was not given to a banned runner");
}

#[actix_web::test]
async fn a_socket_rechecks_its_standing_on_its_heartbeat() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.realtime.ws_standing_check_secs = 1;
        s.realtime.ws_heartbeat_secs = 1;
    })
    .await;
    let owner = app.register("recheck-owner@example.my", "owner").await;
    let mut ws = app_socket(&app, &owner).await;
    // The session is ended in the database only (the push was lost).
    app.sql(&format!("UPDATE auth_sessions SET ended_at = now() WHERE user_id = '{}'", owner.user_id)).await;
    // The heartbeat (1 s in this test) re-reads the standing and closes it.
    let closed = ws.closed_within(10.0).await;
    assert_eq!(close_code(closed), Some(POLICY));
}
