//! One deadpool of diesel-async connections per process, and the embedded
//! migrations.

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
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
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(settings.url.clone());
    let pool = Pool::builder(manager)
        .max_size(settings.pool_max_size)
        .wait_timeout(Some(Duration::from_millis(settings.pool_timeout_ms)))
        .create_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
        .recycle_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(pool)
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
