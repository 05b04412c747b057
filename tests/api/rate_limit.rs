//! The identity rate limit (contract §1.10, §7 #28): a true fixed window,
//! per IP, shared by every node through Redis.

use serde_json::json;

use crate::helpers::{spawn_app_with, spawn_peer};

async fn attempt(app: &crate::helpers::TestApp) -> crate::helpers::TestResponse {
    app.post("/api/v1/auth/login", None, &json!({"email": "nobody@example.my", "password": "whatever1"})).await
}

#[actix_web::test]
async fn over_the_limit_is_429_and_the_next_window_passes_again() {
    let app = spawn_app_with(|s| {
        s.rate_limit.auth_per_minute = 5;
        s.rate_limit.window_secs = 60;
    })
    .await;
    // A window begins; 59 s into it the sixth attempt is still refused.
    app.clock.to_window_start(60);
    for _ in 0..5 {
        assert_eq!(attempt(&app).await.status, 401);
    }
    let blocked = attempt(&app).await;
    assert_eq!(blocked.status, 429);
    assert_eq!(blocked.body, json!({"error": "rate limit exceeded"}));
    let retry_after: u64 = blocked.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert_eq!(retry_after, 60, "the window's end");
    app.clock.advance(59);
    // Hammering while blocked does not extend the block (the reference's bug).
    for _ in 0..10 {
        let resp = attempt(&app).await;
        assert_eq!(resp.status, 429);
        assert_eq!(resp.headers.get("retry-after").unwrap().to_str().unwrap(), "1");
    }
    // The window ends on the clock: the next attempt is heard again.
    app.clock.advance(1);
    assert_eq!(attempt(&app).await.status, 401);
}

#[actix_web::test]
async fn the_window_is_shared_across_nodes() {
    let node_a = spawn_app_with(|s| {
        s.rate_limit.auth_per_minute = 4;
        s.rate_limit.window_secs = 60;
    })
    .await;
    let node_b = spawn_peer(&node_a).await;
    node_a.clock.to_window_start(60);
    assert_eq!(attempt(&node_a).await.status, 401);
    assert_eq!(attempt(&node_b).await.status, 401);
    assert_eq!(attempt(&node_a).await.status, 401);
    assert_eq!(attempt(&node_b).await.status, 401);
    assert_eq!(attempt(&node_a).await.status, 429);
    assert_eq!(attempt(&node_b).await.status, 429);
}

#[actix_web::test]
async fn probes_are_never_limited() {
    let app = spawn_app_with(|s| {
        s.rate_limit.auth_per_minute = 1;
        s.rate_limit.api_per_minute = 1;
    })
    .await;
    for _ in 0..5 {
        assert_eq!(app.get("/health", None).await.status, 200);
    }
}

#[actix_web::test]
async fn the_101st_identity_request_in_a_minute_is_refused() {
    // The production default: 100 per minute per IP.
    let app = crate::helpers::spawn_app().await;
    assert_eq!(app.settings.rate_limit.auth_per_minute, 100);
    app.clock.to_window_start(app.settings.rate_limit.window_secs);
    let forgot = json!({"email": "someone@example.my"});
    for i in 1..=100 {
        let resp = app.post("/api/v1/auth/forgot-password", None, &forgot).await;
        assert_eq!(resp.status, 202, "request {i}");
    }
    let resp = app.post("/api/v1/auth/forgot-password", None, &forgot).await;
    assert_eq!(resp.status, 429);
}

#[actix_web::test]
async fn other_api_routes_are_limited_per_user() {
    let app = spawn_app_with(|s| s.rate_limit.api_per_minute = 3).await;
    app.clock.to_window_start(app.settings.rate_limit.window_secs);
    let a = app.register("limit-a@example.my", "owner").await;
    let b = app.register("limit-b@example.my", "owner").await;
    // Any /api route outside identity counts; an unknown one still answers 404.
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/elsewhere", Some(&a.access)).await.status, 404);
    }
    assert_eq!(app.get("/api/v1/elsewhere", Some(&a.access)).await.status, 429);
    // Another user on the same IP has a quota of their own.
    assert_eq!(app.get("/api/v1/elsewhere", Some(&b.access)).await.status, 404);
}

