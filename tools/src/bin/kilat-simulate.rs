//! `kilat simulate` (this binary, `kilat-simulate`, run by the server's CLI): drives a running cluster like a city. Runners sign up,
//! go online inside a box (greater Kuala Lumpur by default) and stream
//! `location` pings over `/ws`, answering offers and carrying pets; owners
//! book trips at a set rate, pay (the simulated gateway holds at once),
//! watch the trip on `/ws/tracking/:id` and confirm delivery. A progress
//! line every second; at the end a report with HDR-histogram latencies:
//! time to offer, time to assignment, ping → owner.
//!
//! `--cities N` spreads the city over N Malaysian cities (runners in turn,
//! each booking in a random one). `--nodes` and `--redis` name the nodes
//! and the Redis nodes (a cluster's masters) to read at the busiest moment:
//! sockets and bus messages per node, and messages and CPU per Redis shard,
//! so docs/CAPACITY.md's ratios can be checked against a run.
//!
//! Everything runs on one thread (awc is single-threaded): the shared
//! tallies live in an `Rc<RefCell<…>>`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use kilat_tools::histogram;
use rand::Rng;
use serde_json::{Value, json};

/// Drive a running Kilat cluster like a city and report latencies.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "kilat simulate", version)]
pub struct Args {
    /// the cluster's base URL (the load balancer)
    #[arg(long, default_value = "http://127.0.0.1:8080", value_parser = base_url)]
    pub url: String,
    /// runners signing up and streaming pings
    #[arg(long, default_value_t = 30, value_parser = count)]
    pub runners: usize,
    /// owners booking trips
    #[arg(long, default_value_t = 10, value_parser = count)]
    pub owners: usize,
    /// seconds of bookings (trips in flight then finish)
    #[arg(long, default_value = "30", value_parser = seconds)]
    pub duration: Duration,
    /// location pings per second per runner
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    pub ping_hz: f64,
    /// new bookings per second, over all owners
    #[arg(long, default_value_t = 0.5, value_parser = positive)]
    pub bookings_per_sec: f64,
    /// where everything happens: south,west,north,east
    #[arg(long = "box", default_value = "3.00,101.55,3.25,101.80", value_parser = area)]
    pub area: (f64, f64, f64, f64),
    /// cities to spread over, 1-8 (more than one: the first N of a built-in
    /// list of Malaysian cities, in place of --box)
    #[arg(long, default_value_t = 1, value_parser = cities)]
    pub cities: usize,
    /// the nodes' own base URLs, comma-separated: sockets and bus messages
    /// per node are read from their /metrics
    #[arg(long, value_delimiter = ',', value_parser = base_url)]
    pub nodes: Vec<String>,
    /// Redis nodes as host:port, comma-separated (a cluster's masters):
    /// messages and CPU per shard are read from their INFO
    #[arg(long = "redis", value_delimiter = ',')]
    pub redis: Vec<String>,
    /// the accounts' name: a run with the same one signs the same runners
    /// and owners in again, with whatever trips they left unfinished (by
    /// default each run has fresh accounts)
    #[arg(long, default_value_t = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned())]
    pub accounts: String,
}

/// south, west, north, east
type Area = (f64, f64, f64, f64);

/// The cities `--cities` spreads over.
const CITIES: [(&str, Area); 8] = [
    ("Kuala Lumpur", (3.00, 101.55, 3.25, 101.80)),
    ("George Town", (5.30, 100.20, 5.48, 100.34)),
    ("Johor Bahru", (1.42, 103.65, 1.60, 103.88)),
    ("Ipoh", (4.53, 101.03, 4.66, 101.15)),
    ("Kota Kinabalu", (5.88, 116.03, 6.04, 116.15)),
    ("Kuching", (1.48, 110.28, 1.62, 110.42)),
    ("Melaka", (2.15, 102.19, 2.27, 102.31)),
    ("Seremban", (2.67, 101.88, 2.77, 101.99)),
];

impl Args {
    /// The boxes runners and bookings are spread over.
    fn boxes(&self) -> Vec<Area> {
        if self.cities <= 1 { vec![self.area] } else { CITIES[..self.cities].iter().map(|(_, b)| *b).collect() }
    }
}

