//! REST throughput: concurrent clients creating bookings (pricing,
//! vaccination checks, one transaction with history, outbox event and inbox
//! row), then runners accepting them (eligibility under `FOR SHARE`, the
//! conditional update, trip track) — each accept followed by the runner's
//! decline, so the same runners can accept again. Prints requests/s and
//! latency p50/p99/max per phase (HDR histograms).
//!
//! ```text
//! make cluster
//! cargo run --release -p kilat-tools --bin rest_bench -- --url http://127.0.0.1:8080 --clients 16 --seconds 10
//! # --create-only: the create phase alone (no accepts), e.g. to count what one create writes
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

struct Args {
    url: String,
    clients: usize,
    seconds: f64,
    /// `--create-only`: stop after the create phase.
    create_only: bool,
}

fn args() -> Args {
    let mut out = Args { url: "http://127.0.0.1:8080".into(), clients: 16, seconds: 10.0, create_only: false };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let raw: Vec<String> = raw
        .into_iter()
        .filter(|flag| {
            let only = flag == "--create-only";
            out.create_only |= only;
            !only
        })
        .collect();
    for pair in raw.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--url" => out.url = value,
            "--clients" => out.clients = value.parse().unwrap(),
            "--seconds" => out.seconds = value.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    out
}

async fn post(client: &awc::Client, url: String, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = client.post(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let mut resp = req.send_json(&body).await.unwrap();
    let value: Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap_or(Value::Null);
    (resp.status().as_u16(), value)
}

fn ts(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn booking() -> Value {
    let address = |lat: f64, lng: f64| json!({"line1": "x", "city": "KL", "state": "WP", "country": "MY", "latitude": lat, "longitude": lng});
    json!({"pet_spec": {"pet_type": "dog", "breed": "Beagle", "name": "Rest", "weight_kg": 12.0, "age_months": 24,
             "vaccinations": [{"vaccine_name": "Rabies", "date_given": ts(-30), "expires_at": ts(300)}]},
           "pickup_address": address(3.1579, 101.7116), "dropoff_address": address(3.1178, 101.6776)})
}

fn report(name: &str, n: u64, secs: f64, h: &Histogram<u64>, errors: u64) {
    let ms = |v: u64| v as f64 / 1000.0;
    println!(
        "  {name:<8} {n:>6} in {secs:.1}s = {:>7.0}/s   p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms   errors {errors}",
        n as f64 / secs,
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
}

#[actix_web::main]
async fn main() {
    let args = args();
    let client =
        awc::Client::builder().connector(awc::Connector::new().limit(0)).timeout(Duration::from_secs(30)).finish();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let url = |p: &str| format!("{}{p}", args.url);
    let register = |email: String, role: &'static str| {
        let client = client.clone();
        let url = url("/api/v1/auth/register");
        async move {
            let body = json!({"email": email, "password": "rest-password", "full_name": "Rest", "role": role});
            let (status, v) = post(&client, url, None, body).await;
            assert_eq!(status, 201, "{v}");
            v["data"]["access_token"].as_str().unwrap().to_owned()
        }
    };
    let mut owners = Vec::new();
    let mut runners = Vec::new();
    for i in 0..args.clients {
        owners.push(register(format!("rest-owner-{tag}-{i}@example.my"), "owner").await);
        let runner = register(format!("rest-runner-{tag}-{i}@example.my"), "runner").await;
        post(
            &client,
            url("/api/v1/runners"),
            Some(&runner),
            json!({"vehicle_type": "car", "vehicle_plate": "REST", "vehicle_model": "Myvi", "air_conditioned": true}),
        )
        .await;
        post(
            &client,
            url("/api/v1/runners/me/crates"),
            Some(&runner),
            json!({"size": "large", "pet_types": ["dog"], "max_weight_kg": 40, "ventilated": true}),
        )
        .await;
        // far from the pickups: the dispatcher offers them nothing
        post(&client, url("/api/v1/runners/me/online"), Some(&runner), json!({"latitude": 5.4, "longitude": 100.3}))
            .await;
        runners.push(runner);
    }
    println!("REST: {} concurrent clients on {}, {:.0}s per phase", args.clients, args.url, args.seconds);

    // 1. create
    let created: Rc<RefCell<Vec<String>>> = Rc::default();
    let hist = Rc::new(RefCell::new(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap()));
    let errors = Rc::new(RefCell::new(0u64));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    let tasks = owners.iter().map(|owner| {
        let (client, created, hist, errors) = (client.clone(), created.clone(), hist.clone(), errors.clone());
        let url = url("/api/v1/bookings");
        async move {
            while Instant::now() < until {
                let t = Instant::now();
                let (status, v) = post(&client, url.clone(), Some(owner), booking()).await;
                let _ = hist.borrow_mut().record(t.elapsed().as_micros().max(1) as u64);
                if status == 201 {
                    created.borrow_mut().push(v["data"]["id"].as_str().unwrap().to_owned());
                } else {
                    *errors.borrow_mut() += 1;
                }
            }
        }
    });
    futures_util::future::join_all(tasks).await;
    let n = created.borrow().len() as u64;
    report("create", n, started.elapsed().as_secs_f64(), &hist.borrow(), *errors.borrow());

    if args.create_only {
        return;
    }

    // 2. accept (+ decline, untimed, so the runner is free again)
    hist.borrow_mut().reset();
    *errors.borrow_mut() = 0;
    let accepted = Rc::new(RefCell::new(0u64));
    let queue = Rc::new(RefCell::new(created.borrow().clone()));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    let tasks = runners.iter().map(|runner| {
        let (client, queue, hist, errors, accepted) =
            (client.clone(), queue.clone(), hist.clone(), errors.clone(), accepted.clone());
        let base = args.url.clone();
        async move {
            while Instant::now() < until {
                let Some(id) = queue.borrow_mut().pop() else { break };
                let t = Instant::now();
                let (status, v) =
                    post(&client, format!("{base}/api/v1/bookings/{id}/accept"), Some(runner), json!({})).await;
                let _ = hist.borrow_mut().record(t.elapsed().as_micros().max(1) as u64);
                if status != 200 {
                    eprintln!("accept: {status} {v}");
                    *errors.borrow_mut() += 1;
                    continue;
                }
                *accepted.borrow_mut() += 1;
                post(&client, format!("{base}/api/v1/bookings/{id}/decline"), Some(runner), json!({"reason": "bench"}))
                    .await;
            }
        }
    });
    futures_util::future::join_all(tasks).await;
    let n = *accepted.borrow();
    report("accept", n, started.elapsed().as_secs_f64(), &hist.borrow(), *errors.borrow());
}
