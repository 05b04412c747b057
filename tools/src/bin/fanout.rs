//! The fan-out benchmark: `--pairs` runners stream `location` pings to
//! node A, one watcher per runner listens on node B; the total ping rate
//! steps up (`--rates`) until saturation. Per step: pings sent/s, frames
//! delivered/s, ping → watcher p50/p99/max (HDR histogram). The same
//! generator drives kilat (runners on a trip, owners on
//! `/ws/tracking/:id`) or the Bun peer in `bench/bun/` (`--target bun`),
//! so the ratio compares like with like. A == B is the one-node topology.
//!
//! ```text
//! KILAT__REALTIME__WS_MAX_FRAMES_PER_SEC=1000000 make cluster
//! cargo run --release -p kilat-tools --bin fanout -- --target kilat --a http://127.0.0.1:8081 --b http://127.0.0.1:8082
//! cargo run --release -p kilat-tools --bin fanout -- --target bun --a http://127.0.0.1:9081 --b http://127.0.0.1:9082
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

struct Args {
    target: String,
    a: String,
    b: String,
    pairs: usize,
    rates: Vec<u64>,
    seconds: f64,
    label: String,
}

fn args() -> Args {
    let mut out = Args {
        target: "kilat".into(),
        a: "http://127.0.0.1:8081".into(),
        b: "http://127.0.0.1:8082".into(),
        pairs: 100,
        rates: vec![1000, 2000, 5000, 10000, 15000, 20000, 30000, 40000],
        seconds: 5.0,
        label: String::new(),
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--target" => out.target = value,
            "--a" => out.a = value,
            "--b" => out.b = value,
            "--pairs" => out.pairs = value.parse().unwrap(),
            "--rates" => out.rates = value.split(',').map(|r| r.trim().parse().unwrap()).collect(),
            "--seconds" => out.seconds = value.parse().unwrap(),
            "--label" => out.label = value,
            other => panic!("unknown flag {other}"),
        }
    }
    if out.label.is_empty() {
        let topology = if out.a == out.b { "one node" } else { "two nodes via Redis" };
        out.label = format!("{} ({topology})", out.target);
    }
    out
}

async fn call(client: &awc::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut req = client.post(url.clone());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let mut resp = req.send_json(&body).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let value: Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap_or(Value::Null);
    assert!(resp.status().is_success(), "{url}: {} {value}", resp.status());
    value
}

/// Runner and watcher WebSocket URLs for each pair.
async fn kilat_pairs(client: &awc::Client, args: &Args) -> Vec<(String, String)> {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let a = |p: &str| format!("{}{p}", args.a);
    let ws = |base: &str, p: String| format!("{}{p}", base.replacen("http", "ws", 1));
    let reg = |email: String, role: &'static str| {
        call(
            client,
            a("/api/v1/auth/register"),
            None,
            json!({"email": email, "password": "fanout-password", "full_name": "Fanout", "role": role}),
        )
    };
    let owner = reg(format!("fanout-owner-{tag}@example.my"), "owner").await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let address = |lat: f64, lng: f64| json!({"line1": "x", "city": "KL", "state": "WP", "country": "MY", "latitude": lat, "longitude": lng});
    let mut out = Vec::new();
    for i in 0..args.pairs {
        let runner = reg(format!("fanout-runner-{tag}-{i}@example.my"), "runner").await["data"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        call(
            client,
            a("/api/v1/runners"),
            Some(&runner),
            json!({"vehicle_type": "car", "vehicle_plate": "FAN", "vehicle_model": "Myvi", "air_conditioned": true}),
        )
        .await;
        call(
            client,
            a("/api/v1/runners/me/crates"),
            Some(&runner),
            json!({"size": "large", "pet_types": ["dog"], "max_weight_kg": 40, "ventilated": true}),
        )
        .await;
        // far apart, so the dispatcher offers each booking to its own runner
        let (lat, lng) = (2.0 + i as f64 * 0.5 % 4.0, 100.5 + (i / 8) as f64 * 0.5);
        call(client, a("/api/v1/runners/me/online"), Some(&runner), json!({"latitude": lat, "longitude": lng})).await;
        let booking = call(
            client,
            a("/api/v1/bookings"),
            Some(&owner),
            json!({"pet_spec": {"pet_type": "dog", "name": "Fan", "weight_kg": 10},
                   "pickup_address": address(lat, lng), "dropoff_address": address(lat + 0.01, lng)}),
        )
        .await;
        let id = booking["data"]["id"].as_str().unwrap().to_owned();
        call(client, a(&format!("/api/v1/bookings/{id}/accept")), Some(&runner), json!({})).await;
        out.push((ws(&args.a, format!("/ws?token={runner}")), ws(&args.b, format!("/ws/tracking/{id}?token={owner}"))));
    }
    out
}

