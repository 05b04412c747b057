//! The transactional outbox: events are inserted by the transaction that
//! makes the change, numbered per aggregate (`seq` 1, 2, 3…), and published
//! later by the relay (`actors::relay`).

use super::DbError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use super::Conn;
use super::prepared::Prepared;
use super::schema::outbox;
use crate::domain::events::CloudEvent;

/// Inserts `event` as the next in its aggregate's sequence, in one round
/// trip: `outbox_append` (a SQL function) takes a transaction lock on the
/// aggregate (`pg_advisory_xact_lock`, held to commit), so concurrent
/// writers are numbered one after the other — a user's notifications come
/// from many bookings at once.
pub async fn insert(
    conn: &mut Conn,
    aggregate_type: &str,
    aggregate_id: Uuid,
    event: &CloudEvent,
) -> Result<(), diesel::result::Error> {
    let payload = serde_json::to_value(event).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    Prepared::new("SELECT outbox_append($1, $2, $3, $4, $5) IS NULL")
        .bind::<SqlUuid, _>(event.id)
        .bind::<Text, _>(aggregate_type)
        .bind::<SqlUuid, _>(aggregate_id)
        .bind::<Text, _>(&event.event_type)
        .bind::<Jsonb, _>(payload)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxEvent {
    pub id: i64,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub event_type: String,
    pub payload: Value,
    pub seq: i64,
    pub created_at: DateTime<Utc>,
}

/// Where the relay sends committed events (Redis in production).
pub trait EventSink: Sync {
    fn publish(&self, batch: &[OutboxEvent]) -> impl Future<Output = Result<(), DbError>> + Send;
}

/// Serialises relays across nodes: one publishes at a time, so events leave
/// in commit order.
const RELAY_LOCK_KEY: i64 = 0x6b69_6c61_7402;

/// Claims up to `limit` unpublished events in order, hands them to
/// the sink, and marks them published, in one transaction. If the sink
/// fails nothing is marked and the batch is retried (at least once).
/// Returns how many were published; 0 when another node holds the relay.
pub async fn relay_batch<S: EventSink>(conn: &mut Conn, limit: i64, sink: &S) -> Result<usize, DbError> {
    conn.transaction::<usize, DbError, _>(async |conn| {
        #[derive(QueryableByName)]
        struct Locked {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            locked: bool,
        }
        // Marking events published need not wait for the WAL flush: lost in
        // a crash, they are published again (delivery is at least once).
        let locked = Prepared::new(format!(
            "SELECT pg_try_advisory_xact_lock({RELAY_LOCK_KEY}) AS locked, \
                    set_config('synchronous_commit', 'off', true) AS relaxed"
        ))
        .get_result::<Locked>(conn)
        .await?
        .locked;
        if !locked {
            return Ok(0);
        }
        let batch: Vec<OutboxEvent> = outbox::table
            .filter(outbox::published_at.is_null())
            .order(outbox::id.asc())
            .limit(limit)
            .select(OutboxEvent::as_select())
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        if batch.is_empty() {
            return Ok(0);
        }
        sink.publish(&batch).await?;
        let ids: Vec<i64> = batch.iter().map(|e| e.id).collect();
        diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
            .set(outbox::published_at.eq(Some(Utc::now())))
            .execute(conn)
            .await?;
        Ok(batch.len())
    })
    .await
}

/// A booking's events after `after_seq`, for a socket that reconnects.
pub async fn since(conn: &mut Conn, aggregate_id: Uuid, after_seq: i64) -> Result<Vec<OutboxEvent>, DbError> {
    between(conn, aggregate_id, after_seq, i64::MAX).await
}

/// Events with `after_seq < seq <= up_to`, oldest first (at most 1000): a
/// replay bounded by the sequence number read when it started, so an
/// event committed meanwhile is left to the live path, not counted twice.
pub async fn between(
    conn: &mut Conn,
    aggregate_id: Uuid,
    after_seq: i64,
    up_to: i64,
) -> Result<Vec<OutboxEvent>, DbError> {
    Ok(outbox::table
        .filter(outbox::aggregate_id.eq(aggregate_id))
        .filter(outbox::seq.gt(after_seq))
        .filter(outbox::seq.le(up_to))
        .order(outbox::seq.asc())
        .limit(1000)
        .select(OutboxEvent::as_select())
        .load(conn)
        .await?)
}

/// The newest sequence number of an aggregate (0 when it has no events).
pub async fn last_seq(conn: &mut Conn, aggregate_id: Uuid) -> Result<i64, DbError> {
    #[derive(QueryableByName)]
    struct Last {
        #[diesel(sql_type = BigInt)]
        seq: i64,
    }
    Ok(diesel::sql_query("SELECT coalesce(max(seq), 0) AS seq FROM outbox WHERE aggregate_id = $1")
        .bind::<SqlUuid, _>(aggregate_id)
        .get_result::<Last>(conn)
        .await?
        .seq)
}

/// What an operator watches of the outbox and the money steps.
#[derive(Debug, Clone, Copy, Default, diesel::QueryableByName)]
pub struct Backlog {
    /// Events not yet published.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub pending: i64,
    /// Age of the oldest of them, seconds (0 when drained).
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub lag_secs: f64,
    /// Payment steps and cash-outs waiting for an admin.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub payment_dead_letters: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub payout_dead_letters: i64,
}

/// One round trip over partial indexes (unpublished events, dead letters).
pub async fn backlog(conn: &mut Conn) -> Result<Backlog, DbError> {
    Ok(diesel::sql_query(
        "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS pending, \
                COALESCE((SELECT extract(epoch FROM now() - min(created_at)) FROM outbox \
                          WHERE published_at IS NULL), 0)::float8 AS lag_secs, \
                (SELECT count(*) FROM payment_dead_letters WHERE retried_at IS NULL) AS payment_dead_letters, \
                (SELECT count(*) FROM cash_outs WHERE dead_lettered_at IS NOT NULL) AS payout_dead_letters",
    )
    .get_result(conn)
    .await?)
}
