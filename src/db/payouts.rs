//! Payout destinations and cash-outs. A cash-out is written with its
//! ledger movement (available → in flight + fee) under the lock of the
//! runner's available account, so concurrent cash-outs queue and can never
//! overdraw; the worker claims due ones with a lease and records the
//! rail's answer with its movement (in flight → paid out, or back).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::ledger::{self, Refs};
use super::schema::{cash_outs, payout_destinations as dests};
use super::{Conn, DbError, notifications, outbox};
use crate::domain::Refusal;
use crate::domain::events::CloudEvent;
use crate::domain::ledger::{Account, cash_out_failed, cash_out_paid, cash_out_requested};
use crate::domain::notifications::ringgit;
use crate::domain::payout::{CashOutStatus, Destination};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = dests, check_for_backend(diesel::pg::Pg))]
pub struct StoredDestination {
    pub id: Uuid,
    pub runner_id: Uuid,
    pub bank_name: String,
    pub account_holder: String,
    pub account_masked: String,
    pub rail_account: String,
    pub created_at: DateTime<Utc>,
}

pub async fn add_destination(conn: &mut Conn, runner: Uuid, d: &Destination) -> Result<StoredDestination, DbError> {
    Ok(diesel::insert_into(dests::table)
        .values((
            dests::id.eq(super::new_id()),
            dests::runner_id.eq(runner),
            dests::bank_name.eq(&d.bank_name),
            dests::account_holder.eq(&d.account_holder),
            dests::account_masked.eq(&d.account_masked),
            dests::rail_account.eq(&d.rail_account),
        ))
        .returning(StoredDestination::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn destinations(conn: &mut Conn, runner: Uuid) -> Result<Vec<StoredDestination>, DbError> {
    Ok(dests::table
        .filter(dests::runner_id.eq(runner))
        .order(dests::created_at.desc())
        .select(StoredDestination::as_select())
        .load(conn)
        .await?)
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = cash_outs, check_for_backend(diesel::pg::Pg))]
pub struct CashOut {
    pub id: Uuid,
    pub runner_id: Uuid,
    pub destination_id: Uuid,
    pub amount_cents: i64,
    pub fee_cents: i64,
    pub currency: String,
    pub status: CashOutStatus,
    pub rail: String,
    pub rail_reference: String,
    pub failure_reason: String,
    pub attempts: i32,
    pub last_error: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub dead_lettered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
}

/// What a cash-out request needs.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub runner: Uuid,
    pub destination: Uuid,
    pub amount_cents: i64,
    pub fee_cents: i64,
    pub rail: &'a str,
    pub delay_secs: f64,
}

/// Writes a `pending` cash-out and its ledger movement, refusing (400
/// "amount exceeds available balance") what the runner's available
/// balance cannot cover with the fee, and someone else's destination (403).
pub async fn request(conn: &mut Conn, r: Request<'_>) -> Result<CashOut, DbError> {
    conn.transaction::<CashOut, DbError, _>(async |conn| {
        let owner: Option<Uuid> =
            dests::table.find(r.destination).select(dests::runner_id).first(conn).await.optional()?;
        if owner != Some(r.runner) {
            return Err(Refusal::NotYours("destination does not belong to runner").into());
        }
        let available = ledger::locked_balance(conn, Account::RunnerAvailable(r.runner)).await?;
        if r.amount_cents.saturating_add(r.fee_cents) > available {
            return Err(DbError::Refused(Refusal::Mismatch("amount exceeds available balance".into())));
        }
        let id = super::new_id();
        let row: CashOut = diesel::insert_into(cash_outs::table)
            .values((
                cash_outs::id.eq(id),
                cash_outs::runner_id.eq(r.runner),
                cash_outs::destination_id.eq(r.destination),
                cash_outs::amount_cents.eq(r.amount_cents),
                cash_outs::fee_cents.eq(r.fee_cents),
                cash_outs::rail.eq(r.rail),
                cash_outs::status.eq(CashOutStatus::Pending),
                cash_outs::next_attempt_at
                    .eq(Utc::now() + chrono::Duration::milliseconds((r.delay_secs * 1000.0) as i64)),
            ))
            .returning(CashOut::as_returning())
            .get_result(conn)
            .await?;
        let movement = cash_out_requested(r.runner, r.amount_cents, r.fee_cents);
        ledger::post(conn, &movement, Refs { cash_out_id: Some(id), ..Refs::default() }).await?;
        Ok(row)
    })
    .await
}

pub async fn for_runner(conn: &mut Conn, runner: Uuid, page: i64, limit: i64) -> Result<(Vec<CashOut>, i64), DbError> {
    let total: i64 = cash_outs::table.filter(cash_outs::runner_id.eq(runner)).count().get_result(conn).await?;
    let rows = cash_outs::table
        .filter(cash_outs::runner_id.eq(runner))
        .order((cash_outs::created_at.desc(), cash_outs::id))
        .limit(limit)
        .offset((page - 1).saturating_mul(limit))
        .select(CashOut::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// A claimed cash-out with where it goes.
#[derive(Debug, Clone)]
pub struct Due {
    pub cash_out: CashOut,
    pub rail_account: String,
}

/// Claims up to `limit` cash-outs due for the rail: `processing`, one more
/// attempt counted, leased for `lease_secs` so no other node sends it.
pub async fn claim_due(conn: &mut Conn, lease_secs: f64, limit: i64) -> Result<Vec<Due>, DbError> {
    let rows: Vec<CashOut> = diesel::sql_query(
        "UPDATE cash_outs SET status = 'processing', attempts = attempts + 1, updated_at = now(), \
             lease_until = now() + make_interval(secs => $1) \
         WHERE id IN (SELECT id FROM cash_outs \
                      WHERE next_attempt_at <= now() AND status IN ('pending', 'processing') \
                        AND (lease_until IS NULL OR lease_until < now()) \
                      ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING *",
    )
    .bind::<Double, _>(lease_secs)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|c| c.destination_id).collect();
    let accounts: Vec<(Uuid, String)> =
        dests::table.filter(dests::id.eq_any(&ids)).select((dests::id, dests::rail_account)).load(conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|c| {
            let account = accounts.iter().find(|(id, _)| *id == c.destination_id)?.1.clone();
            Some(Due { cash_out: c, rail_account: account })
        })
        .collect())
}

/// How the rail answered.
#[derive(Debug, Clone)]
pub enum Outcome {
    Paid {
        reference: String,
    },
    /// Final: the money goes back to the runner.
    Refused {
        reason: String,
    },
    /// Try again after `retry_in`; `None`: out of attempts, dead-lettered.
    Unavailable {
        error: String,
        retry_in: Option<std::time::Duration>,
    },
}

/// Applies the rail's answer to a claimed cash-out, with its ledger
/// movement and the runner's notification, in one transaction. An answer
/// for a cash-out no longer processing (finished meanwhile) changes nothing.
pub async fn record(conn: &mut Conn, id: Uuid, outcome: Outcome) -> Result<Option<CashOut>, DbError> {
    conn.transaction::<Option<CashOut>, DbError, _>(async |conn| {
        let Some(c) = cash_outs::table
            .find(id)
            .select(CashOut::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .filter(|c| c.status == CashOutStatus::Processing)
        else {
            return Ok(None);
        };
        let now = Utc::now();
        let refs = Refs { cash_out_id: Some(c.id), ..Refs::default() };
        let q = diesel::update(cash_outs::table.find(id));
        let updated: CashOut = match outcome {
            Outcome::Paid { reference } => {
                ledger::post(conn, &cash_out_paid(c.runner_id, c.amount_cents), refs).await?;
                q.set((
                    cash_outs::status.eq(CashOutStatus::Completed),
                    cash_outs::rail_reference.eq(reference),
                    cash_outs::completed_at.eq(Some(now)),
                    cash_outs::next_attempt_at.eq(None::<DateTime<Utc>>),
                    cash_outs::lease_until.eq(None::<DateTime<Utc>>),
                    cash_outs::updated_at.eq(now),
                ))
                .returning(CashOut::as_returning())
                .get_result(conn)
                .await?
            }
            Outcome::Refused { reason } => {
                ledger::post(conn, &cash_out_failed(c.runner_id, c.amount_cents, c.fee_cents), refs).await?;
                q.set((
                    cash_outs::status.eq(CashOutStatus::Failed),
                    cash_outs::failure_reason.eq(reason),
                    cash_outs::failed_at.eq(Some(now)),
                    cash_outs::next_attempt_at.eq(None::<DateTime<Utc>>),
                    cash_outs::lease_until.eq(None::<DateTime<Utc>>),
                    cash_outs::updated_at.eq(now),
                ))
                .returning(CashOut::as_returning())
                .get_result(conn)
                .await?
            }
            Outcome::Unavailable { error, retry_in } => {
                // the money stays in flight: the transfer may have gone through
                let next = retry_in.map(|d| now + chrono::Duration::milliseconds(d.as_millis() as i64));
                return Ok(Some(
                    q.set((
                        cash_outs::last_error.eq(error),
                        cash_outs::next_attempt_at.eq(next),
                        cash_outs::dead_lettered_at.eq(if next.is_none() { Some(now) } else { None }),
                        cash_outs::lease_until.eq(None::<DateTime<Utc>>),
                        cash_outs::updated_at.eq(now),
                    ))
                    .returning(CashOut::as_returning())
                    .get_result(conn)
                    .await?,
                ));
            }
        };
        notify(conn, &updated).await?;
        Ok(Some(updated))
    })
    .await
}

/// `payout.completed` / `payout.failed` to the runner's inbox (and `/ws`).
async fn notify(conn: &mut Conn, c: &CashOut) -> Result<(), DbError> {
    let amount = ringgit(c.amount_cents);
    let (kind, title, body) = match c.status {
        CashOutStatus::Completed => {
            ("payout.completed", "Cash-out Paid", format!("{amount} is on its way to your bank"))
        }
        CashOutStatus::Failed => (
            "payout.failed",
            "Cash-out Failed",
            format!("Your cash-out of {amount} failed ({}); the money is back in your balance", c.failure_reason),
        ),
        _ => return Ok(()),
    };
    let metadata = json!({"cash_out_id": c.id, "amount_cents": c.amount_cents, "status": c.status});
    notifications::create(conn, c.runner_id, None, kind, title, &body, metadata.clone()).await?;
    let event =
        CloudEvent::new("kilat-payout", kind, Utc::now(), json!({"runner_id": c.runner_id, "cash_out": metadata}));
    outbox::insert(conn, "user", c.runner_id, &event).await?;
    Ok(())
}

/// Dead-lettered cash-outs (out of rail attempts, money still in flight).
pub async fn dead_letters(conn: &mut Conn) -> Result<Vec<CashOut>, DbError> {
    Ok(cash_outs::table
        .filter(cash_outs::dead_lettered_at.is_not_null())
        .order(cash_outs::dead_lettered_at.desc())
        .select(CashOut::as_select())
        .limit(200)
        .load(conn)
        .await?)
}

/// An admin sends a dead-lettered cash-out again (same idempotency key, so
/// a transfer that did go through is not repeated).
pub async fn retry(conn: &mut Conn, id: Uuid) -> Result<CashOut, DbError> {
    diesel::update(cash_outs::table.find(id).filter(cash_outs::dead_lettered_at.is_not_null()))
        .set((
            cash_outs::dead_lettered_at.eq(None::<DateTime<Utc>>),
            cash_outs::next_attempt_at.eq(Some(Utc::now())),
            cash_outs::attempts.eq(0),
            cash_outs::updated_at.eq(Utc::now()),
        ))
        .returning(CashOut::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or(DbError::Missing("dead-lettered cash-out not found"))
}

#[derive(QueryableByName)]
struct Bal {
    #[diesel(sql_type = Text)]
    account: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A runner's (available, in flight, paid out) balances, in sen.
pub async fn balances(conn: &mut Conn, runner: Uuid) -> Result<(i64, i64, i64), DbError> {
    let codes = [Account::RunnerAvailable(runner), Account::RunnerInFlight(runner), Account::RunnerPaidOut(runner)]
        .map(|a| a.code());
    let rows: Vec<Bal> = diesel::sql_query(
        "SELECT account, COALESCE(sum(amount_cents), 0)::bigint AS n FROM ledger_entries \
         WHERE account = ANY($1) GROUP BY account",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(&codes[..])
    .load(conn)
    .await?;
    let of = |code: &str| rows.iter().find(|r| r.account == code).map(|r| r.n).unwrap_or(0);
    Ok((of(&codes[0]), of(&codes[1]), of(&codes[2])))
}
