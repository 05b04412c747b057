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
