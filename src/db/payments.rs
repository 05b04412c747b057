//! Payments, saga steps, dead letters and processed webhook events. Every
//! escrow change is one transaction: a conditional update on the payment's
//! status, the `payment.*` outbox event on the booking's stream, the
//! owner's inbox row, and the saga step it makes due.

use super::DbError;
use crate::domain::Refusal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Integer, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Conn;
use super::schema::{booking_discounts, bookings, payment_dead_letters, payment_jobs, payments, stripe_events};
use super::stream;
use crate::domain::booking::{Actor, BookingStatus};
use crate::domain::events::{BookingFacts, CloudEvent};
use crate::domain::identity::Role;
use crate::domain::ledger;
use crate::domain::payment::{self, EscrowStatus, Step};
use crate::domain::promo::room_for_discount;
use crate::domain::time;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payments, check_for_backend(diesel::pg::Pg))]
pub struct Payment {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub booking_number: String,
    pub owner_id: Uuid,
    pub runner_id: Option<Uuid>,
    pub attempt: i32,
    pub escrow_status: EscrowStatus,
    pub amount_cents: i64,
    pub platform_fee_cents: i64,
    pub runner_payout_cents: i64,
    pub currency: String,
    pub customer_email: String,
    pub provider: String,
    pub payment_method: String,
    pub stripe_payment_id: String,
    pub failure_reason: String,
    pub refund_reason: String,
    pub escrow_held_at: Option<DateTime<Utc>>,
    pub captured_at: Option<DateTime<Utc>>,
    pub escrow_released_at: Option<DateTime<Utc>>,
    pub refunded_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Promo and subscription discounts (paid by the platform).
    pub discount_cents: i64,
    /// The owner's credit spent on it.
    pub credit_cents: i64,
    pub promo_code: String,
}

impl Payment {
    pub fn status(&self) -> EscrowStatus {
        self.escrow_status
    }
}

/// A new attempt to pay for a booking, as the owner asked for it.
pub struct NewAttempt<'a> {
    pub booking_id: Uuid,
    pub owner: Actor,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub customer_email: &'a str,
    pub provider: &'a str,
    pub fee_percent: i64,
    /// Upper-cased; applied to what is left after a subscriber's discount.
    pub promo_code: Option<&'a str>,
}

fn already_paid() -> DbError {
    DbError::Conflict("payment already exists for this booking".into())
}

