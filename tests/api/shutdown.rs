//! SIGTERM drains a real `kilat` process: readiness turns 503 at once, the
//! listener closes, sockets are told to reconnect elsewhere (a `reconnect`
//! frame, then 1001), and the process exits well inside its timeout.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::fixtures::{book, id, worked_example};
use crate::helpers::spawn_app;

struct Node {
    child: Child,
    address: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real binary on the test's database and Redis prefix.
async fn start_node(settings: &kilat::config::Settings, drain_delay_ms: u64) -> Node {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_kilat"))
        .args(["serve", "--no-migrate"])
        .env("KILAT_ENVIRONMENT", "test")
        .env("KILAT_CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .env("KILAT__DATABASE__URL", &settings.database.url)
        .env("KILAT__REDIS__KEY_PREFIX", &settings.redis.key_prefix)
        .env("KILAT__SERVER__PORT", port.to_string())
        .env("KILAT__SERVER__DRAIN_DELAY_MS", drain_delay_ms.to_string())
        .env("KILAT__SERVER__SHUTDOWN_TIMEOUT_SECS", "20")
        .env("KILAT__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the kilat binary starts");
    let node = Node { child, address: format!("http://127.0.0.1:{port}") };
    let client = awc::Client::default();
    for _ in 0..200 {
        if client.get(format!("{}/health", node.address)).send().await.is_ok_and(|r| r.status().is_success()) {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("kilat did not start");
}

#[actix_web::test]
async fn sigterm_drains_sockets_to_another_node_and_exits_in_time() {
    let app = spawn_app().await;
    let owner = app.register("drain-owner@example.my", "owner").await;
    let booking = book(&app, &owner, &worked_example()).await;
    let bid = id(&booking);
    let mut node = start_node(&app.settings, 800).await;
    let ws_base = node.address.replace("http://", "ws://");
    let client = awc::Client::builder().timeout(Duration::from_secs(5)).finish();

    let (_, framed) = client.ws(format!("{ws_base}/ws?token={}", owner.access)).connect().await.unwrap();
    let mut session = crate::helpers::WsClient::from(framed);
    session.next_of("hello").await;
    let (_, framed) = client.ws(format!("{ws_base}/ws/tracking/{bid}?token={}", owner.access)).connect().await.unwrap();
    let mut feed = crate::helpers::WsClient::from(framed);
    let ready = client.get(format!("{}/readiness", node.address)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    let term = Instant::now();
    let killed = Command::new("kill").args(["-TERM", &node.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    // Readiness answers 503 at once, while the node still serves.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut ready = client.get(format!("{}/readiness", node.address)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "draining");

    // Then each socket is told to go elsewhere, with a close frame (not 1006).
    let frame = session.next_within(5.0).await.expect("a frame before the close");
    assert_eq!(frame, json!({"type": "reconnect", "reason": "server shutting down"}));
    let closed = session.closed_within(5.0).await.expect("closed").expect("with a close frame");
    assert_eq!(u16::from(closed.code), 1001);
    let closed = feed.closed_within(5.0).await.expect("closed").expect("with a close frame");
    assert_eq!(u16::from(closed.code), 1001);

    // And the process is gone well inside its 20 s timeout.
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = node.child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.expect("kilat exited within 5 s of the drain");
    assert!(status.success(), "{status:?}");
    assert!(term.elapsed() < Duration::from_secs(8), "{:?}", term.elapsed());
    // Nothing listens any more: a client would be sent to another node.
    assert!(client.get(format!("{}/health", node.address)).send().await.is_err());
}
