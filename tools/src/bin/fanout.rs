//! The fan-out benchmark: `--pairs` runners stream `location` pings to
//! node A, one watcher per runner listens on node B; the total ping rate
//! steps up (`--rates`) until saturation. Per step: pings sent/s, frames
//! delivered/s, ping → watcher p50/p99/max (HDR histogram). The same
//! generator drives kilat (runners on a trip, owners on
//! `/ws/tracking/:id`) or the Bun peer in `bench/bun/` (`--target bun`),
//! so the ratio compares like with like. A == B is the one-node topology.
//! `--a` and `--b` may list several nodes (comma-separated): pair i's
//! runner talks to the i-th of A, its watcher to the i-th of B (in turn),
//! e.g. `--a n1,n2,n3 --b n2,n3,n1` spreads three nodes and every ping
//! still crosses Redis.
//!
//! `--procs N` spreads the pairs over N generator processes (this binary
//! again, in worker mode), each sending its share of every step's rate on
//! a common clock; their histograms are merged. One process tops out near
//! 100k pings/s on one core, so with N ≥ 2 the ceiling is the servers'.
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
    procs: usize,
    /// seconds at the first rate before the first step, not reported
    /// (sockets, actors and subscriptions settle; one process only)
    warmup: f64,
    /// worker mode: the job file written by the parent
    worker: Option<String>,
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
        procs: 1,
        warmup: 0.0,
        worker: None,
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
            "--procs" => out.procs = value.parse::<usize>().unwrap().max(1),
            "--worker" => out.worker = Some(value),
            "--warmup" => out.warmup = value.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    if out.label.is_empty() {
        let nodes = out.a.split(',').chain(out.b.split(',')).collect::<std::collections::BTreeSet<_>>().len();
        let topology = if nodes == 1 { "one node".to_owned() } else { format!("{nodes} nodes via Redis") };
        out.label = format!("{} ({topology})", out.target);
    }
    out
}

/// The node of pair `i` in a comma-separated list of nodes.
fn nth(nodes: &str, i: usize) -> &str {
    let list: Vec<&str> = nodes.split(',').map(str::trim).collect();
    list[i % list.len()]
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
    let a = |p: &str| format!("{}{p}", nth(&args.a, 0));
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
        out.push((
            ws(nth(&args.a, i), format!("/ws?token={runner}")),
            ws(nth(&args.b, i), format!("/ws/tracking/{id}?token={owner}")),
        ));
    }
    out
}

fn bun_pairs(args: &Args) -> Vec<(String, String)> {
    let ws = |base: &str, p: String| format!("{}{p}", base.replacen("http", "ws", 1));
    (0..args.pairs)
        .map(|i| {
            (
                ws(nth(&args.a, i), format!("/ws?role=runner&booking=b{i}")),
                ws(nth(&args.b, i), format!("/ws?role=watch&booking=b{i}")),
            )
        })
        .collect()
}

struct Tally {
    received: u64,
    latency: Histogram<u64>,
}

type Sink = futures_util::stream::SplitSink<actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>, awc::ws::Message>;