/// Opens attempt n+1 as `pending`, after the contract's checks, in their
/// order: the booking exists (404), is the caller's (403), the amount is
/// its price (400), it can still be paid (422), and no other attempt is
/// live (409). The booking row is locked so two initiates queue up.
pub async fn open_attempt(conn: &mut Conn, new: NewAttempt<'_>) -> Result<Payment, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let booking = bookings::table
            .filter(bookings::id.eq(new.booking_id))
            .select(Terms::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| DbError::Missing("Booking not found"))?;
        if booking.owner_id != new.owner.id {
            return Err(DbError::Refused(Refusal::NotYours("booking does not belong to this user")));
        }
        if new.amount_cents != booking.estimated_price_cents {
            return Err(Refusal::Mismatch("amount_cents does not match the booking price".into()).into());
        }
        if !new.currency.eq_ignore_ascii_case(&booking.currency) {
            return Err(Refusal::Mismatch(format!("currency must be {}", booking.currency)).into());
        }
        if !payment::payable(booking.status) {
            return Err(Refusal::Unprocessable {
                error: "booking cannot be paid".into(),
                detail: format!("booking is '{}'", booking.status),
            }
            .into());
        }
        let live: i64 = payments::table
            .filter(payments::booking_id.eq(booking.id))
            .filter(payments::escrow_status.ne(EscrowStatus::Failed.as_str()))
            .count()
            .get_result(conn)
            .await?;
        if live > 0 {
            return Err(already_paid());
        }
        let attempts: i64 =
            payments::table.filter(payments::booking_id.eq(booking.id)).count().get_result(conn).await?;
        let split = payment::split(booking.estimated_price_cents, new.fee_percent);
        // What the owner is charged: the price less a subscriber's discount
        // (fixed on the booking), a promo, then their credit; never below
        // the smallest charge. The platform pays the difference.
        let price = booking.estimated_price_cents;
        let subscriber: i64 = booking_discounts::table
            .find(booking.id)
            .select(booking_discounts::discount_cents)
            .first(conn)
            .await
            .optional()?
            .unwrap_or(0);
        let subscriber = subscriber.min(room_for_discount(price));
        let mut remaining = price - subscriber;
        let promo = match new.promo_code {
            Some(code) => {
                let (promo_id, off) =
                    super::promos::take(conn, code, booking.owner_id, remaining, room_for_discount(remaining)).await?;
                remaining -= off;
                Some((promo_id, off, code))
            }
            None => None,
        };
        let credit = super::ledger::spendable_credit(conn, booking.owner_id).await?.min(room_for_discount(remaining));
        let amount = remaining - credit;
        let discount = price - remaining;
        let inserted = diesel::insert_into(payments::table)
            .values((
                payments::id.eq(super::new_id()),
                payments::booking_id.eq(booking.id),
                payments::booking_number.eq(&booking.booking_number),
                payments::owner_id.eq(booking.owner_id),
                payments::attempt.eq(attempts as i32 + 1),
                payments::amount_cents.eq(amount),
                payments::discount_cents.eq(discount),
                payments::credit_cents.eq(credit),
                payments::promo_code.eq(promo.map(|(_, _, code)| code).unwrap_or_default()),
                payments::platform_fee_cents.eq(split.platform_fee_cents),
                payments::runner_payout_cents.eq(split.runner_payout_cents),
                payments::currency.eq(&booking.currency),
                payments::customer_email.eq(new.customer_email),
                payments::provider.eq(new.provider),
            ))
            .returning(Payment::as_returning())
            .get_result(conn)
            .await;
        let payment = match inserted {
            Ok(p) => p,
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                return Err(already_paid());
            }
            Err(e) => return Err(e.into()),
        };
        if let Some((promo_id, off, _)) = promo {
            super::promos::record_use(conn, promo_id, booking.owner_id, payment.id, off).await?;
        }
        Ok(payment)
    })
    .await
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<Option<Payment>, DbError> {
    Ok(payments::table.find(id).select(Payment::as_select()).first(conn).await.optional()?)
}

