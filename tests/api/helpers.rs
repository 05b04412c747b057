//! The test harness: `spawn_app()` starts a real `kilat` on port 0 against a
//! fresh PostGIS database cloned from a migrated template (dropped when the
//! test ends) and a Redis key prefix of its own.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use awc::http::header::HeaderMap;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use uuid::Uuid;

use kilat::app::{Application, Dependencies};
use kilat::config::{Environment, Settings};
use kilat::mailer::Mailer;

/// Records mails instead of sending them.
#[derive(Default)]
pub struct CapturingMailer {
    sent: Mutex<Vec<(String, String)>>,
    /// (email, application number, approved, reason)
    pub decisions: Mutex<Vec<(String, String, bool, String)>>,
}

impl Mailer for CapturingMailer {
    fn send_password_reset(&self, email: &str, token: &str) {
        self.sent.lock().unwrap().push((email.to_owned(), token.to_owned()));
    }

    fn send_application_decision(&self, email: &str, application_number: &str, approved: bool, reason: &str) {
        let mail = (email.to_owned(), application_number.to_owned(), approved, reason.to_owned());
        self.decisions.lock().unwrap().push(mail);
    }
}

impl CapturingMailer {
    pub fn reset_tokens_for(&self, email: &str) -> Vec<String> {
        self.sent.lock().unwrap().iter().filter(|(e, _)| e == email).map(|(_, t)| t.clone()).collect()
    }
}

/// Records what would have gone out on push/SMS/email.
#[derive(Default)]
pub struct CapturingPush {
    pub sent: Mutex<Vec<(String, String, String)>>,
}

impl kilat::push::PushSender for CapturingPush {
    fn send(&self, channel: &str, to: &str, title: &str, _body: &str) -> Result<(), String> {
        self.sent.lock().unwrap().push((channel.to_owned(), to.to_owned(), title.to_owned()));
        Ok(())
    }
}

/// The rate limiter's clock, moved by the test (it stands still otherwise).
pub struct ManualClock(std::sync::atomic::AtomicU64);

impl ManualClock {
    /// Now, in whole seconds since the Unix epoch.
    pub fn set(&self, unix_secs: u64) {
        self.0.store(unix_secs, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }

    /// The first second of a window of `window_secs`, the one after now.
    pub fn to_window_start(&self, window_secs: u64) -> u64 {
        let now = std::sync::atomic::AtomicU64::load(&self.0, std::sync::atomic::Ordering::SeqCst);
        let start = (now / window_secs + 1) * window_secs;
        self.set(start);
        start
    }
}

impl kilat::domain::time::Clock for ManualClock {
    fn unix_secs(&self) -> u64 {
        std::sync::atomic::AtomicU64::load(&self.0, std::sync::atomic::Ordering::SeqCst)
    }
}

pub struct TestApp {
    pub push: Arc<CapturingPush>,
    pub clock: Arc<ManualClock>,
    pub address: String,
    pub live: kilat::services::Live,
    pub settings: Settings,
    pub mailer: Arc<CapturingMailer>,
    pub client: awc::Client,
    node: Node,
    // dropped with the app: the per-test database goes away
    _database: TestDatabase,
}

pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// `Value::Null` for an empty body.
    pub body: Value,
    pub text: String,
}

/// A session as the apps hold it.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
}

pub fn test_settings() -> Settings {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Settings::load_from(&dir, Environment::Test).expect("test settings");
    settings.database.migrate_on_start = false;
    settings.redis.key_prefix = format!("test:{}:", Uuid::new_v4().simple());
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts an app; `customise` may change settings (limits, Redis URL…).
pub async fn spawn_app_with(customise: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings();
    let database = TestDatabase::create(&settings.database.url).await;
    settings.database.url = database.url.clone();
    customise(&mut settings);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    start(settings, database, Arc::new(ManualClock(now.into()))).await
}

/// A second node of the same cluster: same database and Redis prefix.
pub async fn spawn_peer(of: &TestApp) -> TestApp {
    let settings = of.settings.clone();
    let clock = of.clock.clone();
    let database =
        TestDatabase { name: String::new(), admin_url: String::new(), url: of.settings.database.url.clone() };
    start(settings, database, clock).await
}

/// Starts a node on a thread (and actix system) of its own, as a real node
/// would run beside its clients: the test's thread may block at teardown
/// while the node finishes its work.
async fn start(settings: Settings, database: TestDatabase, clock: Arc<ManualClock>) -> TestApp {
    kilat::telemetry::init(&settings.log);
    let mailer = Arc::new(CapturingMailer::default());
    let push = Arc::new(CapturingPush::default());
    let deps = Dependencies { mailer: mailer.clone(), push: push.clone(), clock: clock.clone() };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let node_settings = settings.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(node_settings, deps).await.expect("app builds");
            let (_, server) = app.drain();
            let _ = tx.send((app.port(), app.live(), actix_web::rt::System::current(), server));
            let _ = app.run_until_stopped().await;
        });
    });
    let (port, live, system, server) = rx.await.expect("the node started");
    let address = format!("http://127.0.0.1:{port}");
    let client = awc::Client::builder().timeout(Duration::from_secs(15)).finish();
    TestApp { push, clock, address, live, settings, mailer, client, node: Node { system, server }, _database: database }
}