fn cities(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(n) if (1..=CITIES.len()).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from 1 to {}", CITIES.len())),
    }
}

fn base_url(raw: &str) -> Result<String, String> {
    if raw.starts_with("http://") || raw.starts_with("https://") {
        Ok(raw.trim_end_matches('/').to_owned())
    } else {
        Err("must start with http:// or https://".into())
    }
}

fn count(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number above 0".into()),
    }
}

fn positive(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err("must be a positive number".into()),
    }
}

fn seconds(raw: &str) -> Result<Duration, String> {
    positive(raw).map(Duration::from_secs_f64)
}

fn area(raw: &str) -> Result<(f64, f64, f64, f64), String> {
    let v: Vec<f64> = raw.split(',').filter_map(|x| x.trim().parse().ok()).collect();
    match v[..] {
        [s, w, n, e] if s < n && w < e => Ok((s, w, n, e)),
        _ => Err("must be south,west,north,east with south < north and west < east".into()),
    }
}

#[actix_web::main]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    run(args).await;
}

/// What every task reports into.
struct World {
    started: Instant,
    created: u64,
    paid: u64,
    offered: u64,
    assigned: u64,
    delivered: u64,
    completed: u64,
    pings_sent: u64,
    /// runner tasks that came online or gave up
    runners_settled: usize,
    frames_received: u64,
    errors: BTreeMap<String, u64>,
    to_offer: Histogram<u64>,
    to_assign: Histogram<u64>,
    ping_to_owner: Histogram<u64>,
    /// booking id → when the owner asked for it
    booked_at: HashMap<String, Instant>,
    /// (latitude bits, longitude bits) of a ping → when it was sent
    sent_at: HashMap<(u64, u64), Instant>,
}

type Shared = Rc<RefCell<World>>;

impl World {
    fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().clamp(1, u128::from(u64::MAX)) as u64
}

#[derive(Clone)]
struct Api {
    client: awc::Client,
    base: String,
}

impl Api {
    /// One call; a 429, or a 503 that says when to come back (a node
    /// saturated by password hashing), waits for `Retry-After` and tries
    /// again (a few times).
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut last = 429;
        for _ in 0..30 {
            let Ok(m) = awc::http::Method::from_bytes(method.as_bytes()) else { return (0, Value::Null) };
            let mut req = self.client.request(m, format!("{}{path}", self.base));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let sent = match &body {
                Some(b) => req.send_json(b).await,
                None => req.send().await,
            };
            let Ok(mut resp) = sent else { return (0, Value::Null) };
            let status = resp.status().as_u16();
            if status == 429 || (status == 503 && resp.headers().contains_key("retry-after")) {
                last = status;
                let wait = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1u64);
                tokio::time::sleep(Duration::from_secs(wait.min(10))).await;
                continue;
            }
            let bytes = resp.body().limit(1 << 20).await.unwrap_or_default();
            return (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null));
        }
        (last, Value::Null)
    }

    fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http", "ws", 1))
    }
}

fn address(label: &str, (lat, lng): (f64, f64)) -> Value {
    json!({"line1": label, "line2": "", "city": "Kuala Lumpur", "state": "WP", "postal_code": "50000",
           "country": "Malaysia", "latitude": lat, "longitude": lng})
}

fn random_point(rng: &mut impl Rng, (s, w, n, e): (f64, f64, f64, f64)) -> (f64, f64) {
    (rng.random_range(s..n), rng.random_range(w..e))
}

/// Signs up (or logs in, when the email exists) and returns the access token.
async fn account(api: &Api, email: &str, role: &str, world: &Shared) -> Option<(String, String)> {
    let body = json!({"email": email, "password": "simulate-password", "full_name": "Sim Person", "role": role});
    let (status, resp) = api.call("POST", "/api/v1/auth/register", None, Some(body)).await;
    let resp = if status == 409 {
        let login = json!({"email": email, "password": "simulate-password"});
        api.call("POST", "/api/v1/auth/login", None, Some(login)).await.1
    } else if status != 201 {
        world.borrow_mut().error(format!("register_{status}"));
        return None;
    } else {
        resp
    };
    let token = resp["data"]["access_token"].as_str()?.to_owned();
    let id = resp["data"]["user"]["id"].as_str()?.to_owned();
    Some((token, id))
}