/// The booking's latest attempt (a failed one stays visible until retried).
pub async fn latest_for_booking(conn: &mut Conn, booking_id: Uuid) -> Result<Option<Payment>, DbError> {
    Ok(payments::table
        .filter(payments::booking_id.eq(booking_id))
        .order(payments::attempt.desc())
        .select(Payment::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn by_intent(conn: &mut Conn, intent_id: &str) -> Result<Option<Payment>, DbError> {
    if intent_id.is_empty() {
        return Ok(None);
    }
    Ok(payments::table
        .filter(payments::stripe_payment_id.eq(intent_id))
        .select(Payment::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Who may read a payment: the booking's participants and admins.
pub async fn readable(conn: &mut Conn, payment: &Payment, actor: Actor) -> Result<(), DbError> {
    if actor.role == Role::Admin || actor.id == payment.owner_id {
        return Ok(());
    }
    let runner: Option<Option<Uuid>> =
        bookings::table.find(payment.booking_id).select(bookings::runner_id).first(conn).await.optional()?;
    if runner.flatten() == Some(actor.id) || payment.runner_id == Some(actor.id) {
        return Ok(());
    }
    Err(DbError::Refused(Refusal::NotYours("not your booking")))
}

/// Payments of bookings the runner carried, newest first (docs/API.md#payments).
pub async fn list_for_runner(
    conn: &mut Conn,
    runner: Uuid,
    page: i64,
    limit: i64,
) -> Result<(Vec<Payment>, i64), DbError> {
    let carried = bookings::table.filter(bookings::runner_id.eq(runner)).select(bookings::id);
    let query = || payments::table.filter(payments::booking_id.eq_any(carried));
    let total: i64 = query().count().get_result(conn).await?;
    let rows = query()
        .order((payments::created_at.desc(), payments::id.desc()))
        .limit(limit)
        .offset((page - 1).saturating_mul(limit))
        .select(Payment::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

pub async fn list_all(conn: &mut Conn, page: i64, limit: i64) -> Result<(Vec<Payment>, i64), DbError> {
    let total: i64 = payments::table.count().get_result(conn).await?;
    let rows = payments::table
        .order((payments::created_at.desc(), payments::id.desc()))
        .limit(limit)
        .offset((page - 1).saturating_mul(limit))
        .select(Payment::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// Count, amount and fees per status (admin stats).
pub async fn totals_by_status(conn: &mut Conn) -> Result<Vec<(EscrowStatus, i64, i64, i64)>, DbError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        status: EscrowStatus,
        #[diesel(sql_type = BigInt)]
        n: i64,
        #[diesel(sql_type = BigInt)]
        cents: i64,
        #[diesel(sql_type = BigInt)]
        fees: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT escrow_status AS status, count(*) AS n, coalesce(sum(amount_cents), 0)::bigint AS cents, \
         coalesce(sum(platform_fee_cents), 0)::bigint AS fees \
         FROM payments GROUP BY escrow_status",
    )
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.status, r.n, r.cents, r.fees)).collect())
}

// ---- escrow changes ---------------------------------------------------------

/// What an escrow change left due (the service turns it into a followup).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EscrowChange {
    /// A saga step became due: kick the saga.
    pub step_due: bool,
    /// The money for this booking is held now: dispatch may start
    /// (trigger `escrow_held`).
    pub held_booking: Option<Uuid>,
}

/// Locks the payment for a change, its booking's row first: every writer
/// of a booking's stream (transitions, dispatch events, payments) takes
/// the booking row before the outbox's advisory lock, so they queue up
/// instead of deadlocking (an inbox insert's foreign-key check would
/// otherwise wait on the booking row while holding the advisory lock).
async fn lock(conn: &mut Conn, id: Uuid) -> Result<Payment, DbError> {
    let booking_id: Uuid = payments::table
        .find(id)
        .select(payments::booking_id)
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| DbError::not_found("payment", id))?;
    diesel::sql_query("SELECT 1 FROM bookings WHERE id = $1 FOR UPDATE")
        .bind::<SqlUuid, _>(booking_id)
        .execute(conn)
        .await?;
    payments::table
        .find(id)
        .select(Payment::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| DbError::not_found("payment", id))
}

/// Conditional update: lands only on the status that was read. The money
/// movement the change makes is posted to the ledger in the same
/// transaction.
async fn set_status(
    conn: &mut Conn,
    p: &Payment,
    to: EscrowStatus,
    changes: PaymentChanges,
) -> Result<Payment, DbError> {
    let moved = diesel::update(
        payments::table.filter(payments::id.eq(p.id)).filter(payments::escrow_status.eq(&p.escrow_status)),
    )
    .set((
        changes,
        payments::escrow_status.eq(to.as_str()),
        payments::version.eq(payments::version + 1),
        payments::updated_at.eq(Utc::now()),
    ))
    .returning(Payment::as_returning())
    .get_result(conn)
    .await
    .optional()?
    .ok_or_else(|| DbError::Conflict("payment was modified by another transaction".into()))?;
    let facts = ledger::PaymentFacts {
        owner_id: moved.owner_id,
        runner_id: moved.runner_id,
        amount_cents: moved.amount_cents,
        discount_cents: moved.discount_cents,
        credit_cents: moved.credit_cents,
        platform_fee_cents: moved.platform_fee_cents,
        runner_payout_cents: moved.runner_payout_cents,
    };
    if matches!(to, EscrowStatus::Failed | EscrowStatus::Refunded) {
        super::promos::release_use(conn, moved.id).await?;
    }
    if let Some(movement) = ledger::escrow_movement(p.status(), to, &facts) {
        let refs =
            super::ledger::Refs { payment_id: Some(moved.id), booking_id: Some(moved.booking_id), cash_out_id: None };
        super::ledger::post(conn, &movement, refs).await?;
    }
    Ok(moved)
}

/// `set_status` plus its `payment.<kind>` event.
async fn move_to(
    conn: &mut Conn,
    p: &Payment,
    to: EscrowStatus,
    changes: PaymentChanges,
    kind: &str,
    data: Value,
) -> Result<Payment, DbError> {
    let moved = set_status(conn, p, to, changes).await?;
    emit(conn, &moved, kind, data).await?;
    Ok(moved)
}

async fn to_failed(conn: &mut Conn, p: &Payment, reason: &str) -> Result<Payment, DbError> {
    let changes = PaymentChanges {
        failure_reason: Some(reason.to_owned()),
        failed_at: Some(Some(Utc::now())),
        ..Default::default()
    };
    move_to(conn, p, EscrowStatus::Failed, changes, "failed", json!({"reason": reason})).await
}

#[derive(Default, AsChangeset)]
#[diesel(table_name = payments)]
struct PaymentChanges {
    runner_id: Option<Option<Uuid>>,
    payment_method: Option<String>,
    stripe_payment_id: Option<String>,
    failure_reason: Option<String>,
    refund_reason: Option<String>,
    escrow_held_at: Option<Option<DateTime<Utc>>>,
    captured_at: Option<Option<DateTime<Utc>>>,
    escrow_released_at: Option<Option<DateTime<Utc>>>,
    refunded_at: Option<Option<DateTime<Utc>>>,
    failed_at: Option<Option<DateTime<Utc>>>,
}

/// `payment.<kind>` on the booking's stream, and the inbox rows.
async fn emit(conn: &mut Conn, p: &Payment, kind: &str, mut data: Value) -> Result<(), DbError> {
    let now = Utc::now();
    let runner_id: Option<Uuid> =
        bookings::table.find(p.booking_id).select(bookings::runner_id).first(conn).await.optional()?.flatten();
    if let Value::Object(map) = &mut data {
        map.insert("payment_id".into(), json!(p.id));
        map.insert("booking_id".into(), json!(p.booking_id));
        map.insert("booking_number".into(), json!(p.booking_number));
        map.insert("owner_id".into(), json!(p.owner_id));
        map.insert("runner_id".into(), json!(p.runner_id.or(runner_id)));
        map.insert("currency".into(), json!(p.currency));
        map.insert("occurred_at".into(), json!(time::format(&now)));
    }
    let event = CloudEvent::new("kilat-payment", &format!("payment.{kind}"), now, data);
    let facts = BookingFacts {
        booking_id: p.booking_id,
        booking_number: &p.booking_number,
        owner_id: p.owner_id,
        runner_id: p.runner_id.or(runner_id),
    };
    stream::append(conn, &facts, &event, None).await?;
    Ok(())
}

async fn enqueue(conn: &mut Conn, payment_id: Uuid, step: Step, reason: &str) -> Result<bool, DbError> {
    let n = diesel::insert_into(payment_jobs::table)
        .values((
            payment_jobs::payment_id.eq(payment_id),
            payment_jobs::step.eq(step.as_str()),
            payment_jobs::reason.eq(reason),
        ))
        .on_conflict(payment_jobs::payment_id)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(n > 0)
}

/// What a payment needs to know of its booking.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = bookings, check_for_backend(diesel::pg::Pg))]
struct Terms {
    id: Uuid,
    booking_number: String,
    owner_id: Uuid,
    status: BookingStatus,
    estimated_price_cents: i64,
    currency: String,
    cancel_note: String,
}

/// The step a booking's outcome makes due for its money: capture when it
/// completed with the money held, give it back when it was cancelled.
async fn step_for_booking(conn: &mut Conn, p: &Payment, status: BookingStatus, note: &str) -> Result<bool, DbError> {
    match (status, p.status()) {
        (BookingStatus::Completed, EscrowStatus::Held) => enqueue(conn, p.id, Step::Capture, "").await,
        (BookingStatus::Cancelled, EscrowStatus::Pending | EscrowStatus::Held) => {
            enqueue(conn, p.id, Step::Void, &payment::cancel_refund_reason(note)).await
        }
        _ => Ok(false),
    }
}

/// Called inside the confirm/cancel transaction of a booking (after its
/// update, with its new status and cancel note): the live payment is
/// locked and its next step queued.
pub async fn after_booking_change(
    conn: &mut Conn,
    booking_id: Uuid,
    status: BookingStatus,
    cancel_note: &str,
) -> Result<bool, DbError> {
    let live = payments::table
        .filter(payments::booking_id.eq(booking_id))
        .filter(payments::escrow_status.ne(EscrowStatus::Failed.as_str()))
        .select(Payment::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    match live {
        Some(p) => step_for_booking(conn, &p, status, cancel_note).await,
        None => Ok(false),
    }
}

/// The provider holds the money: `pending → held`, `payment.escrow_held`.
/// If the booking finished meanwhile, its step is queued at once. A hold
/// reported for an attempt that already failed (or was given back) is an
/// orphan authorisation: it is voided.
pub async fn mark_held(conn: &mut Conn, id: Uuid, intent_id: &str, method: &str) -> Result<EscrowChange, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let p = lock(conn, id).await?;
        match p.status() {
            EscrowStatus::Pending => {}
            EscrowStatus::Held | EscrowStatus::Released => return Ok(EscrowChange::default()),
            EscrowStatus::Failed | EscrowStatus::Refunded => {
                if p.stripe_payment_id.is_empty() {
                    diesel::update(payments::table.find(p.id))
                        .set(payments::stripe_payment_id.eq(intent_id))
                        .execute(conn)
                        .await?;
                }
                tracing::warn!(payment_id = %p.id, intent_id, "hold reported for a finished attempt; voiding it");
                let step_due = enqueue(conn, p.id, Step::Void, "orphan authorisation").await?;
                return Ok(EscrowChange { step_due, held_booking: None });
            }
        }
        let now = Utc::now();
        let changes = PaymentChanges {
            stripe_payment_id: Some(intent_id.to_owned()),
            payment_method: (!method.is_empty()).then(|| method.to_owned()),
            escrow_held_at: Some(Some(now)),
            ..Default::default()
        };
        let data = json!({"stripe_payment_id": intent_id, "amount_cents": p.amount_cents});
        let held = move_to(conn, &p, EscrowStatus::Held, changes, "escrow_held", data).await?;
        let booking: Terms = bookings::table
            .find(held.booking_id)
            .select(Terms::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| DbError::not_found("booking", held.booking_id))?;
        let step_due = step_for_booking(conn, &held, booking.status, &booking.cancel_note).await?;
        Ok(EscrowChange { step_due, held_booking: Some(held.booking_id) })
    })
    .await
}

/// The PaymentIntent exists but the app must still confirm it.
pub async fn attach_intent(conn: &mut Conn, id: Uuid, intent_id: &str) -> Result<(), DbError> {
    diesel::update(payments::table.find(id))
        .filter(payments::stripe_payment_id.eq(""))
        .set((payments::stripe_payment_id.eq(intent_id), payments::updated_at.eq(Utc::now())))
        .execute(conn)
        .await?;
    Ok(())
}

/// `pending|held → failed` with the reason, `payment.failed`. Returns the
/// payment as it now is (unchanged when it had already moved on).
pub async fn mark_failed(conn: &mut Conn, id: Uuid, reason: &str) -> Result<Payment, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let p = lock(conn, id).await?;
        if !p.status().can_become(EscrowStatus::Failed) {
            return Ok(p);
        }
        to_failed(conn, &p, reason).await
    })
    .await
}