/// A node's thread: stopped when its `TestApp` goes.
struct Node {
    system: actix_web::rt::System,
    server: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Every event the test caused is published (the relay gets a few
        // seconds) and no payment step is left dead; then the node stops.
        // (A peer shares its first node's database: the first node checks.)
        let database = &self._database;
        let check = !database.name.is_empty() && !std::thread::panicking();
        let left = if check { wait_for_drain(&database.url) } else { None };
        let ledger = if check { ledger_problems(&database.url) } else { None };
        drop(self.node.server.stop(false)); // the command is sent at once
        self.node.system.stop();
        if let Some((unpublished, dead)) = left {
            panic!("the test left {unpublished} unpublished outbox event(s) and {dead} dead letter(s)");
        }
        if let Some(problems) = ledger {
            panic!("the test left the ledger out of balance: {problems}");
        }
    }
}

/// The ledger reconciliation after the test (every test ends green), or
/// what it found wrong.
fn ledger_problems(url: &str) -> Option<String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        rt.block_on(async {
            let mut conn = AsyncPgConnection::establish(&url).await.ok()?;
            match kilat::db::ledger::check(&mut conn).await {
                Ok(check) if check.ok() => None,
                Ok(check) => Some(format!("{check:?}")),
                Err(err) => Some(format!("the ledger check failed to run: {err}")),
            }
        })
    })
    .join()
    .ok()
    .flatten()
}

/// Waits up to 5 s for the outbox to drain; what is left then, if anything.
fn wait_for_drain(url: &str) -> Option<(i64, i64)> {
    let url = url.to_owned();
    let left = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        rt.block_on(async {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            loop {
                match leftovers(&url).await {
                    Ok((0, 0)) => return None,
                    Ok(left) if std::time::Instant::now() > deadline => return Some(left),
                    Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    Err(err) => {
                        eprintln!("teardown check failed to run: {err}");
                        return None;
                    }
                }
            }
        })
    })
    .join();
    left.ok().flatten()
}

impl TestApp {
    pub async fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> TestResponse {
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = match body {
            Some(body) => req.send_json(body).await,
            None => req.send().await,
        };
        read(resp.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.request("GET", path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        self.request("POST", path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        self.request("PUT", path, token, Some(body)).await
    }

    /// POST with a raw body and content type, for malformed-input tests.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &'static str) -> TestResponse {
        let resp = self
            .client
            .post(format!("{}{}", self.address, path))
            .insert_header(("content-type", content_type))
            .send_body(body)
            .await;
        read(resp.expect("request sent")).await
    }

    pub async fn register(&self, email: &str, role: &str) -> Session {
        let resp = self
            .post(
                "/api/v1/auth/register",
                None,
                &json!({"email": email, "password": "correct-horse", "full_name": "Test Person", "role": role}),
            )
            .await;
        assert_eq!(resp.status, 201, "register {email}: {}", resp.text);
        session(&resp.body)
    }

    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.post("/api/v1/auth/login", None, &json!({"email": email, "password": password})).await
    }

    /// An admin made the only way there is: the `kilat admin create` path.
    pub async fn admin(&self, email: &str) -> Session {
        kilat::app::create_admin(&self.settings, email, "admin-password", "Admin").await.expect("admin created");
        let resp = self.login(email, "admin-password").await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        session(&resp.body)
    }

    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.settings.database.url).await.expect("test db connection")
    }

    pub async fn sql(&self, statement: &str) {
        let mut conn = self.db().await;
        diesel::sql_query(statement).execute(&mut conn).await.expect(statement);
    }

    /// One BIGINT from a query whose single column is named `n`
    /// (or is the only one: `SELECT count(*)` is aliased here).
    pub async fn scalar(&self, query: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct One {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db().await;
        let sql = format!("SELECT ({query}) AS n");
        diesel::sql_query(&sql).get_result::<One>(&mut conn).await.expect(&sql).n
    }
}

