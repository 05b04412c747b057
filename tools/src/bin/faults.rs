//! Events under faults: owners watch their trips over `/ws` through the load
//! balancer while runners drive each trip through its statuses over REST,
//! and `scripts/faults.sh` kills a node, restarts Redis, restarts
//! PostgreSQL and SIGTERMs a node meanwhile. Every app reconnects through
//! the load balancer and re-subscribes with the last `seq` it has, as the
//! Kilat apps do. At the end, every status event in the outbox is checked
//! against what each owner's socket received.
//!
//! ```text
//! make cluster
//! KILAT_ENVIRONMENT=local cargo run --release -p kilat-tools --bin faults -- --trips 20 --duration 60
//! ```
//! Prints: events expected / received / missing / delivered twice,
//! subscriptions answered `recovered:false`, failed subscribes, socket
//! drops and reconnects (with their success rate), REST retries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant};

use diesel::sql_types::{Array, BigInt, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Default)]
struct Tally {
    received: HashMap<Uuid, BTreeSet<i64>>,
    twice: u64,
    subscribes: u64,
    unrecovered: u64,
    subscribe_errors: u64,
    drops: u64,
    reconnect_attempts: u64,
    reconnects: u64,
    rest_retries: u64,
    trips: u64,
    drain_frames: u64,
}

type Shared = Rc<RefCell<Tally>>;

fn address(line1: &str, lat: f64, lng: f64) -> Value {
    json!({"line1": line1, "line2": "", "city": "Kuala Lumpur", "state": "WP", "postal_code": "50450",
           "country": "Malaysia", "latitude": lat, "longitude": lng})
}

fn booking_body() -> Value {
    let day = |d: i64| (chrono::Utc::now() + chrono::Duration::days(d)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "pet_spec": {"pet_type": "dog", "breed": "Beagle", "name": "Buddy", "weight_kg": 12.0, "age_months": 24,
            "vaccinations": [{"vaccine_name": "Rabies", "date_given": day(-30), "expires_at": day(300),
                              "vet_name": "Kilat Vet", "verified": true}],
            "special_needs": "", "photo_url": ""},
        "pickup_address": address("1 Jalan Ampang", 3.1579, 101.7116),
        "dropoff_address": address("Mid Valley", 3.1178, 101.6776),
        "notes": "fault run"
    })
}

struct Api {
    base: String,
    client: awc::Client,
    tally: Shared,
}