// ---- saga steps ---------------------------------------------------------------

#[derive(Debug, Clone, QueryableByName)]
pub struct Job {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = SqlUuid)]
    pub payment_id: Uuid,
    #[diesel(sql_type = Text)]
    pub step: Step,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// Claims up to `limit` due steps: each is leased for `lease_secs` (pushed
/// forward) with its attempt counted, so a crashed node's step comes due
/// again and two nodes never run one step at once.
pub async fn claim_due(conn: &mut Conn, lease_secs: f64, limit: i64) -> Result<Vec<Job>, DbError> {
    Ok(diesel::sql_query(
        "UPDATE payment_jobs j SET attempts = j.attempts + 1, next_attempt_at = now() + make_interval(secs => $1) \
         FROM (SELECT id FROM payment_jobs WHERE next_attempt_at <= now() ORDER BY next_attempt_at \
               LIMIT $2 FOR UPDATE SKIP LOCKED) due \
         WHERE j.id = due.id RETURNING j.id, j.payment_id, j.step, j.reason, j.attempts",
    )
    .bind::<Double, _>(lease_secs)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}

/// Queues `step` already claimed by the caller (an admin's refund or
/// retry runs it at once); 409 while another step of the payment runs.
async fn enqueue_claimed(
    conn: &mut Conn,
    payment_id: Uuid,
    step: Step,
    reason: &str,
    lease_secs: f64,
) -> Result<Job, DbError> {
    diesel::sql_query(
        "INSERT INTO payment_jobs (payment_id, step, reason, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, 1, now() + make_interval(secs => $4)) \
         ON CONFLICT (payment_id) DO NOTHING RETURNING id, payment_id, step, reason, attempts",
    )
    .bind::<SqlUuid, _>(payment_id)
    .bind::<Text, _>(step.as_str())
    .bind::<Text, _>(reason)
    .bind::<Double, _>(lease_secs)
    .get_result(conn)
    .await
    .optional()?
    .ok_or_else(|| DbError::Conflict("another operation on this payment is in progress".into()))
}

/// Admin refund (docs/API.md#payments): only a `held` payment (422 otherwise); the
/// void step is queued claimed, for the caller to run now.
pub async fn begin_refund(conn: &mut Conn, id: Uuid, reason: &str, lease_secs: f64) -> Result<Job, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let p = lock(conn, id).await?;
        if p.status() != EscrowStatus::Held {
            return Err(Refusal::Unprocessable {
                error: "payment cannot be refunded".into(),
                detail: format!("only a held payment can be refunded; this one is '{}'", p.escrow_status),
            }
            .into());
        }
        enqueue_claimed(conn, p.id, Step::Void, reason, lease_secs).await
    })
    .await
}