/// Where a runner is heading.
enum Leg {
    Wander((f64, f64)),
    ToPickup { booking: String, pickup: (f64, f64), dropoff: (f64, f64) },
    ToDropoff { booking: String, dropoff: (f64, f64) },
}

/// Fraction of the remaining way covered per ping on a trip (time is
/// compressed: a leg takes a handful of pings, reported at 40 km/h).
const TRIP_STEP: f64 = 0.35;
const ARRIVED_DEG: f64 = 0.0004;
/// The fastest a simulated runner moves between two pings (the server
/// refuses a position implying more than 250 km/h).
const MOST_KMH: f64 = 200.0;
const KM_PER_DEGREE: f64 = 111.0;

/// Signs a runner up (or in), with a profile and a crate, online at a
/// random point of its city, with its `/ws` socket open.
async fn runner_ready(
    api: &Api,
    args: &Args,
    world: &Shared,
    index: usize,
) -> Option<(String, (f64, f64), Area, actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>)> {
    let email = format!("sim-runner-{}-{index}@sim.kilat.my", args.accounts);
    let (token, _) = account(api, &email, "runner", world).await?;
    let profile = json!({"vehicle_type": "car", "vehicle_plate": format!("SIM {index}"), "vehicle_model": "Myvi",
                         "air_conditioned": true});
    let (status, _) = api.call("POST", "/api/v1/runners", Some(&token), Some(profile)).await;
    if status == 201 {
        let crate_spec = json!({"size": "large", "pet_types": ["dog", "cat", "rabbit", "bird"], "max_weight_kg": 40,
                                "ventilated": true, "temperature_controlled": true});
        api.call("POST", "/api/v1/runners/me/crates", Some(&token), Some(crate_spec)).await;
    }
    let boxes = args.boxes();
    let area = boxes[index % boxes.len()];
    let here = random_point(&mut rand::rng(), area);
    let online = json!({"latitude": here.0, "longitude": here.1});
    let (status, _) = api.call("POST", "/api/v1/runners/me/online", Some(&token), Some(online)).await;
    if status != 200 {
        world.borrow_mut().error(format!("online_{status}"));
        return None;
    }
    let Ok((_, framed)) = api.client.ws(api.ws_url(&format!("/ws?token={token}"))).connect().await else {
        world.borrow_mut().error("ws_connect");
        return None;
    };
    Some((token, here, area, framed))
}

