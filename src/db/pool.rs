//! One deadpool of diesel-async connections per process, and the embedded
//! migrations.

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseSettings;
use crate::error::BoxError;

pub type PgPool = Pool<AsyncPgConnection>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Serialises migrations when several nodes start at once.
const MIGRATION_LOCK_KEY: i64 = 0x6b69_6c61_7401;

/// Builds the pool. No connection is made until the first checkout, so a
/// node starts (and reports not-ready) while the database is down.
pub fn build(settings: &DatabaseSettings) -> Result<PgPool, BoxError> {
    // `Fast`: a checkout costs no round trip (the default `Verified` runs
    // `SELECT 1` every time). A connection the server closed is still
    // caught, as `is_closed`; one that fails mid-query is dropped then.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(|url| Box::pin(connect_warm(url.to_owned())));
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(settings.url.clone(), config);
    let pool = Pool::builder(manager)
        .max_size(settings.pool_max_size)
        .wait_timeout(Some(Duration::from_millis(settings.pool_timeout_ms)))
        .create_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
        .recycle_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(pool)
}

/// PostGIS loads into a backend on its first spatial call, about 30 ms:
/// paid here, when the pool opens the connection, not by the first
/// dispatch search or nearby query that happens to use it.
async fn connect_warm(url: String) -> diesel::ConnectionResult<AsyncPgConnection> {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let mut conn = AsyncPgConnection::establish(&url).await?;
    let warm = "SELECT ST_DWithin(ST_MakePoint(101.7, 3.1)::geography, ST_MakePoint(101.7, 3.2)::geography, 1.0, false), \
                ST_Expand(ST_MakePoint(101.7, 3.1), 0.1, 0.1) && ST_MakePoint(101.7, 3.1)";
    // A database without PostGIS yet (before the migrations) is still usable.
    if let Err(err) = diesel::sql_query(warm).execute(&mut conn).await {
        tracing::debug!(error = %err, "PostGIS warm-up skipped");
    }
    Ok(conn)
}

/// Runs pending migrations and returns the versions applied.
///
/// diesel's migration harness is synchronous; it runs through
/// `AsyncConnectionWrapper` on a blocking thread (the async harness panics
/// under actix's current-thread runtime).
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, BoxError> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || -> Result<Vec<String>, BoxError> {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(&mut conn)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>());
        let unlock = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(&mut conn);
        let applied = applied?;
        unlock?;
        Ok(applied)
    })
    .await?
}

/// One round trip: is the database answering?
pub async fn ping(conn: &mut super::Conn) -> diesel::QueryResult<()> {
    use diesel_async::RunQueryDsl;
    diesel::sql_query("SELECT 1").execute(conn).await.map(|_| ())
}