/// The step did what it had to: apply the outcome and drop the step, in
/// one transaction.
pub async fn finish_step(conn: &mut Conn, job: &Job, outcome: StepOutcome) -> Result<Payment, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let p = lock(conn, job.payment_id).await?;
        let now = Utc::now();
        let result = match outcome {
            StepOutcome::Captured if p.status() == EscrowStatus::Held => {
                let runner: Option<Uuid> =
                    bookings::table.find(p.booking_id).select(bookings::runner_id).first(conn).await?;
                let changes = PaymentChanges {
                    runner_id: Some(runner),
                    captured_at: Some(Some(now)),
                    escrow_released_at: Some(Some(now)),
                    ..Default::default()
                };
                let data = json!({"runner_payout_cents": p.runner_payout_cents,
                                  "platform_fee_cents": p.platform_fee_cents});
                move_to(conn, &p, EscrowStatus::Released, changes, "escrow_released", data).await?
            }
            StepOutcome::GivenBack if matches!(p.status(), EscrowStatus::Held | EscrowStatus::Released) => {
                let changes = PaymentChanges {
                    refund_reason: Some(job.reason.clone()),
                    refunded_at: Some(Some(now)),
                    ..Default::default()
                };
                let data = json!({"amount_cents": p.amount_cents, "refund_reason": job.reason});
                move_to(conn, &p, EscrowStatus::Refunded, changes, "escrow_refunded", data).await?
            }
            StepOutcome::GivenBack if p.status() == EscrowStatus::Pending => {
                to_failed(conn, &p, &format!("{} before the payment was held", job.reason)).await?
            }
            // already there (a retry after a lost answer), or nothing to move
            _ => p,
        };
        diesel::delete(payment_jobs::table.filter(payment_jobs::id.eq(job.id))).execute(conn).await?;
        Ok(result)
    })
    .await
}

