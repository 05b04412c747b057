//! Three kilat nodes on a Redis Cluster of the test's own (three masters,
//! a replica each, from the OS package on loopback ports): pings and status
//! events cross between any two nodes by sharded pub/sub, a master killed
//! or failed over mid-trip loses no booking event, and the rate limit is
//! still one window across nodes.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fixtures::{accepted_trip, id};
use crate::helpers::{Session, TestApp, WsClient, spawn_app_with, spawn_peer};

/// A Redis Cluster of this test's own: killing or failing over one of its
/// masters disturbs no other test.
struct OwnCluster {
    /// Masters first, then their replicas (as `--cluster create` pairs them).
    ports: Vec<u16>,
    dir: PathBuf,
}

/// A port whose cluster bus port (+10000) is free too.
fn free_cluster_port(taken: &[u16]) -> u16 {
    loop {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 20_000) as u16;
        if taken.iter().any(|t| t.abs_diff(port) == 0 || t.abs_diff(port) == 10_000) {
            continue;
        }
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli").arg("-p").arg(port.to_string()).args(args).output().expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl OwnCluster {
    fn start() -> Self {
        let mut ports = Vec::new();
        for _ in 0..6 {
            let port = free_cluster_port(&ports);
            ports.push(port);
        }
        let dir = std::env::temp_dir().join(format!("kilat-test-cluster-{}", ports[0]));
        for port in &ports {
            let node_dir = dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).unwrap();
            let status = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--cluster-enabled", "yes"])
                .args(["--cluster-node-timeout", "1000", "--save", "", "--appendonly", "no", "--daemonize", "yes"])
                .arg("--dir")
                .arg(&node_dir)
                .arg("--pidfile")
                .arg(node_dir.join("redis.pid"))
                .arg("--logfile")
                .arg(node_dir.join("redis.log"))
                .status()
                .expect("redis-server runs");
            assert!(status.success());
        }
        let cluster = Self { ports, dir };
        for port in &cluster.ports {
            cluster.wait(&format!("node :{port} up"), || cli(*port, &["ping"]).contains("PONG"));
        }
        let addrs: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        for port in &cluster.ports {
            cluster.wait(&format!(":{port} sees the cluster ok"), || {
                cli(*port, &["cluster", "info"]).contains("cluster_state:ok")
            });
        }
        for port in &cluster.ports[3..] {
            cluster.wait(&format!("replica :{port} in sync"), || {
                cli(*port, &["info", "replication"]).contains("master_link_status:up")
            });
        }
        cluster
    }

    /// Several seed URLs: a cluster by themselves.
    fn seeds(&self) -> String {
        self.ports[..3].iter().map(|p| format!("redis://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    fn wait(&self, what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the test cluster: {what} did not happen in 20 s");
    }

    /// `(master port, its replica's ports)` for the slot of `key`, as
    /// the live nodes see it (none while a failed master is not replaced).
    fn owner_of(&self, key: &str) -> Option<(u16, Vec<u16>)> {
        let alive = self.ports.iter().copied().find(|p| cli(*p, &["ping"]).contains("PONG")).unwrap();
        let slot: u16 = cli(alive, &["cluster", "keyslot", key]).trim().parse().unwrap();
        let nodes = cli(alive, &["cluster", "nodes"]);
        let port_of = |addr: &str| -> u16 { addr.split([':', '@']).nth(1).unwrap().parse().unwrap() };
        let mut master = None;
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let owns = fields[8..].iter().any(|range| {
                let mut ends = range.split('-').map(|n| n.parse::<u16>().unwrap_or(u16::MAX));
                let low = ends.next().unwrap_or(u16::MAX);
                let high = ends.next().unwrap_or(low);
                (low..=high).contains(&slot)
            });
            if owns {
                master = Some((fields[0].to_owned(), port_of(fields[1])));
            }
        }
        let (master_id, master_port) = master?;
        let replicas = nodes
            .lines()
            .map(|l| l.split(' ').collect::<Vec<_>>())
            .filter(|f| f[3] == master_id && !f[2].contains("fail"))
            .map(|f| port_of(f[1]))
            .collect();
        Some((master_port, replicas))
    }

    fn pid(&self, port: u16) -> String {
        std::fs::read_to_string(self.dir.join(port.to_string()).join("redis.pid")).unwrap().trim().to_owned()
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for port in &self.ports {
            let _ = Command::new("kill").args(["-9", &self.pid(*port)]).stderr(std::process::Stdio::null()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Three nodes sharing the database, the key prefix and the cluster.
async fn three_nodes(cluster: &OwnCluster, customise: impl FnOnce(&mut kilat::config::Settings)) -> [TestApp; 3] {
    let seeds = cluster.seeds();
    let a = spawn_app_with(move |s| {
        s.redis.url = seeds;
        customise(s);
    })
    .await;
    assert!(a.settings.redis.cluster_seeds().is_some());
    let b = spawn_peer(&a).await;
    let c = spawn_peer(&a).await;
    [a, b, c]
}

/// The owner's persistent session on `app`, subscribed to the booking.
async fn watch(app: &TestApp, owner: &Session, booking_id: &str) -> WsClient {
    let mut session = app.ws(&format!("/ws?token={}", owner.access)).await;
    assert_eq!(session.next().await["type"], "hello");
    session.send(&json!({"type": "subscribe", "booking_id": booking_id})).await;
    assert_eq!(session.next_of("subscribed").await["recovered"], true);
    session
}

/// The next `booking.status` frame with `new_status` (earlier ones, such as
/// the accept's own on the user channel, are skipped), and no second copy
/// of it within half a second.
async fn status_once(session: &mut WsClient, new_status: &str) -> Value {
    let frame = loop {
        let frame = session.next_of("booking.status").await;
        if frame["new_status"] == new_status {
            break frame;
        }
    };
    while let Some(again) = session.next_within(0.5).await {
        assert!(
            again["type"] != "booking.status" || again["seq"] != frame["seq"],
            "an event is delivered once: {again}"
        );
    }
    frame
}

/// A trip under way across two of the three nodes.
struct Live {
    runner: Session,
    bid: String,
    /// the booking's channel, as Redis knows it
    channel: String,
    /// the owner's session, subscribed to the booking
    watcher: WsClient,
    /// the runner's `/ws` socket
    runner_ws: WsClient,
}

/// An accepted trip: the owner watching on node `watching`, the runner's
/// socket on node `pinging`, and a first ping seen.
async fn live_trip(nodes: &[TestApp; 3], tag: &str, watching: usize, pinging: usize) -> Live {
    let (owner, runner, booking) = accepted_trip(&nodes[0], tag).await;
    let bid = id(&booking);
    let channel = format!("{}booking:{bid}", nodes[0].settings.redis.key_prefix);
    let mut watcher = watch(&nodes[watching], &owner, &bid).await;
    let mut runner_ws = nodes[pinging].ws(&format!("/ws?token={}", runner.access)).await;
    runner_ws.next_of("hello").await;
    assert!(ping_reaches(&mut runner_ws, &mut watcher, 3.13).await, "a first ping crosses");
    Live { runner, bid, channel, watcher, runner_ws }
}

/// Pings from `runner_ws` until `watcher` sees one at `lat` (the first ones
/// may be dropped while a channel moves to its new owner).
async fn ping_reaches(runner_ws: &mut WsClient, watcher: &mut WsClient, lat: f64) -> bool {
    for _ in 0..40 {
        runner_ws.send(&json!({"type": "location", "latitude": lat, "longitude": 101.7})).await;
        while let Some(frame) = watcher.next_within(0.25).await {
            if frame["type"] == "location_update" && frame["latitude"] == lat {
                return true;
            }
        }
    }
    false
}

#[actix_web::test]
async fn pings_and_status_events_cross_between_any_two_of_three_nodes_by_sharded_pub_sub() {
    let cluster = OwnCluster::start();
    let nodes = three_nodes(&cluster, |_| {}).await;
    let (owner, runner, booking) = accepted_trip(&nodes[0], "shard").await;
    let bid = id(&booking);
    let channel = format!("{}booking:{bid}", nodes[0].settings.redis.key_prefix);

    // The owner watches on every node.
    let mut watchers = Vec::new();
    for node in &nodes {
        watchers.push(watch(node, &owner, &bid).await);
    }
    // One sharded subscription per node, on the master that owns the
    // channel's slot; no classic subscription anywhere (a classic PUBLISH
    // on a cluster would be broadcast to every node).
    nodes[0].wait_numsub(&format!("booking:{bid}"), 3).await;
    let (master, _) = cluster.owner_of(&channel).unwrap();
    for port in &cluster.ports {
        let classic = cli(*port, &["pubsub", "numsub", &channel]);
        assert!(classic.trim().ends_with('0'), "no classic SUBSCRIBE on :{port}: {classic}");
    }
    assert!(cli(master, &["pubsub", "shardnumsub", &channel]).trim().ends_with('3'));

    // The runner on each node in turn: every watcher on every node sees its pings.
    for (i, node) in nodes.iter().enumerate() {
        let mut runner_ws = node.ws(&format!("/ws?token={}", runner.access)).await;
        assert_eq!(runner_ws.next().await["role"], "runner");
        let lat = 3.15 + i as f64 * 0.01;
        runner_ws.send(&json!({"type": "location", "latitude": lat, "longitude": 101.70})).await;
        for (w, watcher) in watchers.iter_mut().enumerate() {
            let frame = watcher.next_of("location_update").await;
            assert_eq!(frame["latitude"], lat, "runner on node {i}, watcher on node {w}");
            assert_eq!(frame["runner_id"], runner.user_id.as_str());
        }
    }

    // A status change made through any node reaches the watchers on all three, once.
    assert_eq!(nodes[2].pickup(&runner, &bid).await.status, 200);
    for watcher in &mut watchers {
        status_once(watcher, "in_progress").await;
    }
    let resp = nodes[1].post(&format!("/api/v1/bookings/{bid}/deliver"), Some(&runner.access), &json!({})).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    for watcher in &mut watchers {
        status_once(watcher, "delivered").await;
    }
}

#[actix_web::test]
async fn a_master_killed_mid_trip_is_replaced_and_no_booking_event_is_lost() {
    let cluster = OwnCluster::start();
    let nodes = three_nodes(&cluster, |_| {}).await;
    let Live { runner, bid, channel, mut watcher, mut runner_ws } = live_trip(&nodes, "killed", 1, 0).await;

    // The master that holds the booking's channel dies without a word.
    let (master, replicas) = cluster.owner_of(&channel).unwrap();
    assert_eq!(Command::new("kill").args(["-9", &cluster.pid(master)]).status().unwrap().code(), Some(0));
    // Meanwhile the trip goes on through a third node: the event waits in
    // the outbox while its channel has no master.
    let resp = nodes[2].pickup(&runner, &bid).await;
    assert_eq!(resp.status, 200, "REST keeps working while the cluster fails over: {}", resp.text);

    // The replica takes over, the bus subscribes there again, the status
    // event arrives exactly once, and pings flow again.
    let status = status_once(&mut watcher, "in_progress").await;
    assert_eq!(status["old_status"], "accepted");
    // (it may come first through the owner's user channel, on another master)
    cluster.wait("the replica is promoted", || cluster.owner_of(&channel).is_some_and(|(m, _)| replicas.contains(&m)));
    assert!(ping_reaches(&mut runner_ws, &mut watcher, 3.132).await, "pings flow after the failover");
    nodes[0].wait_numsub(&format!("booking:{bid}"), 1).await;

    // And the next event goes the normal way.
    let resp = nodes[0].post(&format!("/api/v1/bookings/{bid}/deliver"), Some(&runner.access), &json!({})).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    status_once(&mut watcher, "delivered").await;
}

#[actix_web::test]
async fn a_manual_failover_moves_the_channel_and_the_bus_follows_it() {
    let cluster = OwnCluster::start();
    let nodes = three_nodes(&cluster, |_| {}).await;
    let Live { runner, bid, channel, mut watcher, mut runner_ws } = live_trip(&nodes, "failover", 2, 1).await;

    // The replica takes the slot over (maintenance): the old master tells
    // its shard subscribers the channel is gone (`sunsubscribe`).
    let (master, replicas) = cluster.owner_of(&channel).unwrap();
    assert!(cli(replicas[0], &["cluster", "failover"]).contains("OK"));
    cluster.wait("the replica is master", || cluster.owner_of(&channel).is_some_and(|(m, _)| m == replicas[0]));
    assert_ne!(master, replicas[0]);

    // The old master said `sunsubscribe` when it gave the slot away; the
    // watcher's node subscribed again within the shard (a replica serves
    // SSUBSCRIBE too: the new master's messages reach it), and pings follow.
    let shard_subscribers = || -> i64 {
        [master, replicas[0]]
            .iter()
            .map(|p| {
                cli(*p, &["pubsub", "shardnumsub", &channel]).lines().nth(1).unwrap_or("0").parse::<i64>().unwrap()
            })
            .sum()
    };
    cluster.wait("the watcher's node subscribed in the shard", || shard_subscribers() == 1);
    assert!(ping_reaches(&mut runner_ws, &mut watcher, 3.152).await, "pings follow the channel");
    assert_eq!(nodes[0].pickup(&runner, &bid).await.status, 200);
    status_once(&mut watcher, "in_progress").await;
}

#[actix_web::test]
async fn the_rate_limit_is_one_window_across_three_nodes_on_a_cluster() {
    let cluster = OwnCluster::start();
    let nodes = three_nodes(&cluster, |s| {
        s.rate_limit.auth_per_minute = 5;
        s.rate_limit.window_secs = 60;
    })
    .await;
    nodes[0].clock.to_window_start(60);
    async fn attempt(node: &TestApp) -> crate::helpers::TestResponse {
        node.post("/api/v1/auth/login", None, &json!({"email": "nobody@example.my", "password": "whatever1"})).await
    }
    for i in 0..5 {
        assert_eq!(attempt(&nodes[i % 3]).await.status, 401, "attempt {i}");
    }
    for node in &nodes {
        assert_eq!(attempt(node).await.status, 429, "the sixth and later, on any node");
    }
}
