//! Measures two things on running nodes and prints them:
//!
//! 1. ping → owner latency across two nodes: a runner streams `location`
//!    frames on node A's `/ws`; the owner watches `/ws/tracking/:id` on node
//!    B; each frame's latitude encodes its sequence number, so arrival time
//!    minus send time is the one-way latency through Redis (p50/p99/max).
//! 2. resident memory per idle authenticated `/ws` socket on node B
//!    (VmRSS of its process before and after opening N sockets).
//!
//! ```text
//! ulimit -n 65536
//! KILAT__SERVER__PORT=8081 target/release/kilat serve &
//! KILAT__SERVER__PORT=8082 KILAT__REALTIME__WS_MAX_SOCKETS_PER_USER=1000000 \
//!     target/release/kilat serve --no-migrate &   # note its pid (one owner holds the idle sockets)
//! cargo run --release -p kilat-tools --bin probe -- --a http://127.0.0.1:8081 --b http://127.0.0.1:8082 \
//!     --pid-b <pid> --pings 3000 --rate 1000 --idle 10000
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

struct Args {
    a: String,
    b: String,
    pid_b: Option<u32>,
    pings: u32,
    rate: u32,
    idle: u32,
}

fn args() -> Args {
    let mut out = Args {
        a: "http://127.0.0.1:8081".into(),
        b: "http://127.0.0.1:8082".into(),
        pid_b: None,
        pings: 2000,
        rate: 500,
        idle: 0,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--a" => out.a = value,
            "--b" => out.b = value,
            "--pid-b" => out.pid_b = value.parse().ok(),
            "--pings" => out.pings = value.parse().unwrap_or(out.pings),
            "--rate" => out.rate = value.parse().unwrap_or(out.rate),
            "--idle" => out.idle = value.parse().unwrap_or(out.idle),
            other => panic!("unknown flag {other}"),
        }
    }
    out
}

