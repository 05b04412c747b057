//! Operators' windows: `/metrics` scrapes clean (a Prometheus text-format
//! parser stands in for promtool) and carries the series ops rely on;
//! `/docs` serves Swagger UI from the binary; `/` links them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::json;

use crate::dispatch::{dispatch_app, frame_for, north, socket};
use crate::fixtures::{book, dog_crate, id, ready_runner, worked_example};
use crate::helpers::{TestApp, spawn_app};

/// One sample: family name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the text exposition format strictly: every sample belongs to a
/// family declared by `# TYPE` before it, names and labels are well formed,
/// values are numbers, counters end in `_total`, histograms have cumulative
/// buckets up to `+Inf` that agree with `_count`.
fn parse(text: &str) -> Vec<Sample> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = format!("line {}: {line}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, tail) = (parts.next().unwrap(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            assert!(valid_name(name), "{at}");
            match kind {
                "HELP" => assert!(!tail.is_empty(), "{at}"),
                "TYPE" => {
                    assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&tail), "{at}");
                    assert!(types.insert(name.to_owned(), tail.to_owned()).is_none(), "TYPE twice: {at}");
                    if tail == "counter" {
                        assert!(name.ends_with("_total"), "a counter's name ends in _total: {at}");
                    }
                }
                _ => panic!("unknown comment: {at}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{at}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {at}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("{at}"));
                let mut labels = BTreeMap::new();
                for pair in body.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("{at}"));
                    assert!(valid_name(k) && !k.starts_with("__"), "{at}");
                    labels.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
                }
                (name.to_owned(), labels)
            }
        };
        assert!(valid_name(&name), "{at}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| types.get(*f).is_some_and(|t| t == "histogram")))
            .unwrap_or(&name);
        assert!(types.contains_key(family), "sample before its TYPE: {at}");
        samples.push(Sample { name, labels, value });
    }
    // histograms: cumulative buckets ending at +Inf = _count
    type Series = (String, BTreeMap<String, String>);
    let mut buckets: BTreeMap<Series, Vec<(f64, f64)>> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name.ends_with("_bucket")) {
        let mut key = s.labels.clone();
        let le = key.remove("le").expect("a bucket has le");
        let le = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() };
        buckets.entry((s.name.trim_end_matches("_bucket").to_owned(), key)).or_default().push((le, s.value));
    }
    for ((family, labels), list) in buckets {
        assert!(list.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{family}{labels:?}: {list:?}");
        let (last_le, last) = *list.last().unwrap();
        assert!(last_le.is_infinite(), "{family}: no +Inf bucket");
        let count = samples.iter().find(|s| s.name == format!("{family}_count") && s.labels == labels).unwrap();
        assert_eq!(count.value, last, "{family}{labels:?}");
    }
    samples
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let resp = app.get("/metrics", None).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    parse(&resp.text)
}