async fn run_runner(api: Api, args: Args, world: Shared, index: usize) {
    let ready = runner_ready(&api, &args, &world, index).await;
    world.borrow_mut().runners_settled += 1;
    let Some((token, mut here, area, framed)) = ready else { return };
    let (mut sink, mut stream) = framed.split();
    let mut leg = Leg::Wander(random_point(&mut rand::rng(), area));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.ping_hz));
    let deadline = Instant::now() + args.duration + Duration::from_secs(20);
    while Instant::now() < deadline {
        tokio::select! {
            _ = tick.tick() => {
                let (target, step) = match &leg {
                    Leg::Wander(t) => (*t, 0.05),
                    Leg::ToPickup { pickup, .. } => (*pickup, TRIP_STEP),
                    Leg::ToDropoff { dropoff, .. } => (*dropoff, TRIP_STEP),
                };
                // a little jitter keeps every ping's coordinates unique
                let jitter = rand::rng().random_range(-1e-6..1e-6);
                let (mut dlat, mut dlng) = ((target.0 - here.0) * step, (target.1 - here.1) * step);
                // never faster than the server believes (its implied-speed check)
                let most = MOST_KMH / 3600.0 / args.ping_hz / KM_PER_DEGREE;
                let moved = dlat.hypot(dlng);
                if moved > most {
                    (dlat, dlng) = (dlat * most / moved, dlng * most / moved);
                }
                here = (here.0 + dlat + jitter, here.1 + dlng);
                let arrived = (target.0 - here.0).abs() < ARRIVED_DEG && (target.1 - here.1).abs() < ARRIVED_DEG;
                let frame = json!({"type": "location", "latitude": here.0, "longitude": here.1,
                                   "speed_kmh": 40.0, "heading_degrees": 90.0});
                world.borrow_mut().sent_at.insert((here.0.to_bits(), here.1.to_bits()), Instant::now());
                if sink.send(awc::ws::Message::Text(frame.to_string().into())).await.is_err() {
                    world.borrow_mut().error("ws_closed");
                    return;
                }
                world.borrow_mut().pings_sent += 1;
                if !arrived {
                    continue;
                }
                leg = match std::mem::replace(&mut leg, Leg::Wander(here)) {
                    Leg::Wander(_) => Leg::Wander(random_point(&mut rand::rng(), area)),
                    Leg::ToPickup { booking, dropoff, .. } => {
                        let (status, _) = api.call("POST", &format!("/api/v1/bookings/{booking}/pickup"), Some(&token), Some(json!({}))).await;
                        if status == 200 { Leg::ToDropoff { booking, dropoff } } else {
                            world.borrow_mut().error(format!("pickup_{status}"));
                            Leg::Wander(random_point(&mut rand::rng(), area))
                        }
                    }
                    Leg::ToDropoff { booking, .. } => {
                        let (status, _) = api.call("POST", &format!("/api/v1/bookings/{booking}/deliver"), Some(&token), Some(json!({}))).await;
                        let mut w = world.borrow_mut();
                        if status != 200 { w.error(format!("deliver_{status}")) } else if w.booked_at.contains_key(&booking) { w.delivered += 1 }
                        Leg::Wander(random_point(&mut rand::rng(), area))
                    }
                };
            }
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else {
                    world.borrow_mut().error("ws_closed");
                    return;
                };
                let awc::ws::Frame::Text(bytes) = frame else { continue };
                let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                world.borrow_mut().frames_received += 1;
                match v["type"].as_str() {
                    Some("offer") if matches!(leg, Leg::Wander(_)) => {
                        let booking = v["booking_id"].as_str().unwrap_or_default().to_owned();
                        {
                            // bookings left over from earlier runs are carried too, but not counted
                            let mut w = world.borrow_mut();
                            if let Some(at) = w.booked_at.get(&booking).copied() {
                                w.offered += 1;
                                let _ = w.to_offer.record(micros(at.elapsed()));
                            }
                        }
                        let accept = json!({"type": "offer.accept", "booking_id": booking});
                        let _ = sink.send(awc::ws::Message::Text(accept.to_string().into())).await;
                        let point = |a: &Value| (a["latitude"].as_f64().unwrap_or(here.0), a["longitude"].as_f64().unwrap_or(here.1));
                        leg = Leg::ToPickup { booking, pickup: point(&v["pickup_address"]), dropoff: point(&v["dropoff_address"]) };
                    }
                    Some("offer.accepted") => {
                        let booking = v["booking_id"].as_str().unwrap_or_default();
                        let mut w = world.borrow_mut();
                        if let Some(at) = w.booked_at.get(booking).copied() {
                            w.assigned += 1;
                            let _ = w.to_assign.record(micros(at.elapsed()));
                        }
                    }
                    Some("offer") => {
                        let decline = json!({"type": "offer.decline", "booking_id": v["booking_id"]});
                        let _ = sink.send(awc::ws::Message::Text(decline.to_string().into())).await;
                    }
                    Some("error") => {
                        let code = v["code"].as_str().unwrap_or("unknown").to_owned();
                        if code == "offer_failed" {
                            leg = Leg::Wander(here);
                        }
                        world.borrow_mut().error(format!("ws_{code}"));
                    }
                    _ => {}
                }
            }
        }
    }
}