fn bun_pairs(args: &Args) -> Vec<(String, String)> {
    let ws = |base: &str, p: String| format!("{}{p}", base.replacen("http", "ws", 1));
    (0..args.pairs)
        .map(|i| {
            (ws(&args.a, format!("/ws?role=runner&booking=b{i}")), ws(&args.b, format!("/ws?role=watch&booking=b{i}")))
        })
        .collect()
}

struct Tally {
    received: u64,
    latency: Histogram<u64>,
}

#[actix_web::main]
async fn main() {
    let args = args();
    let client =
        awc::Client::builder().connector(awc::Connector::new().limit(0)).timeout(Duration::from_secs(30)).finish();
    let pairs = match args.target.as_str() {
        "kilat" => kilat_pairs(&client, &args).await,
        "bun" => bun_pairs(&args),
        other => panic!("unknown target {other}"),
    };
    let started = Instant::now();
    let tally =
        Rc::new(RefCell::new(Tally { received: 0, latency: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap() }));
    let mut sinks = Vec::new();
    for (runner_url, watcher_url) in &pairs {
        let (_, watcher) = client.ws(watcher_url.clone()).max_frame_size(64 * 1024).connect().await.unwrap();
        let (_, runner) = client.ws(runner_url.clone()).connect().await.unwrap();
        let (sink, mut runner_stream) = runner.split();
        // drain whatever the runner's socket is sent (hello, offers)
        actix_web::rt::spawn(async move { while runner_stream.next().await.is_some() {} });
        let tally = tally.clone();
        let (_, mut watch_stream) = watcher.split::<awc::ws::Message>();
        actix_web::rt::spawn(async move {
            while let Some(Ok(frame)) = watch_stream.next().await {
                let awc::ws::Frame::Text(bytes) = frame else { continue };
                let now = started.elapsed().as_micros() as u64;
                let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                // the ping's send time rides in its longitude (µs since start)
                if let Some(lng) = v["longitude"].as_f64() {
                    let sent = ((lng - 100.0) * 1e8).round() as u64;
                    let mut t = tally.borrow_mut();
                    t.received += 1;
                    let _ = t.latency.record(now.saturating_sub(sent).max(1));
                }
            }
        });
        sinks.push(sink);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("fan-out: {} — {} runner→watcher pairs, {:.0}s per step", args.label, pairs.len(), args.seconds);
    println!("  {:>9} {:>10} {:>10} {:>9} {:>9} {:>9}", "target/s", "sent/s", "recv/s", "p50 ms", "p99 ms", "max ms");
    let mut best = (0.0, 0.0, 0.0);
    for rate in &args.rates {
        {
            let mut t = tally.borrow_mut();
            t.received = 0;
            t.latency.reset();
        }
        let step = Duration::from_secs_f64(args.seconds);
        let tick = Duration::from_millis(2);
        let begun = Instant::now();
        let mut sent = 0u64;
        let mut next = 0usize;
        while begun.elapsed() < step {
            let due = (begun.elapsed().as_secs_f64() * *rate as f64) as u64;
            let mut touched = Vec::new();
            while sent < due {
                let i = next % sinks.len();
                next += 1;
                let micros = started.elapsed().as_micros() as f64;
                // lat stays put; lng = 100 + µs × 1e-8 (exact to the µs for hours)
                let frame =
                    json!({"type": "location", "latitude": 3.0, "longitude": 100.0 + micros * 1e-8, "speed_kmh": 30});
                let _ = sinks[i].feed(awc::ws::Message::Text(frame.to_string().into())).await;
                touched.push(i);
                sent += 1;
            }
            touched.sort_unstable();
            touched.dedup();
            for i in touched {
                let _ = sinks[i].flush().await;
            }
            tokio::time::sleep(tick).await;
        }
        let secs = begun.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let t = tally.borrow();
        let ms = |v: u64| v as f64 / 1000.0;
        let recv = t.received as f64 / secs;
        println!(
            "  {:>9} {:>10.0} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
            rate,
            sent as f64 / secs,
            recv,
            ms(t.latency.value_at_quantile(0.5)),
            ms(t.latency.value_at_quantile(0.99)),
            ms(t.latency.max())
        );
        let delivered = t.received as f64 / sent.max(1) as f64;
        if delivered >= 0.95 && recv > best.0 {
            best = (recv, ms(t.latency.value_at_quantile(0.5)), ms(t.latency.value_at_quantile(0.99)));
        }
        if delivered < 0.9 || ms(t.latency.value_at_quantile(0.99)) > 500.0 {
            println!("  saturated: {:.0}% delivered", delivered * 100.0);
            break;
        }
    }
    println!("  best sustained (≥95% delivered): {:.0} frames/s at p50 {:.2} ms, p99 {:.2} ms", best.0, best.1, best.2);
}
