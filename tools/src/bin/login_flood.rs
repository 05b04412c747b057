//! Memory under a login flood: a node (in this process, with the configured
//! argon2 cost, 19 MiB per hash by default) takes `--rounds` bursts of
//! `--concurrency` simultaneous failed logins, and the process's resident
//! memory is printed before, after each burst, and at its peak.
//!
//! ```text
//! KILAT_ENVIRONMENT=local cargo run --release -p kilat-tools --bin login_flood -- --concurrency 64 --rounds 5
//! # the unbounded behaviour, for comparison (one hashing thread per request):
//! KILAT_ENVIRONMENT=local cargo run --release -p kilat-tools --bin login_flood -- --threads 64 --queue 64
//! ```
//! `--threads`/`--queue` override `auth.password_hash_concurrency` and
//! `auth.password_hash_queue`. The rate limit is lifted for the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::json;

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[actix_web::main]
async fn main() {
    let (mut concurrency, mut rounds, mut threads, mut queue) = (64usize, 5usize, None, None);
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let v: usize = pair.get(1).and_then(|v| v.parse().ok()).expect("a number after each flag");
        match pair[0].as_str() {
            "--concurrency" => concurrency = v,
            "--rounds" => rounds = v,
            "--threads" => threads = Some(v),
            "--queue" => queue = Some(v),
            other => panic!("unknown flag {other}"),
        }
    }
    let mut settings = kilat::config::Settings::load().expect("configuration");
    settings.server.port = 0;
    settings.rate_limit.auth_per_minute = 1_000_000;
    settings.dispatch.enabled = false;
    if let Some(t) = threads {
        settings.auth.password_hash_concurrency = t;
    }
    if let Some(q) = queue {
        settings.auth.password_hash_queue = q;
    }
    let app = kilat::app::Application::build(settings.clone(), kilat::app::Dependencies::default()).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let client = awc::Client::builder().timeout(Duration::from_secs(120)).finish();
    let email = format!("flood-{}@example.my", uuid::Uuid::new_v4().simple());
    let register = json!({"email": email, "password": "flood-password", "full_name": "Flood Target", "role": "owner"});
    let resp = client.post(format!("{base}/api/v1/auth/register")).send_json(&register).await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);

    let hash_threads = match settings.auth.password_hash_concurrency {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    println!(
        "argon2 {} KiB x {} iterations; hashing threads {}, queue {}; {} rounds of {} concurrent failed logins",
        settings.auth.argon2_memory_kib,
        settings.auth.argon2_iterations,
        hash_threads,
        settings.auth.password_hash_queue,
        rounds,
        concurrency
    );
    println!("baseline RSS {:>8} KiB", rss_kib("VmRSS:"));
    let bad = json!({"email": email, "password": "wrong-password"});
    for round in 1..=rounds {
        let started = Instant::now();
        let flood = (0..concurrency).map(|_| {
            let (client, base, bad) = (client.clone(), base.clone(), bad.clone());
            async move {
                let resp = client.post(format!("{base}/api/v1/auth/login")).send_json(&bad).await;
                resp.map(|r| r.status().as_u16()).unwrap_or(0)
            }
        });
        let statuses = futures_util::future::join_all(flood).await;
        let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
        println!(
            "round {round}: {:>3} x 401, {:>3} x 503, {:>3} other in {:>5} ms; RSS {:>8} KiB",
            count(401),
            count(503),
            statuses.len() - count(401) - count(503),
            started.elapsed().as_millis(),
            rss_kib("VmRSS:")
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("after 1 s idle RSS {:>8} KiB; peak (VmHWM) {:>8} KiB", rss_kib("VmRSS:"), rss_kib("VmHWM:"));
    let ok = client
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(&json!({"email": email, "password": "flood-password"}))
        .await
        .unwrap();
    println!("the real user signs in afterwards: {}", ok.status().as_u16());
}