pub fn session(body: &Value) -> Session {
    let data = &body["data"];
    Session {
        access: data["access_token"].as_str().expect("access_token").to_owned(),
        refresh: data["refresh_token"].as_str().expect("refresh_token").to_owned(),
        user_id: data["user"]["id"].as_str().expect("user.id").to_owned(),
    }
}

/// A response read whole (for requests built by hand).
pub async fn read_response<S>(resp: awc::ClientResponse<S>) -> TestResponse
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    read(resp).await
}

async fn read<S>(mut resp: awc::ClientResponse<S>) -> TestResponse
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.body().limit(4 * 1024 * 1024).await.expect("body read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
    TestResponse { status, headers, body, text }
}

/// A database of its own for one test, dropped (with FORCE) when the test ends.
struct TestDatabase {
    name: String,
    admin_url: String,
    url: String,
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database url has a path");
    format!("{base}/{name}")
}

/// Hash of the migrations: the template is rebuilt whenever they change.
fn migrations_fingerprint() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut entries: Vec<_> = walk(&root);
    entries.sort();
    let mut hasher = Sha256::new();
    for path in entries {
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&path).unwrap());
    }
    hex::encode(&hasher.finalize()[..6])
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

async fn template(admin_url: &str) -> String {
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("kilat_tpl_{}", migrations_fingerprint());
            let mut conn = AsyncPgConnection::establish(admin_url).await.expect("admin connection");
            // Several test processes may race to build it.
            diesel::sql_query("SELECT pg_advisory_lock(727272)").execute(&mut conn).await.unwrap();
            #[derive(diesel::QueryableByName)]
            struct Found {
                #[diesel(sql_type = diesel::sql_types::Bool)]
                found: bool,
            }
            let exists = diesel::sql_query(format!(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}') AS found"
            ))
            .get_result::<Found>(&mut conn)
            .await
            .unwrap()
            .found;
            if !exists {
                let building = format!("{name}_building");
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                diesel::sql_query(format!("CREATE DATABASE \"{building}\"")).execute(&mut conn).await.unwrap();
                kilat::db::run_migrations(&with_database(admin_url, &building)).await.expect("migrations apply");
                diesel::sql_query(format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            diesel::sql_query("SELECT pg_advisory_unlock(727272)").execute(&mut conn).await.unwrap();
            name
        })
        .await
        .clone()
}

impl TestDatabase {
    async fn create(admin_url: &str) -> Self {
        let template = template(admin_url).await;
        let name = format!("kilat_test_{}", Uuid::new_v4().simple());
        let mut conn = AsyncPgConnection::establish(admin_url).await.expect("admin connection");
        let mut attempt = 0;
        loop {
            let created = diesel::sql_query(format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""))
                .execute(&mut conn)
                .await;
            match created {
                Ok(_) => break,
                // concurrent clones of one template can collide briefly
                Err(err) if attempt < 20 => {
                    attempt += 1;
                    eprintln!("retrying CREATE DATABASE: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => panic!("cannot create test database: {err}"),
            }
        }
        Self { url: with_database(admin_url, &name), name, admin_url: admin_url.to_owned() }
    }
}

/// What a finished test left undone: outbox events not published, and
/// payment steps dead-lettered and never retried.
async fn leftovers(url: &str) -> Result<(i64, i64), Box<dyn std::error::Error + Send + Sync>> {
    #[derive(diesel::QueryableByName)]
    struct Left {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        unpublished: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        dead: i64,
    }
    let mut conn = AsyncPgConnection::establish(url).await?;
    let left: Left = diesel::sql_query(
        "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished, \
                (SELECT count(*) FROM payment_dead_letters WHERE retried_at IS NULL) AS dead",
    )
    .get_result(&mut conn)
    .await?;
    Ok((left.unpublished, left.dead))
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !self.name.is_empty() {
            drop_database(&self.name, &self.admin_url);
        }
    }
}

fn drop_database(database: &str, admin_url: &str) {
    {
        let (name, admin_url) = (database.to_owned(), admin_url.to_owned());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let mut conn = AsyncPgConnection::establish(&admin_url).await?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(err)) = dropped {
            eprintln!("could not drop test database {database}: {err}");
        }
    }
}

/// A WebSocket client speaking JSON text frames.
pub struct WsClient {
    framed: actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>,
}

