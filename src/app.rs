//! `Application::build`: pools, shared state, the HTTP server on a bound
//! listener (port 0 in tests), and the `kilat admin create` command.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_http::{HttpService, KeepAlive};
use actix_service::{IntoServiceFactory, map_config};
use actix_web::dev::AppConfig;
use actix_web::dev::Server;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, web};

use crate::actors::bus::Bus;
use crate::actors::dispatcher::{DispatchDeps, Dispatcher};
use crate::actors::location_writer::LocationWriter;
use crate::actors::notifier::Notifier;
use crate::actors::presence::PresenceSweeper;
use crate::actors::registry::Registry;
use crate::actors::relay::Relay;
use crate::auth::{HashPool, Passwords, TokenKeys};
use crate::config::QualityPolicyName;
use crate::config::Settings;
use crate::db::redis::RedisHandle;
use crate::db::{self, users};
use crate::domain::dispatch::WeightedRanking;
use crate::domain::eligibility;
use crate::domain::identity::{Email, NewPassword, Role, parse_full_name};
use crate::domain::pricing::StandardPricing;
use crate::domain::time::{Clock, SystemClock};
use crate::error::BoxError;
use crate::http::NodePhase;
use crate::http::ws::conn::OpenSockets;
use crate::http::{self, AppState, extract, middleware};
use crate::mailer::{LogMailer, Mailer};
use crate::payments::escrow::Escrow;
use crate::payments::saga::PaymentSaga;
use crate::push::{LogPushSender, PushSender};
use crate::services::{Credentials, Live, Services};

/// What the application is built from besides settings; tests swap these.
pub struct Dependencies {
    pub mailer: Arc<dyn Mailer>,
    pub push: Arc<dyn PushSender>,
    pub clock: Arc<dyn Clock>,
}