#[actix_web::test]
async fn a_login_flood_is_hashed_a_few_at_a_time_and_the_overflow_gets_503() {
    let app = spawn_app_with(|s| {
        // One hashing thread, two waiting: the rest must be refused, not queued
        // behind memory (each hash holds argon2_memory_kib).
        s.auth.password_hash_concurrency = 1;
        s.auth.password_hash_queue = 2;
        s.auth.argon2_memory_kib = 8192;
        s.auth.argon2_iterations = 2;
    })
    .await;
    app.register("flooded@example.my", "owner").await;
    let bad = json!({"email": "flooded@example.my", "password": "guess-guess"});
    let flood = (0..24).map(|_| app.post("/api/v1/auth/login", None, &bad));
    let results = futures_util::future::join_all(flood).await;
    let refused: Vec<_> = results.iter().filter(|r| r.status == 503).collect();
    let checked = results.iter().filter(|r| r.status == 401).count();
    assert_eq!(
        refused.len() + checked,
        results.len(),
        "only 401 or 503: {:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(checked >= 3, "the running hash and the queue are answered ({checked})");
    assert!(!refused.is_empty(), "the overflow is refused at once");
    let busy = refused[0];
    assert_eq!(busy.body["success"], false);
    assert_eq!(busy.body["error"], "server is busy; try again shortly");
    assert_eq!(busy.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    // The flood over, the real user signs in.
    assert_eq!(app.login("flooded@example.my", "correct-horse").await.status, 200);
}

/// nginx in front of `nodes`, with the proxy directives of
/// `deploy/nginx.conf` and `scripts/cluster.sh`; stopped on drop.
pub struct Nginx {
    pub address: String,
    dir: std::path::PathBuf,
}

impl Nginx {
    pub fn start(nodes: &[&crate::helpers::TestApp]) -> Nginx {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("kilat-nginx-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let upstreams: String =
            nodes.iter().map(|n| format!("server {};\n", n.address.trim_start_matches("http://"))).collect();
        let d = dir.display();
        let conf = format!(
            "worker_processes 1; daemon on; pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format kilat '$remote_addr [$time_local] \"$request_method $uri $server_protocol\" $status';
    access_log {d}/access.log kilat;
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    upstream kilat {{ {upstreams} }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://kilat;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header Forwarded \"\";
        }}
    }}
}}
"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let bin = if std::path::Path::new("/usr/sbin/nginx").exists() { "/usr/sbin/nginx" } else { "nginx" };
        let status = std::process::Command::new(bin)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .status()
            .expect("nginx is installed (scripts/deps.sh)");
        assert!(status.success(), "nginx started");
        Nginx { address: format!("http://127.0.0.1:{port}"), dir }
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("nginx.pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[actix_web::test]
async fn behind_nginx_a_forged_client_address_does_not_escape_the_login_limit() {
    let node_a = spawn_app_with(|s| {
        s.server.trust_forwarded_for = true;
        s.rate_limit.auth_per_minute = 5;
        s.rate_limit.window_secs = 60;
    })
    .await;
    let node_b = spawn_peer(&node_a).await;
    node_a.clock.to_window_start(60);
    let lb = Nginx::start(&[&node_a, &node_b]);
    let mut statuses = Vec::new();
    for n in 0..12 {
        // An attacker rotates every header a client controls.
        let resp = node_a
            .client
            .post(format!("{}/api/v1/auth/login", lb.address))
            .insert_header(("x-forwarded-for", format!("10.9.{n}.1")))
            .insert_header(("forwarded", format!("for=10.8.{n}.1")))
            .insert_header(("x-real-ip", format!("10.7.{n}.1")))
            .send_json(&json!({"email": "nobody@example.my", "password": "whatever1"}))
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "every guess past the limit is refused: {statuses:?}");
}

#[actix_web::test]
async fn nginx_does_not_log_the_token_of_a_socket_upgrade() {
    let app = crate::helpers::spawn_app().await;
    let lb = Nginx::start(&[&app]);
    let s = app.register("nolog@example.my", "owner").await;
    let url = format!("{}/ws?token={}", lb.address.replace("http://", "ws://"), s.access);
    let (_, _framed) = app.client.ws(url).connect().await.expect("upgrade through nginx");
    // Another request, so the log surely holds the upgrade's line.
    app.client.get(format!("{}/health", lb.address)).send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = lb.access_log();
    assert!(log.contains("GET /health"), "{log}");
    assert!(!log.contains(&s.access) && !log.contains("token="), "{log}");
}

#[test]
fn the_shipped_nginx_configs_trust_exactly_one_hop() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["deploy/nginx.conf", "scripts/cluster.sh"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(!text.contains("proxy_add_x_forwarded_for"), "{file} appends to a client-controlled header");
        assert!(text.contains("X-Forwarded-For") && text.contains("remote_addr;"), "{file} overwrites X-Forwarded-For");
        assert!(text.contains("Forwarded \"\";") || text.contains("Forwarded \\\"\\\";"), "{file} drops Forwarded");
    }
}