/// What a step achieved at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    Captured,
    /// Cancelled or refunded: the payer has the money back.
    GivenBack,
    /// Nothing to do at the provider.
    Nothing,
}

/// The step failed: retried after `delay` unless it is out of attempts
/// (or retrying cannot help), then it moves to the dead-letter table.
/// Returns true when it was dead-lettered.
pub async fn fail_step(
    conn: &mut Conn,
    job: &Job,
    error: &str,
    retry_in: Option<std::time::Duration>,
) -> Result<bool, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| match retry_in {
        Some(delay) => {
            diesel::sql_query(
                "UPDATE payment_jobs SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3 \
                     WHERE id = $1",
            )
            .bind::<BigInt, _>(job.id)
            .bind::<Double, _>(delay.as_secs_f64())
            .bind::<Text, _>(error)
            .execute(conn)
            .await?;
            Ok(false)
        }
        None => {
            diesel::delete(payment_jobs::table.filter(payment_jobs::id.eq(job.id))).execute(conn).await?;
            diesel::insert_into(payment_dead_letters::table)
                .values((
                    payment_dead_letters::payment_id.eq(job.payment_id),
                    payment_dead_letters::step.eq(&job.step),
                    payment_dead_letters::reason.eq(&job.reason),
                    payment_dead_letters::attempts.eq(job.attempts),
                    payment_dead_letters::last_error.eq(error),
                ))
                .execute(conn)
                .await?;
            Ok(true)
        }
    })
    .await
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payment_dead_letters, check_for_backend(diesel::pg::Pg))]
pub struct DeadLetter {
    pub id: i64,
    pub payment_id: Uuid,
    pub step: Step,
    pub reason: String,
    pub attempts: i32,
    pub last_error: String,
    pub created_at: DateTime<Utc>,
    pub retried_at: Option<DateTime<Utc>>,
}

