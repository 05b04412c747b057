//! Live tracking over real sockets, real Redis and real PostGIS: the apps'
//! tracking feed, the persistent `/ws` session, two nodes, replay, cleanup.

use std::time::Duration;

use kilat::actors::messages::{Flush, GetRegistryStats};
use serde_json::{Value, json};

use crate::fixtures::{PICKUP, accepted_trip, book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{Session, TestApp, spawn_app, spawn_peer};

async fn ping(app: &TestApp, runner: &Session, lat: f64, lng: f64, speed: f64) {
    let body = json!({"latitude": lat, "longitude": lng, "speed_kmh": speed, "heading_degrees": 180});
    let resp = app.post("/api/v1/runners/me/location", Some(&runner.access), &body).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
}

fn is_whole_second_utc(ts: &Value) -> bool {
    let ts = ts.as_str().unwrap_or("");
    ts.len() == 20 && ts.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(ts).is_ok()
}

#[actix_web::test]
async fn the_owner_sees_the_runners_pings_flat_on_the_tracking_feed() {
    let app = spawn_app().await;
    let (owner, runner, booking) = accepted_trip(&app, "feed").await;
    let bid = id(&booking);
    let mut feed = app.ws(&format!("/ws/tracking/{bid}?token={}", owner.access)).await;
    let mut with_status = app.ws(&format!("/ws/tracking/{bid}?token={}&events=status", owner.access)).await;
    app.wait_numsub(&format!("booking:{bid}"), 1).await;

    ping(&app, &runner, 3.1412, 101.6865, 32.5).await;
    let frame = feed.next().await;
    assert_eq!(frame["type"], "location_update");
    assert_eq!(frame["booking_id"], bid.as_str());
    assert_eq!(frame["runner_id"], runner.user_id.as_str());
    assert_eq!((frame["latitude"].as_f64(), frame["longitude"].as_f64()), (Some(3.1412), Some(101.6865)));
    assert_eq!(frame["speed_kmh"], 32.5);
    assert_eq!(frame["heading_degrees"], 180.0);
    assert!(is_whole_second_utc(&frame["timestamp"]), "{frame}");
    assert_eq!(frame["data"]["latitude"], frame["latitude"]);
    // (the accept's own status frame may still be on its way: skip to the ping)
    with_status.next_of("location_update").await;

    // Status frames only for those who asked (the Flutter apps cannot parse them).
    app.pickup(&runner, &bid).await;
    let status = loop {
        let status = with_status.next_of("booking.status").await;
        if status["new_status"] == "in_progress" {
            break status;
        }
    };
    assert_eq!(status["old_status"], "accepted");
    assert!(is_whole_second_utc(&status["timestamp"]));
    assert_eq!(feed.next_within(0.5).await, None, "the default feed carries locations only");

    // App-level ping.
    feed.send(&json!({"type": "ping"})).await;
    assert_eq!(feed.next().await, json!({"type": "pong"}));

    // Positions reach PostGIS in batches: the trip's waypoints and the route.
    ping(&app, &runner, 3.1300, 101.6800, 40.0).await;
    app.live.writer.send(Flush).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tracking = app.get(&format!("/api/v1/tracking/{bid}"), Some(&owner.access)).await;
    assert_eq!(tracking.status, 200, "{}", tracking.text);
    assert_eq!(tracking.body["data"]["status"], "active");
    assert_eq!(tracking.body["data"]["runner_id"], runner.user_id.as_str());
    assert_eq!(tracking.body["data"]["waypoints"].as_array().unwrap().len(), 2);
    let route = app.get(&format!("/api/v1/tracking/{bid}/route"), Some(&owner.access)).await;
    assert_eq!(route.headers.get("content-type").unwrap(), "application/geo+json");
    assert_eq!(route.body, json!({"type": "LineString", "coordinates": [[101.6865, 3.1412], [101.68, 3.13]]}));
    let updates = app.get(&format!("/api/v1/bookings/{bid}/tracking"), Some(&runner.access)).await;
    assert_eq!(updates.body["data"][1]["speed_kmh"], 40.0);
    assert!(updates.body["data"][0].get("type").is_none(), "flat TrackingUpdate objects");

    // Delivery completes the track with the haversine distance.
    app.deliver(&runner, &bid).await;
    let done = app.get(&format!("/api/v1/tracking/{bid}"), Some(&owner.access)).await;
    assert_eq!(done.body["data"]["status"], "completed");
    let km = done.body["data"]["total_distance_km"].as_f64().unwrap();
    assert!((1.3..1.5).contains(&km), "{km}");
}

#[actix_web::test]
async fn the_tracking_feed_refuses_before_the_upgrade() {
    let app = spawn_app().await;
    let (owner, _runner, booking) = accepted_trip(&app, "refuse").await;
    let stranger = app.register("stranger@example.my", "owner").await;
    let bid = id(&booking);
    let cases = [
        (format!("/ws/tracking/{bid}"), 401, "token query parameter is required"),
        (format!("/ws/tracking/{bid}?token=garbage"), 401, "invalid or expired token"),
        (format!("/ws/tracking/{bid}?token={}", owner.refresh), 401, "invalid or expired token"),
        (format!("/ws/tracking/not-a-uuid?token={}", owner.access), 400, "invalid booking ID format"),
        (format!("/ws/tracking/{}?token={}", uuid::Uuid::new_v4(), owner.access), 404, "booking not found"),
        (format!("/ws/tracking/{bid}?token={}", stranger.access), 403, "forbidden"),
    ];
    for (path, status, error) in cases {
        let resp = app.get(&path, None).await;
        assert_eq!((resp.status, resp.body.clone()), (status, json!({"error": error})), "{path}");
    }
    let share = app.post(&format!("/api/v1/tracking/{bid}/share"), Some(&owner.access), &json!({})).await;
    assert_eq!(share.status, 201);
    let token = share.body["data"]["share_token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    let public = app.get(&format!("/api/v1/tracking/shared/{token}"), None).await;
    assert_eq!(public.body["data"]["status"], "active");
    let missing = app.get("/api/v1/tracking/shared/nope", None).await;
    assert_eq!(
        (missing.status, missing.body.clone()),
        (404, json!({"success": false, "error": "share link not found"}))
    );
    let none = app
        .get(&format!("/api/v1/tracking/{}", id(&book(&app, &owner, &worked_example()).await)), Some(&owner.access))
        .await;
    assert_eq!((none.status, none.body["error"].as_str()), (404, Some("tracking not found")));
}

/// A fast pinger is thinned to a waypoint a second (a jump still counts),
/// while every ping still reaches the watchers.
#[actix_web::test]
async fn a_trip_keeps_one_waypoint_a_second_but_every_ping_is_seen() {
    let app = spawn_app().await;
    let (owner, runner, booking) = accepted_trip(&app, "thin").await;
    let bid = id(&booking);
    let mut feed = app.ws(&format!("/ws/tracking/{bid}?token={}", owner.access)).await;
    app.wait_numsub(&format!("booking:{bid}"), 1).await;
    let t0 = chrono::Utc::now() - chrono::Duration::seconds(30);
    let at = |ms: i64| (t0 + chrono::Duration::milliseconds(ms)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // ten pings 100 ms apart, a few metres each, then one 2 s later, then a 1 km jump 100 ms after it
    let mut pings: Vec<(f64, i64)> = (0..10).map(|i| (3.1200 + f64::from(i) * 0.00002, i64::from(i) * 100)).collect();
    pings.push((3.1203, 2_000));
    pings.push((3.1300, 2_100));
    let mut socket = app.ws(&format!("/ws?token={}", runner.access)).await;
    socket.next_of("hello").await;
    for (lat, ms) in &pings {
        socket
            .send(&json!({"type": "location", "latitude": lat, "longitude": 101.6865, "speed_kmh": 30, "timestamp": at(*ms)}))
            .await;
    }
    for _ in &pings {
        assert_eq!(feed.next_of("location_update").await["booking_id"], bid.as_str());
    }
    app.live.writer.send(Flush).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tracking = app.get(&format!("/api/v1/tracking/{bid}"), Some(&owner.access)).await;
    let lats: Vec<f64> = tracking.body["data"]["waypoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["latitude"].as_f64().unwrap())
        .collect();
    assert_eq!(lats, vec![3.12, 3.1203, 3.13], "{}", tracking.text);
}

#[actix_web::test]
async fn pings_and_status_events_cross_two_nodes() {
    let node_a = spawn_app().await;
    let node_b = spawn_peer(&node_a).await;
    let (owner, runner, booking) = accepted_trip(&node_a, "cross").await;
    let bid = id(&booking);

    // The owner's persistent session is on node B; the runner talks to node A.
    let mut session = node_b.ws(&format!("/ws?token={}", owner.access)).await;
    assert_eq!(session.next().await["type"], "hello");
    session.send(&json!({"type": "subscribe", "booking_id": bid})).await;
    let subscribed = session.next_of("subscribed").await;
    assert_eq!(subscribed["recovered"], true);
    assert!(subscribed["seq"].as_i64().unwrap() >= 3, "requested, accepted, tracking.started: {subscribed}");

    let mut runner_socket = node_a.ws(&format!("/ws?token={}", runner.access)).await;
    assert_eq!(runner_socket.next().await["role"], "runner");
    runner_socket.send(&json!({"type": "location", "latitude": 3.15, "longitude": 101.70, "speed_kmh": 20})).await;
    let frame = session.next_of("location_update").await;
    assert_eq!(frame["runner_id"], runner.user_id.as_str());
    assert_eq!(frame["latitude"], 3.15);

    node_a.pickup(&runner, &bid).await;
    // (the accept's own status may still arrive first on the user's channel)
    let status = loop {
        let status = session.next_of("booking.status").await;
        if status["new_status"] == "in_progress" {
            break status;
        }
    };
    assert!(status["seq"].as_i64().unwrap() > subscribed["seq"].as_i64().unwrap());
}

#[actix_web::test]
async fn one_node_fans_pings_out_in_process_until_another_node_watches() {
    use kilat::actors::messages::GetBusStats;
    let node_a = spawn_app().await;
    let node_b = spawn_peer(&node_a).await;
    let (owner, runner, booking) = accepted_trip(&node_a, "local").await;
    let bid = id(&booking);
    let channel = format!("booking:{bid}");

    // Runner and watcher on the same node.
    let mut watcher = node_a.ws(&format!("/ws/tracking/{bid}?token={}", owner.access)).await;
    node_a.wait_numsub(&channel, 1).await;
    let mut runner_ws = node_a.ws(&format!("/ws?token={}", runner.access)).await;
    runner_ws.next_of("hello").await;
    let before = node_a.live.bus.send(GetBusStats).await.unwrap();
    for i in 0..20 {
        let lat = 3.10 + f64::from(i) * 0.001;
        runner_ws.send(&json!({"type": "location", "latitude": lat, "longitude": 101.7})).await;
        let frame = watcher.next_of("location_update").await;
        assert_eq!(frame["latitude"], lat, "every ping reaches the watcher, in order");
    }
    let after = node_a.live.bus.send(GetBusStats).await.unwrap();
    assert!(after.delivered_local >= before.delivered_local + 20, "{before:?} -> {after:?}");
    assert!(
        after.skipped_remote > before.skipped_remote,
        "with nobody on another node, pings stop going through Redis: {after:?}"
    );

    // A second watcher on node B: its node says hello on the channel, and
    // from the moment node A hears it, every ping goes to Redis again.
    let mut remote = node_b.ws(&format!("/ws/tracking/{bid}?token={}", owner.access)).await;
    node_a.wait_numsub(&channel, 2).await;
    // node B says hello on both channels its watcher holds that node A holds
    // too: the owner's user channel and the booking's
    let mut heard = false;
    for _ in 0..100 {
        if node_a.live.bus.send(GetBusStats).await.unwrap().hellos_heard >= after.hellos_heard + 2 {
            heard = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(heard, "node A hears that node B listens");
    for i in 0..5 {
        let lat = 3.15 + f64::from(i) * 0.001;
        runner_ws.send(&json!({"type": "location", "latitude": lat, "longitude": 101.7})).await;
        assert_eq!(watcher.next_of("location_update").await["latitude"], lat);
        assert_eq!(
            remote.next_of("location_update").await["latitude"],
            lat,
            "the other node's watcher gets every ping"
        );
    }
}

#[actix_web::test]
async fn a_reconnect_with_last_seq_replays_exactly_the_missed_events() {
    let node_a = spawn_app().await;
    let node_b = spawn_peer(&node_a).await;
    let (owner, runner, booking) = accepted_trip(&node_a, "replay").await;
    let bid = id(&booking);

    let mut first = node_b.ws(&format!("/ws?token={}", owner.access)).await;
    first.send(&json!({"type": "subscribe", "booking_id": bid})).await;
    let seen = first.next_of("subscribed").await["seq"].as_i64().unwrap();
    drop(first);

    for step in ["pickup", "deliver"] {
        let resp = node_a.post(&format!("/api/v1/bookings/{bid}/{step}"), Some(&runner.access), &json!({})).await;
        assert_eq!(resp.status, 200);
    }
    // (let the relay publish them while nobody listens: they are missed for good)
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Back on the other node, from where it left off.
    let mut again = node_a.ws(&format!("/ws?token={}", owner.access)).await;
    assert_eq!(again.next().await["type"], "hello");
    again.send(&json!({"type": "subscribe", "booking_id": bid, "last_seq": seen})).await;
    let mut replayed = Vec::new();
    loop {
        let frame = again.next().await;
        if frame["type"] == "notification" {
            continue; // live inbox pushes may interleave
        }
        if frame["type"] == "subscribed" {
            assert_eq!(frame["recovered"], true);
            assert!(frame["seq"].as_i64().unwrap() > seen);
            break;
        }
        assert_eq!(frame["type"], "booking.status", "{frame}");
        replayed.push(frame["new_status"].as_str().unwrap().to_owned());
    }
    assert_eq!(replayed, ["in_progress", "delivered"]);
    while let Some(frame) = again.next_within(0.5).await {
        assert_ne!(frame["type"], "booking.status", "nothing twice: {frame}");
    }

    // A client ahead of the server (say, after a restore) is told to reload.
    let mut ahead = node_b.ws(&format!("/ws?token={}", owner.access)).await;
    ahead.send(&json!({"type": "subscribe", "booking_id": bid, "last_seq": 10_000})).await;
    assert_eq!(ahead.next_of("subscribed").await["recovered"], false);
}

#[actix_web::test]
async fn an_abruptly_closed_socket_leaves_no_actor_or_subscription_behind() {
    let app = spawn_app().await;
    let (owner, _runner, booking) = accepted_trip(&app, "abrupt").await;
    let bid = id(&booking);
    let channel = format!("booking:{bid}");
    {
        let _feed = app.ws(&format!("/ws/tracking/{bid}?token={}", owner.access)).await;
        let mut session = app.ws(&format!("/ws?token={}", owner.access)).await;
        session.send(&json!({"type": "subscribe", "booking_id": bid})).await;
        session.next_of("subscribed").await;
        let stats = app.live.registry.send(GetRegistryStats).await.unwrap();
        assert_eq!((stats.booking_actors, stats.watchers), (1, 2));
        assert_eq!(app.numsub(&channel).await, 1, "one Redis subscription per node, however many sockets");
        // both sockets dropped here without a close frame
    }
    let mut clean = false;
    for _ in 0..100 {
        let stats = app.live.registry.send(GetRegistryStats).await.unwrap();
        if stats.booking_actors == 0 && stats.watchers == 0 && app.numsub(&channel).await == 0 {
            clean = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(clean, "registry and Redis subscription are cleaned up");
}

#[actix_web::test]
async fn every_malformed_frame_gets_an_error_frame() {
    let app = spawn_app().await;
    let (owner, runner, booking) = accepted_trip(&app, "malformed").await;
    let other = book(&app, &app.register("other-owner@example.my", "owner").await, &worked_example()).await;
    let mut owner_ws = app.ws(&format!("/ws?token={}", owner.access)).await;
    owner_ws.next_of("hello").await;
    let mut runner_ws = app.ws(&format!("/ws?token={}", runner.access)).await;
    runner_ws.next_of("hello").await;

    let owner_cases = [
        ("not json".to_owned(), "bad_json"),
        (json!({"foo": 1}).to_string(), "unknown_type"),
        (json!({"type": "dance"}).to_string(), "unknown_type"),
        (json!({"type": "location", "latitude": 3.1, "longitude": 101.7}).to_string(), "forbidden"),
        (json!({"type": "subscribe", "booking_id": "nope"}).to_string(), "invalid_booking_id"),
        (json!({"type": "subscribe", "booking_id": id(&other)}).to_string(), "forbidden"),
        (json!({"type": "subscribe", "booking_id": uuid::Uuid::new_v4()}).to_string(), "not_found"),
        (json!({"type": "offer.accept"}).to_string(), "forbidden"),
    ];
    for (text, code) in owner_cases {
        owner_ws.send_text(text.clone()).await;
        // (live pushes about the trip — status, notifications — may interleave)
        let frame = owner_ws.next_of("error").await;
        assert_eq!((frame["type"].as_str(), frame["code"].as_str()), (Some("error"), Some(code)), "{text}: {frame}");
        assert!(frame["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    owner_ws.send_binary(b"\x00\x01").await;
    assert_eq!(owner_ws.next_of("error").await["code"], "unsupported");

    let runner_cases = [
        (json!({"type": "offer.accept"}), "invalid_booking_id"),
        (json!({"type": "location", "latitude": 91, "longitude": 101.7}), "invalid_location"),
        (json!({"type": "location", "latitude": 3.1, "longitude": 101.7, "speed_kmh": 900}), "invalid_location"),
        (
            json!({"type": "location", "latitude": 3.1, "longitude": 101.7, "timestamp": "2001-01-01T00:00:00Z"}),
            "invalid_location",
        ),
        (json!({"type": "location", "latitude": 3.1, "longitude": 101.7, "timestamp": "soon"}), "invalid_location"),
    ];
    for (frame, code) in runner_cases {
        runner_ws.send(&frame).await;
        assert_eq!(runner_ws.next_of("error").await["code"], code, "{frame}");
    }
    // Still open after all of that.
    owner_ws.send(&json!({"type": "ping"})).await;
    owner_ws.next_of("pong").await;

    // An offline runner's pings are refused with a reason (unless on a
    // live trip, whose positions are always taken: tests/api/trips.rs).
    let idle = ready_runner(&app, "malformed-idle@example.my", dog_crate(), PICKUP).await;
    let mut idle_ws = app.ws(&format!("/ws?token={}", idle.access)).await;
    idle_ws.next_of("hello").await;
    app.go_offline(&idle).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    idle_ws.send(&json!({"type": "location", "latitude": 3.1, "longitude": 101.7})).await;
    assert_eq!(idle_ws.next_of("error").await["code"], "not_online");
    let _ = booking;
}

#[actix_web::test]
async fn abuse_closes_the_socket() {
    let app = spawn_app().await;
    let owner = app.register("abuser@example.my", "owner").await;
    // An oversized frame.
    let mut big = app.ws(&format!("/ws?token={}", owner.access)).await;
    big.next_of("hello").await;
    big.send_text("x".repeat(10_000)).await;
    assert!(big.closed_within(3.0).await.is_some(), "oversized frame closes /ws");
    // A flood.
    let mut flood = app.ws(&format!("/ws?token={}", owner.access)).await;
    flood.next_of("hello").await;
    for _ in 0..80 {
        flood.send(&json!({"type": "ping"})).await;
    }
    let reason = flood.closed_within(3.0).await.expect("flood closes the socket");
    if let Some(reason) = reason {
        assert_eq!(reason.code, awc::ws::CloseCode::Policy);
    }
    // The tracking feed accepts 512 bytes at most.
    let (_, _, booking) = accepted_trip(&app, "tiny").await;
    let owner2 = app.login("tiny-owner@example.my", "correct-horse").await;
    let token = owner2.body["data"]["access_token"].as_str().unwrap().to_owned();
    let mut feed = app.ws(&format!("/ws/tracking/{}?token={token}", id(&booking))).await;
    feed.send_text("y".repeat(600)).await;
    assert!(feed.closed_within(3.0).await.is_some(), "a frame over 512 bytes closes the feed");
}

/// A Redis server of this test's own, so restarting it disturbs no other test.
struct OwnRedis {
    port: u16,
}

impl OwnRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let redis = Self { port };
        redis.launch();
        redis
    }

    fn launch(&self) {
        let status = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "yes", "--logfile", &format!("/tmp/kilat-test-redis-{}.log", self.port)])
            .status()
            .expect("redis-server runs");
        assert!(status.success());
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("own redis did not start");
    }

    fn stop(&self) {
        let _ =
            std::process::Command::new("redis-cli").args(["-p", &self.port.to_string(), "shutdown", "nosave"]).output();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[actix_web::test]
async fn delivery_resumes_after_redis_restarts_and_no_event_is_lost() {
    let redis = OwnRedis::start();
    let app = crate::helpers::spawn_app_with(|s| s.redis.url = format!("redis://127.0.0.1:{}/0", redis.port)).await;
    let (owner, runner, booking) = accepted_trip(&app, "restart").await;
    let bid = id(&booking);
    let mut feed = app.ws(&format!("/ws/tracking/{bid}?token={}&events=status", owner.access)).await;
    app.wait_numsub(&format!("booking:{bid}"), 1).await;
    ping(&app, &runner, 3.145, 101.69, 10.0).await;
    feed.next_of("location_update").await;

    redis.stop();
    // A status change while Redis is down waits in the outbox.
    let resp = app.pickup(&runner, &bid).await;
    assert_eq!(resp.status, 200, "REST keeps working without Redis: {}", resp.text);
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.launch();

    // The bus reconnects and resubscribes by itself…
    app.wait_numsub(&format!("booking:{bid}"), 1).await;
    // …the outbox relay delivers what happened meanwhile…
    let status = loop {
        let frame = feed.next_of("booking.status").await;
        if frame["new_status"] == "in_progress" {
            break frame;
        }
    };
    assert_eq!(status["old_status"], "accepted");
    // …and pings flow again.
    let mut delivered = false;
    for _ in 0..20 {
        ping(&app, &runner, 3.13, 101.68, 12.0).await;
        if let Some(frame) = feed.next_within(0.5).await {
            if frame["type"] == "location_update" && frame["latitude"] == 3.13 {
                delivered = true;
                break;
            }
        }
    }
    assert!(delivered, "location frames resume after the restart");
}

#[actix_web::test]
async fn a_stalled_socket_gets_only_the_latest_position_and_memory_stays_bounded() {
    use kilat::actors::messages::GetBookingBacklog;
    let app = crate::helpers::spawn_app_with(|s| s.realtime.ws_max_frames_per_sec = 1_000_000).await;
    let (owner, runner, booking) = accepted_trip(&app, "stall").await;
    let bid = uuid::Uuid::parse_str(&id(&booking)).unwrap();
    // A watcher that never reads…
    let mut stalled = app.ws(&format!("/ws/tracking/{bid}?token={}", owner.access)).await;
    app.wait_numsub(&format!("booking:{bid}"), 1).await;
    let mut runner_ws = app.ws(&format!("/ws?token={}", runner.access)).await;
    runner_ws.next_of("hello").await;
    // …while the runner floods pings (far more than socket buffers hold).
    let total: u32 = 10_000;
    for i in 0..total {
        let lat = 3.0 + f64::from(i) * 1e-5;
        runner_ws.send(&json!({"type": "location", "latitude": lat, "longitude": 101.7})).await;
    }
    // The latest position: one step on (a jump no vehicle makes is refused).
    runner_ws.send(&json!({"type": "location", "latitude": 3.1, "longitude": 101.7})).await;

    let mut backlog = None;
    for _ in 0..200 {
        let b = app.live.registry.send(GetBookingBacklog { booking_id: bid }).await.unwrap().unwrap();
        if b.coalesced > 0 && b.waiting_location <= 1 {
            backlog = Some(b);
        }
        if backlog.is_some()
            && app.live.registry.send(GetBookingBacklog { booking_id: bid }).await.unwrap().unwrap().coalesced
                == backlog.unwrap().coalesced
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let backlog = backlog.expect("the booking actor coalesced frames for the stalled socket");
    assert!(backlog.waiting_location <= 1, "at most one location held back per socket: {backlog:?}");
    assert_eq!(backlog.waiting_status, 0);

    // The reader wakes up: it drains what the pipes held, and the last
    // frame is the runner's latest position.
    // A slow machine may still be working through the flood: wait for the
    // latest position for as long as frames keep coming, then for silence.
    let mut received = 0u64;
    let mut last = Value::Null;
    while let Some(frame) = stalled.next_within(10.0).await {
        received += 1;
        last = frame;
        if last["latitude"] == 3.1 {
            break;
        }
    }
    assert_eq!(last["latitude"], 3.1, "the latest position arrives");
    while let Some(frame) = stalled.next_within(0.5).await {
        received += 1;
        last = frame;
    }
    assert_eq!(last["latitude"], 3.1, "nothing older follows the latest position");
    let after = app.live.registry.send(GetBookingBacklog { booking_id: bid }).await.unwrap().unwrap();
    assert!(after.coalesced > 0);
    assert!(
        received + after.coalesced <= u64::from(total) + 1,
        "every frame was either delivered or replaced by a newer one: {received} + {} of {}",
        after.coalesced,
        total + 1
    );
}

#[actix_web::test]
async fn a_silent_runner_goes_offline_after_the_grace_on_every_node() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.realtime.presence_grace_secs = 2;
        s.realtime.location_flush_ms = 200;
        s.realtime.ws_heartbeat_secs = 1;
    })
    .await;
    let quiet = ready_runner(&app, "quiet@example.my", dog_crate(), PICKUP).await;
    let chatty = ready_runner(&app, "chatty@example.my", dog_crate(), PICKUP).await;
    let status =
        async |s: &Session| app.get("/api/v1/runners/me", Some(&s.access)).await.body["data"]["session_status"].clone();

    for _ in 0..20 {
        ping(&app, &chatty, 3.15, 101.71, 5.0).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status(&quiet).await, "inactive", "no pings, no socket: offline after the grace");
    assert_eq!(status(&chatty).await, "active", "a pinging runner stays online");
    let resp = app
        .post("/api/v1/runners/me/location", Some(&quiet.access), &json!({"latitude": 3.1, "longitude": 101.7}))
        .await;
    assert_eq!(resp.body["error"], "runner must be online to update location", "every node's actor was told");

    // A runner holding a socket stays online without pinging.
    let mut socket = app.ws(&format!("/ws?token={}", quiet.access)).await;
    socket.next_of("hello").await;
    crate::fixtures::go_online(&app, &quiet, PICKUP).await;
    for _ in 0..8 {
        // answer the server's pings so the socket counts as alive
        let _ = socket.next_within(0.5).await;
    }
    assert_eq!(status(&chatty).await, "inactive", "silent once it stopped pinging");
    assert_eq!(status(&quiet).await, "active", "an open socket keeps the runner present");
    drop(socket);
}