impl Default for Dependencies {
    fn default() -> Self {
        Self { mailer: Arc::new(LogMailer), push: Arc::new(LogPushSender), clock: Arc::new(SystemClock) }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    live: Live,
    drain: Drain,
}

/// What a node does when told to stop (SIGTERM, SIGINT, or a test):
/// readiness answers 503 at once; after `delay` (the load balancer stops
/// sending) the node stops accepting connections, every socket is told to
/// reconnect elsewhere and closed with 1001, and once they are closed
/// in-flight requests finish; sockets and requests get
/// `server.shutdown_timeout_secs` each.
#[derive(Clone)]
pub struct Drain {
    signal: Arc<tokio::sync::watch::Sender<crate::http::NodePhase>>,
    delay: Duration,
    sockets: OpenSockets,
    sockets_within: Duration,
}

impl Drain {
    /// Drains the node behind `server` and resolves when it has stopped.
    pub async fn run(&self, server: actix_web::dev::ServerHandle) {
        if self.signal.send_replace(NodePhase::Draining) != NodePhase::Serving {
            return; // already draining
        }
        tracing::info!(delay_ms = self.delay.as_millis() as u64, "draining: readiness is 503");
        tokio::time::sleep(self.delay).await;
        // Accept no more, so reconnecting clients land elsewhere.
        server.pause().await;
        crate::http::live_sockets_go_away(&self.signal);
        // Sockets are not connections actix-server waits for (they leave
        // its connection task at the upgrade: `http::ws::conn`).
        if !self.sockets.all_closed(self.sockets_within).await {
            tracing::warn!(open = self.sockets.count(), "sockets still open at the shutdown timeout; dropping them");
        }
        server.stop(true).await;
        tracing::info!("drained");
    }
}

impl Application {
    /// Builds everything and binds the listener; nothing is served until
    /// [`Application::run_until_stopped`]. Migrations run first when
    /// `database.migrate_on_start` is set.
    pub async fn build(settings: Settings, deps: Dependencies) -> Result<Self, BoxError> {
        if settings.database.migrate_on_start {
            let applied = db::run_migrations(&settings.database.url).await?;
            if !applied.is_empty() {
                tracing::info!(?applied, "migrations applied");
            }
        }
        // Bind before any actor starts: a taken port fails fast and cleanly.
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .map_err(|e| format!("cannot listen on {}:{}: {e}", settings.server.host, settings.server.port))?;
        let (signal, _) = tokio::sync::watch::channel(NodePhase::Serving);
        let signal = Arc::new(signal);
        let state = web::Data::new(build_state(settings, deps, signal.subscribe())?);
        let settings = state.settings.clone();
        let live = state.services.live.clone();
        let port = listener.local_addr()?.port();
        let json_limit = settings.server.json_limit_bytes;
        let app_settings = settings.clone();
        let addr = listener.local_addr()?;
        // One application per worker for requests, and one more for upgrade
        // requests (`http::ws::conn`): both share `state`.
        let make_app = move || {
            App::new()
                .app_data(state.clone())
                .app_data(extract::json_config(json_limit))
                .app_data(extract::query_config())
                .app_data(extract::path_config())
                .app_data(web::PayloadConfig::new(json_limit))
                .configure(http::routes::configure)
                // Swagger UI's files from the binary (vendored), reading our document
                .service(
                    utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
                        .config(utoipa_swagger_ui::Config::new(["/api/v1/openapi.json"])),
                )
                .default_service(web::to(http::not_found))
                .wrap(from_fn(middleware::rate_limit))
                .wrap(from_fn(middleware::observe))
                .wrap(Compress::default())
                .wrap(middleware::security_headers())
                .wrap(middleware::cors(&app_settings))
                .wrap(from_fn(middleware::echo_request_id))
                .wrap(tracing_actix_web::TracingLogger::<middleware::RequestSpan>::new())
                .into_factory()
        };
        let sockets = OpenSockets::default();
        let open = sockets.clone();
        let mut builder = actix_server::Server::build();
        let graceful = builder.graceful_shutdown_signal();
        let worker = move || {
            let graceful = graceful.clone();
            let upgrade_app = make_app.clone();
            HttpService::build()
                // idle keep-alive connections close at once on a graceful stop
                .graceful_shutdown_signal(move || {
                    let signal = graceful.clone();
                    async move { signal.notified().await }
                })
                .keep_alive(KeepAlive::Timeout(Duration::from_secs(5)))
                .client_request_timeout(Duration::from_secs(10))
                .client_disconnect_timeout(Duration::from_secs(1))
                // small frames must leave at once (Nagle + delayed ACK costs ~40 ms)
                .tcp_nodelay(true)
                .local_addr(addr)
                .upgrade(http::ws::conn::service(upgrade_app, open.clone()))
                .finish(map_config(make_app(), |_| AppConfig::default()))
                .tcp()
        };
        builder = builder.shutdown_timeout(settings.server.shutdown_timeout_secs);
        if settings.server.workers > 0 {
            builder = builder.workers(settings.server.workers);
        }
        // Signals are ours: a drain, not actix's abrupt stop (see `Drain`).
        let server = builder.disable_signals().listen("kilat", listener, worker)?.run();
        tracing::info!(port, environment = settings.environment.as_str(), "kilat listening");
        let drain = Drain {
            signal,
            delay: Duration::from_millis(settings.server.drain_delay_ms),
            sockets,
            sockets_within: Duration::from_secs(settings.server.shutdown_timeout_secs),
        };
        Ok(Self { port, server, live, drain })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The node's actors (tests and tools look inside them).
    pub fn live(&self) -> Live {
        self.live.clone()
    }

    /// Drains this node on demand (what SIGTERM does; tests use it).
    pub fn drain(&self) -> (Drain, actix_web::dev::ServerHandle) {
        (self.drain.clone(), self.server.handle())
    }

    /// Serves until SIGINT/SIGTERM, then drains (see [`Drain`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (drain, handle) = self.drain();
        actix_web::rt::spawn(async move {
            if wait_for_stop_signal().await {
                drain.run(handle).await;
            }
        });
        self.server.await
    }
}

/// True at SIGTERM or SIGINT; false if the signals cannot be listened to.
async fn wait_for_stop_signal() -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot listen for SIGTERM/SIGINT");
        return false;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = int.recv() => tracing::info!("SIGINT"),
    }
    true
}

