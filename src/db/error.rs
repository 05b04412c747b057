//! What storage says went wrong. A db function returns this (or a plain
//! `QueryResult`); what it means to a caller (a status code, an error
//! frame) is decided above it (`error.rs`, services), never here.

use crate::domain::Refusal;
use crate::error::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The row is not there.
    #[error("{entity} not found")]
    NotFound { entity: &'static str, id: Option<String> },
    /// Not there, said in exactly these words (the contract's `runner not found`).
    #[error("{0}")]
    Missing(&'static str),
    /// A unique key, or a concurrent change (a stale version), got there first.
    #[error("{0}")]
    Conflict(String),
    /// A rule checked under the row's lock refused the change.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    /// No connection to be had (the pool timed out, or the database is down).
    #[error(transparent)]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    /// Stored data that does not read back (a fault, never the caller's).
    #[error("unreadable stored data: {0}")]
    Corrupt(BoxError),
}

impl DbError {
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        DbError::NotFound { entity, id: Some(id.to_string()) }
    }

    pub fn corrupt(err: impl Into<BoxError>) -> Self {
        DbError::Corrupt(err.into())
    }
}