impl TestApp {
    /// Opens `path` (with its query) as a WebSocket; panics if refused.
    pub async fn ws(&self, path: &str) -> WsClient {
        let url = format!("{}{}", self.address.replace("http://", "ws://"), path);
        let (_, framed) = self.client.ws(url).max_frame_size(1 << 20).connect().await.expect("websocket upgrade");
        WsClient { framed }
    }

    /// How many Redis subscribers a channel has (all nodes of this test).
    pub async fn numsub(&self, channel_suffix: &str) -> i64 {
        if let Some(seeds) = self.settings.redis.cluster_seeds() {
            return shard_numsub(&seeds, &format!("{}{}", self.settings.redis.key_prefix, channel_suffix)).await;
        }
        let client = ::redis::Client::open(self.settings.redis.url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let channel = format!("{}{}", self.settings.redis.key_prefix, channel_suffix);
        let (_, n): (String, i64) =
            ::redis::cmd("PUBSUB").arg("NUMSUB").arg(&channel).query_async(&mut conn).await.unwrap();
        n
    }

    /// Waits until `channel_suffix` has at least `n` subscribers.
    pub async fn wait_numsub(&self, channel_suffix: &str, n: i64) {
        for _ in 0..200 {
            if self.numsub(channel_suffix).await >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{channel_suffix} never reached {n} subscribers");
    }
}

impl From<actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>> for WsClient {
    fn from(framed: actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>) -> Self {
        Self { framed }
    }
}

impl WsClient {
    pub async fn send(&mut self, frame: &Value) {
        use futures_util::SinkExt;
        self.framed.send(awc::ws::Message::Text(frame.to_string().into())).await.unwrap();
    }

    /// Sends `frame`, reporting a failed write (a reset connection) instead
    /// of panicking.
    pub async fn try_send(&mut self, frame: &Value) -> Result<(), String> {
        use futures_util::SinkExt;
        self.framed.send(awc::ws::Message::Text(frame.to_string().into())).await.map_err(|err| err.to_string())
    }

    pub async fn send_text(&mut self, text: String) {
        use futures_util::SinkExt;
        self.framed.send(awc::ws::Message::Text(text.into())).await.unwrap();
    }

    /// Any frame, as built (fragments, binary).
    pub async fn send_message(&mut self, message: awc::ws::Message) {
        use futures_util::SinkExt;
        self.framed.send(message).await.unwrap();
    }

    pub async fn send_binary(&mut self, bytes: &'static [u8]) {
        use futures_util::SinkExt;
        self.framed.send(awc::ws::Message::Binary(bytes.into())).await.unwrap();
    }

    /// The next JSON text frame within `secs`, skipping control frames.
    /// `None` on timeout; panics if the socket closed.
    pub async fn next_within(&mut self, secs: f64) -> Option<Value> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next()).await.ok()?;
            match frame {
                Some(Ok(awc::ws::Frame::Text(bytes))) => return Some(serde_json::from_slice(&bytes).unwrap()),
                Some(Ok(awc::ws::Frame::Close(reason))) => panic!("socket closed: {reason:?}"),
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("socket error: {err}"),
                None => panic!("socket ended"),
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        self.next_within(5.0).await.expect("a frame within 5 s")
    }

    /// Waits for a frame of `type` (others are skipped).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        for _ in 0..50 {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
        panic!("no {kind} frame");
    }

    /// True once the server closed the socket (close frame or end) within `secs`.
    pub async fn closed_within(&mut self, secs: f64) -> Option<Option<awc::ws::CloseReason>> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(awc::ws::Frame::Close(reason)))) => return Some(reason),
                Ok(None) | Ok(Some(Err(_))) => return Some(None),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// Subscribers of a sharded channel on a Redis Cluster, asked of the master
/// that owns the channel's slot (`PUBSUB SHARDNUMSUB`).
pub async fn shard_numsub(seeds: &[String], channel: &str) -> i64 {
    use ::redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
    let client = ::redis::cluster::ClusterClient::new(seeds.to_vec()).unwrap();
    let mut conn = client.get_async_connection().await.unwrap();
    let mut cmd = ::redis::cmd("PUBSUB");
    cmd.arg("SHARDNUMSUB").arg(channel);
    let owner =
        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(channel, SlotAddr::Master)));
    let reply = conn.route_command(cmd, owner).await.unwrap();
    let (_, n): (String, i64) = ::redis::from_redis_value(reply).unwrap();
    n
}