#[actix_web::test]
async fn metrics_scrape_clean_and_carry_requests_sockets_the_outbox_and_the_pool() {
    let app = spawn_app().await;
    let owner = app.register("mx-owner@example.my", "owner").await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    assert_eq!(app.booking(&owner, &booking).await.status, 200);
    let mut ws = app.ws(&format!("/ws?token={}", owner.access)).await;
    ws.next_of("hello").await;

    let samples = scrape(&app).await;
    let created = value(
        &samples,
        "kilat_http_requests_total",
        &[("route", "/api/v1/bookings"), ("method", "POST"), ("status", "201")],
    );
    assert_eq!(created, Some(1.0));
    // the route template, never the raw id (a series per booking would explode)
    let read = value(&samples, "kilat_http_requests_total", &[("route", "/api/v1/bookings/{id}"), ("method", "GET")]);
    assert_eq!(read, Some(1.0));
    assert!(!samples.iter().any(|s| s.labels.values().any(|v| v.contains(&booking))), "no ids in labels");
    let le = value(&samples, "kilat_http_request_duration_seconds_count", &[("route", "/api/v1/bookings")]);
    assert_eq!(le, Some(1.0));
    assert_eq!(value(&samples, "kilat_ws_connections", &[("kind", "app")]), Some(1.0));
    assert_eq!(value(&samples, "kilat_db_pool_connections", &[("state", "max")]), Some(4.0));
    for name in [
        "kilat_outbox_lag_seconds",
        "kilat_outbox_pending_events",
        "kilat_redis_reconnects_total",
        "kilat_bus_publish_queue_depth",
        "kilat_db_pool_waiting",
        "kilat_dispatch_active_rounds",
    ] {
        assert!(value(&samples, name, &[]).is_some(), "{name} missing");
    }
    // the bus counts a PUBLISH once Redis has answered its pipeline, which
    // may land just after this scrape
    let mut published = value(&samples, "kilat_pubsub_messages_total", &[("direction", "out")]).unwrap_or(0.0);
    for _ in 0..50 {
        if published >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        published = value(&scrape(&app).await, "kilat_pubsub_messages_total", &[("direction", "out")]).unwrap_or(0.0);
    }
    assert!(published >= 1.0, "nothing published to Redis: {published}");
    assert_eq!(value(&samples, "kilat_dead_letters", &[("kind", "payment")]), Some(0.0));

    drop(ws);
    let mut closed = false;
    for _ in 0..50 {
        if value(&scrape(&app).await, "kilat_ws_connections", &[("kind", "app")]) == Some(0.0) {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(closed, "a closed socket leaves the gauge");

    // never behind the rate limiter (api_per_minute is 200)
    for _ in 0..210 {
        assert_eq!(app.get("/metrics", None).await.status, 200);
    }
}

#[actix_web::test]
async fn dispatch_series_and_the_admin_stats_read_the_same_registry() {
    let app = dispatch_app(10_000).await;
    let admin = app.admin("mx-admin@example.my").await;
    let owner = app.register("mxd-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "mxd-runner@example.my", dog_crate(), north(0.5)).await;
    let mut ws = socket(&app, &runner).await;
    let bid = id(&book(&app, &owner, &worked_example()).await);
    frame_for(&mut ws, "offer", &bid, 5.0).await.expect("offer");
    ws.send(&json!({"type": "offer.decline", "booking_id": bid})).await;
    frame_for(&mut ws, "offer.declined", &bid, 3.0).await.expect("declined");

    let samples = scrape(&app).await;
    assert_eq!(value(&samples, "kilat_dispatch_offers_total", &[("outcome", "sent")]), Some(1.0));
    assert_eq!(value(&samples, "kilat_dispatch_offers_total", &[("outcome", "declined")]), Some(1.0));
    assert_eq!(value(&samples, "kilat_dispatch_time_to_offer_seconds_count", &[]), Some(1.0));
    let stats = app.get("/api/v1/admin/dispatch/stats", Some(&admin.access)).await;
    assert_eq!(
        (stats.body["data"]["offers_sent"].as_u64(), stats.body["data"]["offers_declined"].as_u64()),
        (Some(1), Some(1))
    );
}

#[actix_web::test]
async fn the_grafana_dashboard_charts_only_series_the_server_exports() {
    // one paid trip, so every family has series (requests, saga steps, …)
    let app = spawn_app().await;
    let owner = app.register("mg-owner@example.my", "owner").await;
    let runner = ready_runner(&app, "mg-runner@example.my", dog_crate(), crate::fixtures::PICKUP).await;
    let booking = id(&book(&app, &owner, &worked_example()).await);
    assert_eq!(crate::payments::initiate(&app, &owner, &booking, None).await.status, 201);
    crate::payments::carry(&app, &runner, &booking).await;
    assert_eq!(app.confirm(&owner, &booking).await.status, 200);
    crate::payments::wait_for(&app, &owner, &booking, "released").await;
    let text = app.get("/metrics", None).await.text;
    let families: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
    let dashboard = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana-dashboard.json"))
        .expect("deploy/grafana-dashboard.json");
    let json: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
    assert!(json["panels"].as_array().unwrap().len() >= 10);
    let mut used = 0;
    for (at, _) in dashboard.match_indices("kilat_") {
        let name: String = dashboard[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(&name);
        assert!(families.contains(&family), "the dashboard charts {name}, which /metrics does not export");
        used += 1;
    }
    assert!(used >= 15, "{used}");
}

#[actix_web::test]
async fn docs_render_from_the_binary_and_the_root_links_them() {
    let app = spawn_app().await;
    // /docs redirects to /docs/ (the client follows it)
    let redirect = app.get("/docs", None).await;
    assert_eq!(redirect.status, 200);
    assert!(redirect.text.contains("swagger-ui"));
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    assert!(!page.text.contains("http://") && !page.text.contains("https://unpkg"), "no CDN: {}", page.text);
    let init = app.get("/docs/swagger-initializer.js", None).await;
    assert_eq!(init.status, 200);
    assert!(init.text.contains("/api/v1/openapi.json"), "{}", init.text);
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"] {
        let resp = app.get(asset, None).await;
        assert_eq!(resp.status, 200, "{asset}");
        assert!(resp.text.len() > 10_000, "{asset} is the real file");
    }
    let console = app.get("/console", None).await;
    assert_eq!(console.status, 200);
    assert!(console.text.contains("/console/app.js") && console.text.contains("Operator sign-in"));
    assert!(!console.text.contains("{{TILE_URL}}"), "the tile setting is filled in");
    let page = app.client.get(format!("{}/console", app.address)).send().await.unwrap();
    let csp = page.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    for (asset, needle) in [("/console/app.js", "ops.subscribe"), ("/console/app.css", ".layout")] {
        let resp = app.get(asset, None).await;
        assert_eq!(resp.status, 200, "{asset}");
        assert!(resp.text.contains(needle), "{asset}");
    }
    let root = app.get("/", None).await;
    assert_eq!(root.status, 200);
    for link in ["/console", "/docs/", "/metrics", "/health", "/api/v1/openapi.json"] {
        assert!(root.text.contains(&format!("href=\"{link}\"")), "{link}");
    }
    let spec = app.get("/api/v1/openapi.json", None).await;
    assert!(spec.body["paths"]["/metrics"].is_object(), "documented");
}