impl Api {
    /// A request retried through faults (connection errors and 5xx) until it
    /// gets an answer that is the service's word on it.
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let url = format!("{}{}", self.base, path);
            let mut req = match method {
                "GET" => self.client.get(url),
                _ => self.client.post(url),
            };
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let sent = if method == "GET" { req.send().await } else { req.send_json(body).await };
            match sent {
                Ok(mut resp) if resp.status().as_u16() < 500 => {
                    let status = resp.status().as_u16();
                    let value = resp.json::<Value>().limit(1 << 20).await.unwrap_or(Value::Null);
                    return (status, value);
                }
                _ if Instant::now() > deadline => return (599, Value::Null),
                _ => {
                    self.tally.borrow_mut().rest_retries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    async fn register(&self, email: &str, role: &str) -> (String, Uuid) {
        let body = json!({"email": email, "password": "fault-password", "full_name": "Fault Run", "role": role});
        let (status, resp) = self.call("POST", "/api/v1/auth/register", None, &body).await;
        assert_eq!(status, 201, "register {email}: {resp}");
        let data = &resp["data"];
        (data["access_token"].as_str().unwrap().to_owned(), data["user"]["id"].as_str().unwrap().parse().unwrap())
    }
}

/// One owner's app: a `/ws` session through the load balancer, subscribed
/// to every booking of the owner, reconnecting and re-subscribing with the
/// last seq it has whenever the socket goes away.
async fn watch(
    api: Rc<Api>,
    token: String,
    mut new_bookings: tokio::sync::mpsc::UnboundedReceiver<Uuid>,
    until: Instant,
) {
    let mut bookings: Vec<Uuid> = Vec::new();
    let ws_url = format!("{}/ws?token={token}", api.base.replace("http://", "ws://"));
    let mut first = true;
    let mut driving = true;
    while Instant::now() < until {
        if !first {
            api.tally.borrow_mut().reconnect_attempts += 1;
        }
        let Ok((_, mut framed)) = api.client.ws(&ws_url).connect().await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if !first {
            api.tally.borrow_mut().reconnects += 1;
        }
        first = false;
        let last_seq = |b: &Uuid, t: &Tally| t.received.get(b).and_then(|s| s.iter().next_back().copied()).unwrap_or(0);
        for b in &bookings {
            let seq = last_seq(b, &api.tally.borrow());
            let frame = json!({"type": "subscribe", "booking_id": b, "last_seq": seq}).to_string();
            let _ = framed.send(awc::ws::Message::Text(frame.into())).await;
        }
        loop {
            let left = until.saturating_duration_since(Instant::now());
            tokio::select! {
                booking = new_bookings.recv(), if driving => {
                    // (the driver is done: keep watching what it booked)
                    let Some(b) = booking else { driving = false; continue };
                    bookings.push(b);
                    let frame = json!({"type": "subscribe", "booking_id": b, "last_seq": 0}).to_string();
                    if framed.send(awc::ws::Message::Text(frame.into())).await.is_err() { break; }
                }
                frame = framed.next() => {
                    let Some(Ok(frame)) = frame else {
                        api.tally.borrow_mut().drops += 1;
                        break;
                    };
                    match frame {
                        awc::ws::Frame::Ping(b) => { let _ = framed.send(awc::ws::Message::Pong(b)).await; }
                        awc::ws::Frame::Close(_) => { api.tally.borrow_mut().drops += 1; break; }
                        awc::ws::Frame::Text(bytes) => {
                            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            // What to send back, decided with the tally borrowed briefly.
                            let resubscribe = {
                                let mut t = api.tally.borrow_mut();
                                match v["type"].as_str() {
                                    Some("booking.status") => {
                                        let b: Uuid = v["booking_id"].as_str().unwrap_or_default().parse().unwrap_or_default();
                                        let seq = v["seq"].as_i64().unwrap_or(0);
                                        if !t.received.entry(b).or_default().insert(seq) { t.twice += 1; }
                                        None
                                    }
                                    Some("subscribed") => {
                                        t.subscribes += 1;
                                        if v["recovered"] != true { t.unrecovered += 1; }
                                        None
                                    }
                                    Some("error") if v.get("booking_id").is_some() => {
                                        t.subscribe_errors += 1;
                                        v["booking_id"].as_str().and_then(|s| s.parse::<Uuid>().ok()).map(|b| (b, last_seq(&b, &t)))
                                    }
                                    Some("reconnect") => { t.drain_frames += 1; None }
                                    _ => None,
                                }
                            };
                            if let Some((b, seq)) = resubscribe {
                                // The app reloads and subscribes again.
                                tokio::time::sleep(Duration::from_millis(300)).await;
                                let frame = json!({"type": "subscribe", "booking_id": b, "last_seq": seq}).to_string();
                                if framed.send(awc::ws::Message::Text(frame.into())).await.is_err() { break; }
                            }
                        }
                        _ => {}
                    }
                }
                _ = tokio::time::sleep(left) => break,
            }
        }
    }
    // Bookings created after the last connect are still in the channel.
    while let Ok(b) = new_bookings.try_recv() {
        bookings.push(b);
    }
}

/// One owner–runner pair: trip after trip, each through every status.
async fn drive(
    api: Rc<Api>,
    owner: String,
    runner: String,
    booked: tokio::sync::mpsc::UnboundedSender<Uuid>,
    until: Instant,
    all: Rc<RefCell<Vec<Uuid>>>,
) {
    while Instant::now() < until {
        let (status, resp) = api.call("POST", "/api/v1/bookings", Some(&owner), &booking_body()).await;
        if status != 201 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let id: Uuid = resp["data"]["id"].as_str().unwrap().parse().unwrap();
        all.borrow_mut().push(id);
        let _ = booked.send(id);
        for (who, step) in [(&runner, "accept"), (&runner, "pickup"), (&runner, "deliver"), (&owner, "confirm")] {
            let (status, _) = api.call("POST", &format!("/api/v1/bookings/{id}/{step}"), Some(who), &json!({})).await;
            // 422 after a retried step: it had already happened.
            if status >= 400 && status != 422 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        api.tally.borrow_mut().trips += 1;
    }
}

#[derive(diesel::QueryableByName)]
struct Expected {
    #[diesel(sql_type = SqlUuid)]
    aggregate_id: Uuid,
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

#[actix_web::main]
async fn main() {
    let (mut base, mut trips, mut duration) = ("http://127.0.0.1:8080".to_owned(), 20usize, 60u64);
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let v = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--url" => base = v,
            "--trips" => trips = v.parse().unwrap(),
            "--duration" => duration = v.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    let settings = kilat::config::Settings::load().expect("configuration");
    let tally: Shared = Rc::default();
    let client = awc::Client::builder().timeout(Duration::from_secs(10)).finish();
    let api = Rc::new(Api { base, client, tally: tally.clone() });
    let tag = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let all: Rc<RefCell<Vec<Uuid>>> = Rc::default();
    let until = Instant::now() + Duration::from_secs(duration);
    let mut tasks = Vec::new();
    for i in 0..trips {
        let (owner, _) = api.register(&format!("fault-{tag}-owner{i}@example.my"), "owner").await;
        let (runner, _) = api.register(&format!("fault-{tag}-runner{i}@example.my"), "runner").await;
        let profile =
            json!({"vehicle_type": "car", "vehicle_plate": "F 1", "vehicle_model": "Myvi", "air_conditioned": true});
        api.call("POST", "/api/v1/runners", Some(&runner), &profile).await;
        let crate_spec = json!({"size": "medium", "pet_types": ["dog"], "max_weight_kg": 20, "ventilated": true});
        api.call("POST", "/api/v1/runners/me/crates", Some(&runner), &crate_spec).await;
        api.call(
            "POST",
            "/api/v1/runners/me/online",
            Some(&runner),
            &json!({"latitude": 3.1579, "longitude": 101.7116}),
        )
        .await;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tasks.push(actix_web::rt::spawn(watch(api.clone(), owner.clone(), rx, until + Duration::from_secs(8))));
        tasks.push(actix_web::rt::spawn(drive(api.clone(), owner, runner, tx, until, all.clone())));
    }
    println!("{trips} owners watching, {trips} runners driving trips for {duration} s");
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    while Instant::now() < until + Duration::from_secs(8) {
        ticker.tick().await;
        let t = tally.borrow();
        let got: usize = t.received.values().map(BTreeSet::len).sum();
        println!(
            "t={:>3}s trips {:>4} frames {:>5} drops {:>3} reconnects {:>3} unrecovered {} sub-errors {} rest-retries {}",
            started.elapsed().as_secs(),
            t.trips,
            got,
            t.drops,
            t.reconnects,
            t.unrecovered,
            t.subscribe_errors,
            t.rest_retries
        );
    }
    for task in tasks {
        let _ = task.await;
    }

    let mut db = AsyncPgConnection::establish(&settings.database.url).await.expect("database");
    let ids = all.borrow().clone();
    let expected: Vec<Expected> = diesel::sql_query(
        "SELECT aggregate_id, seq FROM outbox WHERE aggregate_id = ANY($1) \
         AND payload->'data' ? 'new_status' AND event_type NOT LIKE 'chat.%'",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .load(&mut db)
    .await
    .expect("outbox");
    let t = tally.borrow();
    let missing: Vec<(Uuid, i64)> = expected
        .iter()
        .filter(|e| !t.received.get(&e.aggregate_id).is_some_and(|s| s.contains(&e.seq)))
        .map(|e| (e.aggregate_id, e.seq))
        .collect();
    let got: usize = t.received.values().map(BTreeSet::len).sum();
    println!("\n== events under faults ==");
    println!("bookings                {:>6}  (trips completed {})", ids.len(), t.trips);
    println!("status events expected  {:>6}", expected.len());
    println!("received                {:>6}", got);
    println!("missing                 {:>6}  {:?}", missing.len(), &missing[..missing.len().min(5)]);
    println!("delivered twice         {:>6}", t.twice);
    println!(
        "subscriptions           {:>6}  recovered:false {}  failed {}",
        t.subscribes, t.unrecovered, t.subscribe_errors
    );
    let rate =
        if t.reconnect_attempts == 0 { 100.0 } else { 100.0 * t.reconnects as f64 / t.reconnect_attempts as f64 };
    println!(
        "socket drops            {:>6}  reconnect attempts {} succeeded {} ({rate:.1} %)",
        t.drops, t.reconnect_attempts, t.reconnects
    );
    println!("reconnect frames        {:>6}  (SIGTERM drains)", t.drain_frames);
    println!("REST retries            {:>6}", t.rest_retries);
}