/// Dead letters not yet retried, newest first.
pub async fn dead_letters(conn: &mut Conn, page: i64, limit: i64) -> Result<(Vec<DeadLetter>, i64), DbError> {
    let query = || payment_dead_letters::table.filter(payment_dead_letters::retried_at.is_null());
    let total: i64 = query().count().get_result(conn).await?;
    let rows = query()
        .order((payment_dead_letters::created_at.desc(), payment_dead_letters::id.desc()))
        .limit(limit)
        .offset((page - 1).saturating_mul(limit))
        .select(DeadLetter::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// Marks the dead letter retried and queues its step again, claimed for
/// the caller to run now (with a fresh attempt budget).
pub async fn retry_dead_letter(conn: &mut Conn, id: i64, lease_secs: f64) -> Result<Job, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let letter = payment_dead_letters::table
            .find(id)
            .select(DeadLetter::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| DbError::not_found("dead letter", id))?;
        if letter.retried_at.is_some() {
            return Err(DbError::Conflict("dead letter was already retried".into()));
        }
        let step = letter.step;
        diesel::update(payment_dead_letters::table.find(id))
            .set(payment_dead_letters::retried_at.eq(Some(Utc::now())))
            .execute(conn)
            .await?;
        enqueue_claimed(conn, letter.payment_id, step, &letter.reason, lease_secs).await
    })
    .await
}

// ---- webhooks -----------------------------------------------------------------

/// Records a provider event id; false when it was seen before (replay).
pub async fn first_delivery(conn: &mut Conn, event_id: &str, event_type: &str) -> Result<bool, DbError> {
    let n = diesel::insert_into(stripe_events::table)
        .values((stripe_events::id.eq(event_id), stripe_events::event_type.eq(event_type)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n > 0)
}

/// Is a step queued for this payment (an operation of ours in flight)?
pub async fn step_pending(conn: &mut Conn, payment_id: Uuid) -> Result<bool, DbError> {
    let n: i64 = payment_jobs::table.filter(payment_jobs::payment_id.eq(payment_id)).count().get_result(conn).await?;
    Ok(n > 0)
}