/// One booking from the owner's side: book, pay, watch, confirm.
async fn run_trip(api: Api, args: Args, world: Shared, token: String) {
    let mut rng = rand::rng();
    let boxes = args.boxes();
    let city = boxes[rng.random_range(0..boxes.len())];
    let pickup = random_point(&mut rng, city);
    let dropoff = (pickup.0 + rng.random_range(-0.02..0.02), pickup.1 + rng.random_range(-0.02..0.02));
    let body = json!({
        "pet_spec": {"pet_type": "dog", "breed": "Kampung", "name": "Sim", "weight_kg": 12.0, "age_months": 24},
        "pickup_address": address("Pickup", pickup),
        "dropoff_address": address("Dropoff", dropoff),
        "notes": "simulated"
    });
    let asked = Instant::now();
    let (status, created) = api.call("POST", "/api/v1/bookings", Some(&token), Some(body)).await;
    if status != 201 {
        world.borrow_mut().error(format!("book_{status}"));
        return;
    }
    let booking = created["data"]["id"].as_str().unwrap_or_default().to_owned();
    let price = created["data"]["estimated_price_cents"].as_i64().unwrap_or(0);
    {
        let mut w = world.borrow_mut();
        w.created += 1;
        w.booked_at.insert(booking.clone(), asked);
    }
    let pay = json!({"booking_id": booking, "amount_cents": price, "currency": "MYR",
                     "customer_email": "owner@sim.kilat.my"});
    let (status, _) = api.call("POST", "/api/v1/payments/initiate", Some(&token), Some(pay)).await;
    if status == 201 {
        world.borrow_mut().paid += 1;
    } else {
        world.borrow_mut().error(format!("pay_{status}"));
    }
    let url = api.ws_url(&format!("/ws/tracking/{booking}?token={token}&events=status"));
    let Ok((_, mut feed)) = api.client.ws(url).connect().await else {
        world.borrow_mut().error("tracking_connect");
        return;
    };
    let deadline = Instant::now() + args.duration + Duration::from_secs(20);
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline.into(), feed.next()).await {
        let awc::ws::Frame::Text(bytes) = frame else { continue };
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        {
            let mut w = world.borrow_mut();
            w.frames_received += 1;
            if let (Some(lat), Some(lng)) = (v["latitude"].as_f64(), v["longitude"].as_f64()) {
                if let Some(at) = w.sent_at.remove(&(lat.to_bits(), lng.to_bits())) {
                    let _ = w.ping_to_owner.record(micros(at.elapsed()));
                }
                continue;
            }
        }
        match v["new_status"].as_str() {
            Some("delivered") => {
                let path = format!("/api/v1/bookings/{booking}/confirm");
                let (status, _) = api.call("POST", &path, Some(&token), Some(json!({}))).await;
                let mut w = world.borrow_mut();
                if status == 200 {
                    w.completed += 1
                } else {
                    w.error(format!("confirm_{status}"))
                }
                return;
            }
            Some("cancelled") => return,
            _ => {}
        }
    }
}

/// What the nodes and the Redis nodes had counted at one moment.
struct Counters {
    at: Instant,
    /// per node: (sockets open, bus messages in, bus messages out), when it answered
    nodes: Vec<Option<(f64, f64, f64)>>,
    /// per Redis node: (PUBLISH + SPUBLISH calls, CPU seconds), when it answered
    redis: Vec<Option<(u64, f64)>>,
}

async fn counters(api: &Api, args: &Args) -> Counters {
    let mut nodes = Vec::new();
    for node in &args.nodes {
        nodes.push(node_counters(&api.client, node).await);
    }
    let redis = args
        .redis
        .iter()
        .map(|addr| {
            let stats = kilat_tools::redis_info(addr, "commandstats").ok()?;
            let cpu = kilat_tools::redis_info(addr, "cpu").ok()?;
            let published =
                kilat_tools::command_calls(&stats, "spublish") + kilat_tools::command_calls(&stats, "publish");
            Some((published, kilat_tools::redis_cpu_secs(&cpu)))
        })
        .collect();
    Counters { at: Instant::now(), nodes, redis }
}

/// A node's open sockets and bus message counters, from its /metrics.
async fn node_counters(client: &awc::Client, base: &str) -> Option<(f64, f64, f64)> {
    let mut resp = client.get(format!("{base}/metrics")).send().await.ok()?;
    let body = resp.body().limit(8 << 20).await.ok()?;
    let (mut sockets, mut messages_in, mut messages_out) = (0.0, 0.0, 0.0);
    for line in String::from_utf8_lossy(&body).lines() {
        let Some((name, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        if name.starts_with("kilat_ws_connections{") {
            sockets += value;
        } else if name == r#"kilat_pubsub_messages_total{direction="in"}"# {
            messages_in = value;
        } else if name == r#"kilat_pubsub_messages_total{direction="out"}"# {
            messages_out = value;
        }
    }
    Some((sockets, messages_in, messages_out))
}