/// One step's outcome in one process: pings sent and frames received over
/// `secs`, with the ping → watcher latencies (µs).
struct Step {
    rate: u64,
    sent: u64,
    received: u64,
    secs: f64,
    latency: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

/// Opens every pair's watcher and runner sockets; the watchers record
/// each ping's latency into `tally` (send time rides in the longitude,
/// µs since `started`, so a process only times its own pings).
async fn connect(
    client: &awc::Client,
    pairs: &[(String, String)],
    started: Instant,
    tally: &Rc<RefCell<Tally>>,
) -> Vec<Sink> {
    let mut sinks = Vec::new();
    for (runner_url, watcher_url) in pairs {
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
    sinks
}

/// Sends `rate` pings/s spread over the sinks for `seconds`, then waits
/// for stragglers and reads the tally.
async fn run_step(sinks: &mut [Sink], rate: u64, seconds: f64, started: Instant, tally: &Rc<RefCell<Tally>>) -> Step {
    {
        let mut t = tally.borrow_mut();
        t.received = 0;
        t.latency.reset();
    }
    let step = Duration::from_secs_f64(seconds);
    let tick = Duration::from_millis(2);
    let begun = Instant::now();
    let mut sent = 0u64;
    let mut next = 0usize;
    while begun.elapsed() < step {
        let due = (begun.elapsed().as_secs_f64() * rate as f64) as u64;
        let mut touched = Vec::new();
        while sent < due && !sinks.is_empty() {
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
    Step { rate, sent, received: t.received, secs, latency: t.latency.clone() }
}

/// Prints the table, one row per step, until a step saturates.
struct Report {
    best: (f64, f64, f64),
}

impl Report {
    fn header(label: &str, pairs: usize, seconds: f64, procs: usize) -> Self {
        let spread = if procs > 1 { format!(", {procs} generator processes") } else { String::new() };
        println!("fan-out: {label} — {pairs} runner→watcher pairs, {seconds:.0}s per step{spread}");
        println!(
            "  {:>9} {:>10} {:>10} {:>9} {:>9} {:>9}",
            "target/s", "sent/s", "recv/s", "p50 ms", "p99 ms", "max ms"
        );
        Self { best: (0.0, 0.0, 0.0) }
    }

    /// False once saturated (< 90 % delivered or p99 over 500 ms).
    fn row(&mut self, s: &Step) -> bool {
        let ms = |v: u64| v as f64 / 1000.0;
        let recv = s.received as f64 / s.secs;
        let (p50, p99) = (ms(s.latency.value_at_quantile(0.5)), ms(s.latency.value_at_quantile(0.99)));
        println!(
            "  {:>9} {:>10.0} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
            s.rate,
            s.sent as f64 / s.secs,
            recv,
            p50,
            p99,
            ms(s.latency.max())
        );
        let delivered = s.received as f64 / s.sent.max(1) as f64;
        if delivered >= 0.95 && recv > self.best.0 {
            self.best = (recv, p50, p99);
        }
        if delivered < 0.9 || p99 > 500.0 {
            println!("  saturated: {:.0}% delivered", delivered * 100.0);
            return false;
        }
        true
    }

    fn finish(&self) {
        let (recv, p50, p99) = self.best;
        println!("  best sustained (≥95% delivered): {recv:.0} frames/s at p50 {p50:.2} ms, p99 {p99:.2} ms");
    }
}

fn unix_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// Waits until the wall clock reaches `at` (µs since the epoch).
async fn until(at: u64) {
    let now = unix_micros();
    if at > now {
        tokio::time::sleep(Duration::from_micros(at - now)).await;
    }
}

/// How far apart the workers' steps start: the step, the straggler wait, slack.
fn step_period_us(seconds: f64) -> u64 {
    ((seconds + 2.5) * 1e6) as u64
}

/// Worker mode: this process's pairs and share of each rate, on the
/// parent's clock; prints one JSON line per step (the histogram as
/// value/count pairs).
async fn worker(client: &awc::Client, job: &str) {
    let job: Value = serde_json::from_str(&std::fs::read_to_string(job).unwrap()).unwrap();
    let pairs: Vec<(String, String)> = serde_json::from_value(job["pairs"].clone()).unwrap();
    let rates: Vec<u64> = serde_json::from_value(job["rates"].clone()).unwrap();
    let (t0, seconds, share) =
        (job["t0_us"].as_u64().unwrap(), job["seconds"].as_f64().unwrap(), job["share"].as_f64().unwrap());
    let started = Instant::now();
    let tally = Rc::new(RefCell::new(Tally { received: 0, latency: histogram() }));
    let mut sinks = connect(client, &pairs, started, &tally).await;
    for (k, rate) in rates.iter().enumerate() {
        until(t0 + k as u64 * step_period_us(seconds)).await;
        let step = run_step(&mut sinks, (*rate as f64 * share).round() as u64, seconds, started, &tally).await;
        let buckets: Vec<(u64, u64)> =
            step.latency.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect();
        println!(
            "{}",
            json!({"rate": rate, "sent": step.sent, "received": step.received, "secs": step.secs, "hist": buckets})
        );
        if step.received < step.sent * 9 / 10 {
            break; // saturated: the parent stops its report here too
        }
    }
}

/// Spreads the pairs over `procs` workers and merges their steps.
fn spread(args: &Args, pairs: &[(String, String)]) {
    let exe = std::env::current_exe().unwrap();
    let dir = std::env::temp_dir();
    // time for every worker to open its sockets before the first step
    let t0 = unix_micros() + 3_000_000 + pairs.len() as u64 * 10_000;
    let mut children = Vec::new();
    for w in 0..args.procs {
        let mine: Vec<&(String, String)> = pairs.iter().skip(w).step_by(args.procs).collect();
        let share = mine.len() as f64 / pairs.len() as f64;
        let path = dir.join(format!("kilat-fanout-{}-{w}.json", std::process::id()));
        let job = json!({"pairs": mine, "rates": args.rates, "t0_us": t0, "seconds": args.seconds, "share": share});
        std::fs::write(&path, job.to_string()).unwrap();
        let child = std::process::Command::new(&exe)
            .args(["--worker", path.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        children.push((child, path));
    }
    let mut steps: Vec<Step> = Vec::new();
    for (child, path) in children {
        let out = child.wait_with_output().unwrap();
        let _ = std::fs::remove_file(path);
        for (k, line) in String::from_utf8_lossy(&out.stdout).lines().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            if steps.len() <= k {
                let rate = v["rate"].as_u64().unwrap();
                steps.push(Step { rate, sent: 0, received: 0, secs: 0.0, latency: histogram() });
            }
            let step = &mut steps[k];
            step.sent += v["sent"].as_u64().unwrap();
            step.received += v["received"].as_u64().unwrap();
            step.secs = step.secs.max(v["secs"].as_f64().unwrap());
            for pair in v["hist"].as_array().unwrap() {
                let _ = step.latency.record_n(pair[0].as_u64().unwrap().max(1), pair[1].as_u64().unwrap());
            }
        }
    }
    let mut report = Report::header(&args.label, pairs.len(), args.seconds, args.procs);
    for step in &steps {
        if !report.row(step) {
            break;
        }
    }
    report.finish();
}

#[actix_web::main]
async fn main() {
    let args = args();
    let client =
        awc::Client::builder().connector(awc::Connector::new().limit(0)).timeout(Duration::from_secs(30)).finish();
    if let Some(job) = &args.worker {
        return worker(&client, job).await;
    }
    let pairs = match args.target.as_str() {
        "kilat" => kilat_pairs(&client, &args).await,
        "bun" => bun_pairs(&args),
        other => panic!("unknown target {other}"),
    };
    if args.procs > 1 {
        // the workers are blocking children; this thread only waits for them
        return spread(&args, &pairs);
    }
    let started = Instant::now();
    let tally = Rc::new(RefCell::new(Tally { received: 0, latency: histogram() }));
    let mut sinks = connect(&client, &pairs, started, &tally).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    if args.warmup > 0.0 {
        run_step(&mut sinks, args.rates.first().copied().unwrap_or(1000), args.warmup, started, &tally).await;
    }
    let mut report = Report::header(&args.label, pairs.len(), args.seconds, 1);
    for rate in &args.rates {
        let step = run_step(&mut sinks, *rate, args.seconds, started, &tally).await;
        if !report.row(&step) {
            break;
        }
    }
    report.finish();
}