/// Starts the node's actors once (outside `HttpServer::new`).
fn start_actors(
    settings: &Arc<Settings>,
    pool: &db::PgPool,
    redis: &RedisHandle,
    push: Arc<dyn PushSender>,
    quality: Arc<dyn eligibility::QualityPolicy>,
    escrow: Arc<Escrow>,
    metrics: &crate::metrics::Metrics,
) -> Result<Live, BoxError> {
    let rt = &settings.realtime;
    let source = match settings.redis.cluster_seeds() {
        Some(seeds) => crate::actors::bus::Source::Cluster {
            seeds,
            timeout: Duration::from_millis(settings.redis.command_timeout_ms),
        },
        None => crate::actors::bus::Source::Single(crate::db::redis::client(&settings.redis.url)?),
    };
    let bus = Bus::new(source, redis.connection(), metrics.bus.clone()).start();
    let writer = LocationWriter::new(pool.clone(), Duration::from_millis(rt.location_flush_ms)).start();
    let prefix = settings.redis.key_prefix.clone();
    let relay =
        Relay::new(pool.clone(), redis.connection(), prefix.clone(), Duration::from_millis(rt.relay_interval_ms))
            .start();
    let grace = Duration::from_secs(rt.presence_grace_secs);
    let registry = Registry::new(
        prefix.clone(),
        pool.clone(),
        bus.clone(),
        writer.clone(),
        Duration::from_secs(rt.runner_idle_secs),
        grace,
        rt.actor_shards,
    )
    .start();
    PresenceSweeper::new(pool.clone(), redis.clone(), bus.clone(), prefix, grace).start();
    Notifier::new(pool.clone(), push, Duration::from_millis(rt.notifier_interval_ms)).start();
    let d = &settings.dispatch;
    let dispatch_node: Arc<str> = Arc::from(uuid::Uuid::new_v4().to_string());
    let dispatcher = Dispatcher::new(DispatchDeps {
        node: dispatch_node.clone(),
        pool: pool.clone(),
        redis: redis.clone(),
        bus: bus.clone(),
        relay: relay.clone(),
        prefix: settings.redis.key_prefix.clone(),
        settings: d.clone(),
        quality,
        ranking: Arc::new(WeightedRanking {
            rating_weight_km: d.rating_weight_km,
            completion_weight_km: d.completion_weight_km,
        }),
        fee_percent: settings.marketplace.platform_fee_percent,
        metrics: metrics.dispatch.clone(),
    })
    .start();
    let saga = PaymentSaga::new(escrow, metrics.saga.clone()).start();
    Ok(Live { dispatcher, dispatch_node, bus, registry, relay, writer, saga, settings: settings.clone() })
}