/// Per node and per Redis shard, between two readings.
fn shape(args: &Args, before: &Counters, after: &Counters) -> String {
    let secs = after.at.duration_since(before.at).as_secs_f64().max(0.001);
    let mut out = String::new();
    for (i, url) in args.nodes.iter().enumerate() {
        match (before.nodes[i], after.nodes[i]) {
            (Some((_, in0, out0)), Some((sockets, in1, out1))) => out.push_str(&format!(
                "  node {url}: {sockets:.0} sockets open, bus {:.0} msg/s in from Redis, {:.0} msg/s out\n",
                (in1 - in0) / secs,
                (out1 - out0) / secs
            )),
            _ => out.push_str(&format!("  node {url}: /metrics did not answer\n")),
        }
    }
    for (i, addr) in args.redis.iter().enumerate() {
        match (before.redis[i], after.redis[i]) {
            (Some((p0, c0)), Some((p1, c1))) => out.push_str(&format!(
                "  redis {addr}: {:.0} msg/s published, CPU {:.1} % of a core\n",
                p1.saturating_sub(p0) as f64 / secs,
                (c1 - c0) / secs * 100.0
            )),
            _ => out.push_str(&format!("  redis {addr}: INFO did not answer\n")),
        }
    }
    out
}

fn line(w: &World) -> String {
    let secs = w.started.elapsed().as_secs_f64();
    format!(
        "[{secs:6.1}s] booked {} paid {} offered {} assigned {} delivered {} completed {} | pings {} ({:.0}/s) frames in {} | errors {}",
        w.created,
        w.paid,
        w.offered,
        w.assigned,
        w.delivered,
        w.completed,
        w.pings_sent,
        w.pings_sent as f64 / secs.max(0.001),
        w.frames_received,
        w.errors.values().sum::<u64>()
    )
}