async fn call(client: &awc::Client, method: &str, url: String, token: Option<&str>, body: Value) -> Value {
    let mut req = client.request(awc::http::Method::from_bytes(method.as_bytes()).unwrap(), url.clone());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let mut resp = req.send_json(&body).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let bytes = resp.body().await.unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(resp.status().is_success(), "{url}: {} {value}", resp.status());
    value
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[actix_web::main]
async fn main() {
    let args = args();
    // limit(0): no cap on open connections (WebSockets hold theirs).
    let connector = awc::Connector::new().limit(0);
    let client = awc::Client::builder().connector(connector).timeout(Duration::from_secs(30)).finish();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let a = |p: &str| format!("{}{p}", args.a);

    // Setup through node A's REST API.
    let reg = |email: String, role: &str| {
        call(
            &client,
            "POST",
            a("/api/v1/auth/register"),
            None,
            json!({"email": email, "password": "probe-password", "full_name": "Probe", "role": role}),
        )
    };
    let owner = reg(format!("probe-owner-{tag}@example.my"), "owner").await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let runner = reg(format!("probe-runner-{tag}@example.my"), "runner").await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &client,
        "POST",
        a("/api/v1/runners"),
        Some(&runner),
        json!({"vehicle_type": "car", "vehicle_plate": "PRB 1", "vehicle_model": "Myvi", "air_conditioned": true}),
    )
    .await;
    call(
        &client,
        "POST",
        a("/api/v1/runners/me/crates"),
        Some(&runner),
        json!({"size": "large", "pet_types": ["dog"], "max_weight_kg": 40, "ventilated": true}),
    )
    .await;
    call(
        &client,
        "POST",
        a("/api/v1/runners/me/online"),
        Some(&runner),
        json!({"latitude": 3.1579, "longitude": 101.7116}),
    )
    .await;
    let address = |lat: f64, lng: f64| json!({"line1": "x", "city": "KL", "state": "WP", "country": "MY", "latitude": lat, "longitude": lng});
    let booking = call(
        &client,
        "POST",
        a("/api/v1/bookings"),
        Some(&owner),
        json!({
        "pet_spec": {"pet_type": "dog", "name": "Probe", "weight_kg": 10},
        "pickup_address": address(3.1579, 101.7116), "dropoff_address": address(3.1178, 101.6776)}),
    )
    .await;
    let booking_id = booking["data"]["id"].as_str().unwrap().to_owned();
    call(&client, "POST", a(&format!("/api/v1/bookings/{booking_id}/accept")), Some(&runner), json!({})).await;

    // Owner watches on node B; runner streams on node A.
    let ws_url = |base: &str, path: String| format!("{}{path}", base.replace("http://", "ws://"));
    let (_, mut feed) =
        client.ws(ws_url(&args.b, format!("/ws/tracking/{booking_id}?token={owner}"))).connect().await.unwrap();
    let (_, mut socket) = client.ws(ws_url(&args.a, format!("/ws?token={runner}"))).connect().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut sent_at: HashMap<u32, Instant> = HashMap::new();
    let gap = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let reader = async {
        let mut latencies = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(u64::from(args.pings / args.rate.max(1)) + 10);
        while latencies.len() < args.pings as usize && Instant::now() < deadline {
            let Ok(Some(Ok(awc::ws::Frame::Text(bytes)))) =
                tokio::time::timeout(Duration::from_secs(3), feed.next()).await
            else {
                break;
            };
            let now = Instant::now();
            let frame: Value = serde_json::from_slice(&bytes).unwrap();
            if let Some(lat) = frame["latitude"].as_f64() {
                latencies.push((((lat - 2.0) * 1e6).round() as u32, now));
            }
        }
        latencies
    };
    let writer = async {
        let started = Instant::now();
        for i in 0..args.pings {
            let lat = 2.0 + f64::from(i) * 1e-6;
            sent_at.insert(i, Instant::now());
            let frame = json!({"type": "location", "latitude": lat, "longitude": 101.7, "speed_kmh": 30});
            socket.send(awc::ws::Message::Text(frame.to_string().into())).await.unwrap();
            let due = started + gap * (i + 1);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                tokio::time::sleep(wait).await;
            }
        }
        started.elapsed()
    };
    let (arrivals, took) = futures_util::join!(reader, writer);
    let mut latencies = kilat_tools::histogram().unwrap();
    for (i, at) in &arrivals {
        if let Some(s) = sent_at.get(i) {
            kilat_tools::record(&mut latencies, at.duration_since(*s));
        }
    }
    println!("ping -> owner across two nodes (runner on A, owner on B, through Redis)");
    println!(
        "  sent {} pings in {:.2}s ({:.0}/s), received {}",
        args.pings,
        took.as_secs_f64(),
        f64::from(args.pings) / took.as_secs_f64(),
        latencies.len()
    );
    println!("  latency {}", kilat_tools::percentiles(&latencies));

    if args.idle > 0 {
        let Some(pid) = args.pid_b else {
            println!("idle sockets: pass --pid-b to measure node B's memory");
            return;
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = rss_kib(pid).unwrap();
        let mut held = Vec::with_capacity(args.idle as usize);
        let opened = Instant::now();
        for _ in 0..args.idle {
            // a node short of pooled connections answers 503: back off and retry, as an app does
            let mut attempt = 0;
            let framed = loop {
                match client.ws(ws_url(&args.b, format!("/ws?token={owner}"))).connect().await {
                    Ok((_, framed)) => break framed,
                    Err(e) if attempt < 20 => {
                        attempt += 1;
                        eprintln!("upgrade retried: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => panic!("upgrade failed: {e}"),
                }
            };
            held.push(framed);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = rss_kib(pid).unwrap();
        println!("idle /ws sockets on node B: {} opened in {:.1}s", args.idle, opened.elapsed().as_secs_f64());
        println!(
            "  RSS {} KiB -> {} KiB: {:.2} KiB per idle authenticated socket",
            before,
            after,
            (after.saturating_sub(before)) as f64 / f64::from(args.idle)
        );
        drop(held);
    }
}
