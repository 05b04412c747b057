//! Dispatch benchmark: N online runners spread over greater Kuala Lumpur in
//! PostGIS (seeded straight into the database), bookings created at a
//! steady rate through the REST API of a running node. For each booking the
//! nearest runner (one of those holding a `/ws` socket; its pickup is placed
//! on that runner) must receive the `offer`; it accepts over the socket.
//! Prints request→offer-on-socket latency (p50/p99/max), bookings matched
//! per second, and the server's own booking-commit→offer figures.
//!
//! ```text
//! KILAT_ENVIRONMENT=local target/release/kilat serve &          # dispatch on (the default)
//! KILAT_ENVIRONMENT=local cargo run --release -p kilat-tools --bin dispatch_bench -- \
//!     --url http://127.0.0.1:8080 --runners 10000 --bookings 300 --rate 50
//! ```
//! It reads the database URL from the same configuration as the server and
//! removes the runners and bookings it made when it ends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Double, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

struct Args {
    url: String,
    runners: i64,
    bookings: usize,
    rate: f64,
}

fn args() -> Args {
    let mut out = Args { url: "http://127.0.0.1:8080".into(), runners: 10_000, bookings: 300, rate: 50.0 };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let v = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--url" => out.url = v,
            "--runners" => out.runners = v.parse().unwrap(),
            "--bookings" => out.bookings = v.parse().unwrap(),
            "--rate" => out.rate = v.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    out
}

#[derive(diesel::QueryableByName)]
struct Spot {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Double)]
    latitude: f64,
    #[diesel(sql_type = Double)]
    longitude: f64,
}