fn summary(name: &str, h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return format!("  {name:<26} no samples");
    }
    let ms = |v: u64| v as f64 / 1000.0;
    format!(
        "  {name:<26} n={:<6} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
        h.len(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

/// Runs the simulation and prints the report; returns it too.
pub async fn run(args: Args) -> String {
    let client =
        awc::Client::builder().connector(awc::Connector::new().limit(0)).timeout(Duration::from_secs(30)).finish();
    let api = Api { client, base: args.url.clone() };
    let (Ok(to_offer), Ok(to_assign), Ok(ping_to_owner)) = (histogram(), histogram(), histogram()) else {
        return "histograms could not be created".into();
    };
    let world: Shared = Rc::new(RefCell::new(World {
        started: Instant::now(),
        created: 0,
        paid: 0,
        offered: 0,
        assigned: 0,
        delivered: 0,
        completed: 0,
        pings_sent: 0,
        runners_settled: 0,
        frames_received: 0,
        errors: BTreeMap::new(),
        to_offer,
        to_assign,
        ping_to_owner,
        booked_at: HashMap::new(),
        sent_at: HashMap::new(),
    }));
    eprintln!(
        "simulating {} runners and {} owners on {} for {:.0}s ({} ping/s per runner, {} bookings/s)",
        args.runners,
        args.owners,
        args.url,
        args.duration.as_secs_f64(),
        args.ping_hz,
        args.bookings_per_sec
    );
    for i in 0..args.runners {
        actix_web::rt::spawn(run_runner(api.clone(), args.clone(), world.clone(), i));
    }
    let mut owners = Vec::new();
    for i in 0..args.owners {
        if let Some((token, _)) =
            account(&api, &format!("sim-owner-{}-{i}@sim.kilat.my", args.accounts), "owner", &world).await
        {
            owners.push(token);
        }
    }
    if owners.is_empty() {
        return format!("no owner could sign up on {}: is the cluster running?", args.url);
    }
    // every runner online (or given up) before the first booking: signing
    // hundreds in at once keeps a small box busy hashing passwords
    let waiting = Instant::now();
    while world.borrow().runners_settled < args.runners && waiting.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    world.borrow_mut().started = Instant::now();
    let before = counters(&api, &args).await;
    let live = std::io::stderr().is_terminal();
    let progress = {
        let world = world.clone();
        actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let text = line(&world.borrow());
                if live {
                    eprint!("\r{text}");
                    let _ = std::io::stderr().flush();
                } else {
                    eprintln!("{text}");
                }
            }
        })
    };
    let gap = Duration::from_secs_f64(1.0 / args.bookings_per_sec);
    let started = Instant::now();
    let mut n = 0u32;
    while started.elapsed() < args.duration {
        let token = owners[n as usize % owners.len()].clone();
        actix_web::rt::spawn(run_trip(api.clone(), args.clone(), world.clone(), token));
        n += 1;
        if let Some(wait) = (started + gap * n).checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    // the busiest moment: every runner online, bookings in flight
    let after = counters(&api, &args).await;
    // let the trips in flight finish
    let drain = Instant::now() + Duration::from_secs(20);
    while Instant::now() < drain {
        let settled = {
            let w = world.borrow();
            w.created > 0 && w.completed + w.errors.values().sum::<u64>() >= w.created
        };
        if settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    progress.abort();
    if live {
        eprintln!();
    }
    let w = world.borrow();
    let secs = args.duration.as_secs_f64();
    let mut report = String::new();
    report.push_str(&format!(
        "simulation report ({} runners, {} owners, {:.0}s on {})\n",
        args.runners, args.owners, secs, args.url
    ));
    if args.cities > 1 {
        let names: Vec<&str> = CITIES[..args.cities].iter().map(|(name, _)| *name).collect();
        report.push_str(&format!("  cities: {}\n", names.join(", ")));
    }
    report.push_str(&format!(
        "  bookings: {} created ({:.2}/s), {} paid, {} assigned, {} delivered, {} completed\n",
        w.created,
        w.created as f64 / secs,
        w.paid,
        w.assigned,
        w.delivered,
        w.completed
    ));
    report.push_str(&format!(
        "  frames: {} pings sent ({:.0}/s), {} frames received ({:.0}/s)\n",
        w.pings_sent,
        w.pings_sent as f64 / w.started.elapsed().as_secs_f64(),
        w.frames_received,
        w.frames_received as f64 / w.started.elapsed().as_secs_f64()
    ));
    report.push_str(&summary("booking → offer", &w.to_offer));
    report.push('\n');
    report.push_str(&summary("booking → assigned", &w.to_assign));
    report.push('\n');
    report.push_str(&summary("ping → owner", &w.ping_to_owner));
    report.push('\n');
    report.push_str(&shape(&args, &before, &after));
    if w.errors.is_empty() {
        report.push_str("  errors: none\n");
    } else {
        let list: Vec<String> = w.errors.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
        report.push_str(&format!("  errors: {}\n", list.join(", ")));
    }
    println!("{report}");
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    use clap::Parser;

    fn parse(words: &[&str]) -> Result<Args, String> {
        Args::try_parse_from(std::iter::once("kilat-simulate").chain(words.iter().copied())).map_err(|e| e.to_string())
    }

    #[test]
    fn flags_parse_and_bad_ones_are_named() {
        let a = parse(&["--runners", "5", "--box", "3.0,101.5,3.2,101.7", "--duration", "2.5"]).unwrap();
        assert_eq!(a.runners, 5);
        assert_eq!(a.area, (3.0, 101.5, 3.2, 101.7));
        assert_eq!(a.duration, Duration::from_millis(2500));
        assert_eq!(parse(&[]).unwrap().url, "http://127.0.0.1:8080");
        assert!(parse(&["--box", "3.2,101.5,3.0,101.7"]).unwrap_err().contains("--box"));
        assert!(parse(&["--runners"]).unwrap_err().contains("--runners"));
        assert!(parse(&["--owners", "0"]).is_err());
        assert!(parse(&["--ping-hz", "-1"]).is_err());
        assert_eq!(parse(&[]).unwrap().boxes(), vec![(3.00, 101.55, 3.25, 101.80)]);
        let spread = parse(&["--cities", "3", "--nodes", "http://a:1,http://b:2", "--redis", "h:7101,h:7102"]).unwrap();
        assert_eq!(spread.boxes().len(), 3);
        assert_eq!(spread.nodes, ["http://a:1", "http://b:2"]);
        assert_eq!(spread.redis, ["h:7101", "h:7102"]);
        assert!(parse(&["--cities", "9"]).unwrap_err().contains("--cities"));
        assert!(parse(&["--nodes", "a:1"]).unwrap_err().contains("--nodes"));
    }
}