fn build_state(
    settings: Settings,
    deps: Dependencies,
    draining: tokio::sync::watch::Receiver<NodePhase>,
) -> Result<AppState, BoxError> {
    let pool = db::pool::build(&settings.database)?;
    let redis = RedisHandle::new(&settings.redis)?;
    let quality: Arc<dyn eligibility::QualityPolicy> = match settings.marketplace.quality_policy {
        QualityPolicyName::Standard => Arc::new(eligibility::StandardQuality),
        QualityPolicyName::FiveStar => Arc::new(eligibility::FiveStarQuality),
    };
    let escrow = Arc::new(Escrow {
        pool: pool.clone(),
        gateway: crate::payments::gateway(&settings)?,
        settings: settings.payments.clone(),
        fee_percent: settings.marketplace.platform_fee_percent,
    });
    let settings = Arc::new(settings);
    let metrics = crate::metrics::Metrics::new()?;
    let live = start_actors(&settings, &pool, &redis, deps.push.clone(), quality.clone(), escrow.clone(), &metrics)?;
    let keys = TokenKeys::new(&settings.auth);
    let passwords = Passwords::new(&settings.auth)?;
    let hash_threads = match settings.auth.password_hash_concurrency {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    let hashing = HashPool::new(hash_threads, settings.auth.password_hash_queue)?;
    let credentials =
        Credentials { keys: keys.clone(), passwords: passwords.clone(), hashing: hashing.clone(), mailer: deps.mailer };
    let services = Arc::new(Services {
        credentials,
        pool: pool.clone(),
        settings: settings.clone(),
        quality,
        pricing: Arc::new(StandardPricing),
        escrow,
        rail: crate::payments::rail(&settings)?,
        live,
    });
    start_auto_confirm(services.clone());
    start_payouts(services.clone());
    start_schedule_notices(services.clone());
    Ok(AppState {
        settings,
        pool,
        redis,
        keys,
        draining,
        sockets: Default::default(),
        clock: deps.clock,
        services,
        metrics,
    })
}

/// Confirms, every ten saga intervals, the deliveries their owners never
/// confirmed within `payments.auto_confirm_hours` (the owner's confirm use
/// case, run by the system; every node sweeps, the database settles races).
fn start_auto_confirm(services: Arc<Services>) {
    let payments = &services.settings.payments;
    if payments.auto_confirm_hours <= 0.0 {
        return;
    }
    let every = Duration::from_millis(payments.saga_interval_ms.max(10).saturating_mul(10));
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match crate::services::bookings::auto_confirm_due(&services, 16).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(confirmed = n, "auto-confirmed delivered bookings"),
                Err(err) => tracing::warn!(error = %err, "auto-confirm sweep failed; retrying on the next tick"),
            }
        }
    });
}

/// Sends due cash-outs to the payout rail, on every node (each cash-out is
/// leased to one node while its transfer is in flight).
fn start_payouts(services: Arc<Services>) {
    let every = Duration::from_millis(services.settings.payouts.interval_ms.max(10));
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = crate::services::payouts::process_due(&services, 16).await {
                tracing::warn!(error = %err, "cash-out sweep failed; retrying on the next tick");
            }
        }
    });
}

/// Gives scheduled trips' notices (reminder, no runner by the time) as
/// they fall due, at the dispatcher's sweep pace. The schedule is in
/// Postgres and each notice is marked where it is given, so every node
/// sweeps and a restart loses nothing.
fn start_schedule_notices(services: Arc<Services>) {
    let every = Duration::from_millis(services.settings.dispatch.sweep_interval_ms.max(50));
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match crate::services::bookings::schedule_notices(&services, 100).await {
                Ok((0, 0)) => {}
                Ok((reminded, missed)) => tracing::info!(reminded, missed, "scheduled-trip notices given"),
                Err(err) => tracing::warn!(error = %err, "schedule sweep failed; retrying on the next tick"),
            }
        }
    });
}

/// `kilat admin create`: the only way to make an admin (public
/// registration refuses the role).
pub async fn create_admin(settings: &Settings, email: &str, password: &str, full_name: &str) -> Result<(), BoxError> {
    let email = Email::parse(email)?;
    let password = NewPassword::parse(password)?;
    let full_name = parse_full_name(full_name)?;
    db::run_migrations(&settings.database.url).await?;
    let passwords = Passwords::new(&settings.auth)?;
    let hash = tokio::task::spawn_blocking(move || passwords.hash(password.expose())).await??;
    let pool = db::pool::build(&settings.database)?;
    let mut conn = pool.get().await?;
    let user = users::insert(
        &mut conn,
        users::NewUser { email: &email, phone: "", password_hash: &hash, full_name: &full_name, role: Role::Admin },
    )
    .await
    .map_err(|e| e.to_string())?;
    tracing::info!(user_id = %user.id, email = %user.email, "admin created");
    Ok(())
}
