//! Persistence. Postgres (diesel-async) is the source of truth; Redis holds
//! only what may be lost or rebuilt (rate-limit counters, later presence,
//! leases and fan-out).

pub mod applications;
pub mod bookings;
pub mod chat;
pub mod dispatch;
pub mod error;
pub mod ledger;
pub mod notifications;
pub mod ops;
pub mod outbox;
pub mod payments;
pub mod payouts;
pub mod pets;
pub mod pg_enum;
pub mod pool;
pub mod prepared;
pub mod promos;
pub mod redis;
pub mod referrals;
pub mod reviews;
pub mod runners;
pub mod schedule;
pub mod schema;
pub mod shops;
pub mod slots;
pub mod stream;
pub mod subscriptions;
pub mod tokens;
pub mod tracking;
pub mod users;

pub use error::DbError;
pub use pool::{PgPool, run_migrations};

/// The connection every db function takes.
pub type Conn = diesel_async::AsyncPgConnection;

/// A new row id: a UUIDv7, time-ordered, so a new row's key lands at the
/// right edge of its primary-key index (and of every index led by it)
/// instead of on a random leaf. A random leaf is a full 8 KiB page image in
/// the WAL the first time it is touched after each checkpoint: with v4 ids
/// a booking create wrote 25 KiB of WAL, with v7 ids 14 KiB (BENCHMARKS.md).
/// Ids are not secrets (access is checked on every read); tokens and
/// session ids stay random v4.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