#[actix_web::main]
async fn main() {
    let args = args();
    let settings = kilat::config::Settings::load().expect("configuration");
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut db = AsyncPgConnection::establish(&settings.database.url).await.expect("database");
    let passwords = kilat::auth::Passwords::new(&settings.auth).unwrap();
    let hash = passwords.hash("bench-password").unwrap();

    // 1. Seed N online runners with a medium dog crate, spread over KL.
    let seeded = Instant::now();
    kilat_tools::seed_runners(&mut db, &format!("bench-{tag}-"), args.runners, &hash).await.unwrap();
    diesel::sql_query(
        "INSERT INTO runner_crates (id, runner_id, size, size_rank, pet_types, max_weight_kg, ventilated) \
         SELECT gen_random_uuid(), r.id, 'medium', 2, ARRAY['dog','cat'], 20, true \
         FROM runners r JOIN users u ON u.id = r.user_id WHERE u.email LIKE 'bench-' || $1 || '-%'",
    )
    .bind::<Text, _>(&tag)
    .execute(&mut db)
    .await
    .unwrap();
    diesel::sql_query("ANALYZE runners").execute(&mut db).await.unwrap();
    println!("seeded {} online runners in {:.1}s", args.runners, seeded.elapsed().as_secs_f64());

    // 2. The runners that will be offered jobs: log in, open their sockets.
    let spots: Vec<Spot> = diesel::sql_query(
        "SELECT u.email, r.latitude, r.longitude FROM runners r JOIN users u ON u.id = r.user_id \
         WHERE u.email LIKE 'bench-' || $1 || '-%' ORDER BY u.email LIMIT $2",
    )
    .bind::<Text, _>(&tag)
    .bind::<BigInt, _>(args.bookings as i64)
    .load(&mut db)
    .await
    .unwrap();
    let client =
        awc::Client::builder().connector(awc::Connector::new().limit(0)).timeout(Duration::from_secs(30)).finish();
    let post = |path: String, token: Option<String>, body: Value| {
        let client = client.clone();
        let url = format!("{}{path}", args.url);
        async move {
            let mut req = client.post(url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let mut resp = req.send_json(&body).await.unwrap();
            let body: Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap_or(Value::Null);
            (resp.status().as_u16(), body)
        }
    };
    let arrivals: Rc<RefCell<HashMap<String, Instant>>> = Rc::default();
    let matched: Rc<RefCell<usize>> = Rc::default();
    let mut by_spot = Vec::new();
    for spot in &spots {
        let (_, body) =
            post("/api/v1/auth/login".into(), None, json!({"email": spot.email, "password": "bench-password"})).await;
        let token = body["data"]["access_token"].as_str().unwrap().to_owned();
        let ws_url = format!("{}/ws?token={token}", args.url.replace("http://", "ws://"));
        let (_, framed) = client.ws(ws_url).connect().await.unwrap();
        let (mut sink, mut stream) = framed.split();
        let (arrivals, matched) = (arrivals.clone(), matched.clone());
        actix_web::rt::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let awc::ws::Frame::Text(bytes) = frame else { continue };
                let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                match v["type"].as_str() {
                    Some("offer") => {
                        let bid = v["booking_id"].as_str().unwrap_or("").to_owned();
                        arrivals.borrow_mut().entry(bid.clone()).or_insert_with(Instant::now);
                        let accept = json!({"type": "offer.accept", "booking_id": bid});
                        let _ = sink.send(awc::ws::Message::Text(accept.to_string().into())).await;
                    }
                    Some("offer.accepted") => *matched.borrow_mut() += 1,
                    _ => {}
                }
            }
        });
        by_spot.push((spot.latitude, spot.longitude));
    }
    let owner_email = format!("bench-owner-{tag}@example.my");
    let (_, body) = post(
        "/api/v1/auth/register".into(),
        None,
        json!({"email": owner_email, "password": "bench-password", "full_name": "Bench Owner", "role": "owner"}),
    )
    .await;
    let owner = body["data"]["access_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 3. Bookings at a steady rate, each picked up where one socket runner stands.
    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / args.rate);
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let address = |lat: f64, lng: f64| json!({"line1": "x", "city": "KL", "state": "WP", "country": "MY", "latitude": lat, "longitude": lng});
    for (i, (lat, lng)) in by_spot.iter().enumerate() {
        let body = json!({"pet_spec": {"pet_type": "dog", "name": "Bench", "weight_kg": 10},
                          "pickup_address": address(*lat, *lng), "dropoff_address": address(lat + 0.02, lng + 0.02)});
        let at = Instant::now();
        let (status, created) = post("/api/v1/bookings".into(), Some(owner.clone()), body).await;
        assert_eq!(status, 201, "{created}");
        sent.insert(created["data"]["id"].as_str().unwrap().to_owned(), at);
        let due = started + gap * (i as u32 + 1);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while *matched.borrow() < sent.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat = kilat_tools::histogram().unwrap();
    for (bid, at) in &sent {
        if let Some(t) = arrivals.borrow().get(bid) {
            kilat_tools::record(&mut lat, t.duration_since(*at));
        }
    }
    println!("dispatch with {} online runners in PostGIS, {} bookings at {}/s", args.runners, sent.len(), args.rate);
    println!("  offers received on the nearest runner's socket: {} of {}", lat.len(), sent.len());
    println!("  booking request -> offer frame: {}", kilat_tools::percentiles(&lat));
    println!(
        "  matched {} bookings in {:.2}s: {:.1} bookings/s",
        matched.borrow(),
        elapsed,
        *matched.borrow() as f64 / elapsed
    );

    // 4. The server's own view (commit → offer published), and cleanup.
    let admin_email = format!("bench-admin-{tag}@example.my");
    let _ = kilat::app::create_admin(&settings, &admin_email, "bench-password", "Bench Admin").await;
    let (_, body) =
        post("/api/v1/auth/login".into(), None, json!({"email": admin_email, "password": "bench-password"})).await;
    if let Some(token) = body["data"]["access_token"].as_str() {
        let mut resp =
            client.get(format!("{}/api/v1/admin/dispatch/stats", args.url)).bearer_auth(token).send().await.unwrap();
        let stats: Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap_or(Value::Null);
        let d = &stats["data"];
        println!(
            "  server: booking commit -> offer published p50 {:.2} ms, p99 {:.2} ms; offers {}, matched {}",
            d["first_offer_ms_p50"].as_f64().unwrap_or(0.0),
            d["first_offer_ms_p99"].as_f64().unwrap_or(0.0),
            d["offers_sent"],
            d["matched"]
        );
    }
    for sql in [
        "DELETE FROM bookings WHERE owner_id IN (SELECT id FROM users WHERE email LIKE 'bench-%' || $1 || '%') \
            OR runner_id IN (SELECT id FROM users WHERE email LIKE 'bench-%' || $1 || '%')",
        "DELETE FROM users WHERE email LIKE 'bench-%' || $1 || '%'",
    ] {
        // the nodes' dispatch sweeps may hold a row this delete needs: a
        // deadlock is retried
        for attempt in 1.. {
            match diesel::sql_query(sql).bind::<Text, _>(&tag).execute(&mut db).await {
                Ok(_) => break,
                Err(e) if attempt < 5 => eprintln!("cleanup retried: {e}"),
                Err(e) => panic!("cleanup failed: {e}"),
            }
        }
    }
}
