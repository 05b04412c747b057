//! The booking aggregate. Every change is one transaction: a conditional
//! update on `status` + `version`, a `booking_status_history` row, and an
//! outbox event.

use super::DbError;
use crate::domain::Refusal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use super::schema::{booking_decline_reasons, booking_photos, booking_status_history, bookings, runners};
use super::{Conn, payments, runners as runner_db, stream, tracking};
use crate::domain::booking::{Actor, Address, BookingStatus, Parties, new_booking_number};
use crate::domain::crates::CrateRequirement;
use crate::domain::eligibility::{self, QualityPolicy};
use crate::domain::events::{BookingFacts, CloudEvent, booking_event};
use crate::domain::pet::PetSpec;
use crate::domain::schedule::Schedule;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = bookings, check_for_backend(diesel::pg::Pg))]
pub struct Booking {
    pub id: Uuid,
    pub booking_number: String,
    pub owner_id: Uuid,
    pub runner_id: Option<Uuid>,
    pub status: BookingStatus,
    pub pet_spec: Value,
    pub crate_requirement: Value,
    pub pickup_address: Value,
    pub dropoff_address: Value,
    pub route_spec: Option<Value>,
    pub pet_type: String,
    pub pet_weight_kg: f64,
    pub min_crate_rank: i32,
    pub needs_temp_control: bool,
    pub pickup_lat: f64,
    pub pickup_lng: f64,
    pub estimated_price_cents: i64,
    pub final_price_cents: Option<i64>,
    pub currency: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub picked_up_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_note: String,
    pub notes: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Booking {
    /// The CHECK constraint keeps it one of the six.
    pub fn status(&self) -> BookingStatus {
        self.status
    }

    pub fn parties(&self) -> Parties {
        Parties { owner_id: self.owner_id, runner_id: self.runner_id }
    }

    pub fn facts(&self) -> BookingFacts<'_> {
        BookingFacts {
            booking_id: self.id,
            booking_number: &self.booking_number,
            owner_id: self.owner_id,
            runner_id: self.runner_id,
        }
    }

    pub fn pet(&self) -> Result<PetSpec, DbError> {
        serde_json::from_value(self.pet_spec.clone()).map_err(DbError::corrupt)
    }

    pub fn requirement(&self) -> Result<CrateRequirement, DbError> {
        serde_json::from_value(self.crate_requirement.clone()).map_err(DbError::corrupt)
    }

    pub fn addresses(&self) -> Result<(Address, Address), DbError> {
        let pickup = serde_json::from_value(self.pickup_address.clone()).map_err(DbError::corrupt)?;
        let dropoff = serde_json::from_value(self.dropoff_address.clone()).map_err(DbError::corrupt)?;
        Ok((pickup, dropoff))
    }
}

pub struct NewBooking {
    pub owner_id: Uuid,
    pub pet: PetSpec,
    pub requirement: CrateRequirement,
    pub pickup: Address,
    pub dropoff: Address,
    pub price_cents: i64,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub notes: String,
    /// A subscriber's discount (cents, reason), applied when it is paid.
    pub discount: Option<(i64, String)>,
}

/// Writes `booking.<kind>` to the outbox with the status change in it
/// (`old_status`, `new_status`), which the relay turns into status frames.
#[allow(clippy::too_many_arguments)]
async fn emit(
    conn: &mut Conn,
    facts: &BookingFacts<'_>,
    kind: &str,
    from: Option<BookingStatus>,
    to: BookingStatus,
    actor: impl Into<Option<Uuid>>,
    at: DateTime<Utc>,
    mut extra: Value,
) -> Result<(), diesel::result::Error> {
    if let Value::Object(map) = &mut extra {
        map.insert("old_status".into(), json!(from.map(BookingStatus::as_str)));
        map.insert("new_status".into(), json!(to.as_str()));
    }
    let event = booking_event(kind, facts, at, extra);
    stream::append(conn, facts, &event, actor.into()).await
}

/// `tracking.<kind>` on the booking's stream (docs/API.md#events), with the owner.
async fn emit_tracking(
    conn: &mut Conn,
    booking: &Booking,
    kind: &str,
    track: &tracking::Track,
    at: DateTime<Utc>,
) -> Result<(), diesel::result::Error> {
    let mut data = json!({
        "track_id": track.id,
        "booking_id": booking.id,
        "runner_id": track.runner_id,
        "owner_id": booking.owner_id,
        "occurred_at": crate::domain::time::format(&at),
    });
    if let Value::Object(map) = &mut data {
        match kind {
            "started" => {
                map.insert("started_at".into(), json!(crate::domain::time::format(&track.started_at)));
            }
            "completed" => {
                map.insert("total_distance_km".into(), json!(track.total_distance_km));
                map.insert("completed_at".into(), json!(track.completed_at.map(|t| crate::domain::time::format(&t))));
            }
            _ => {}
        }
    }
    let event = CloudEvent::new("kilat-tracking", &format!("tracking.{kind}"), at, data);
    stream::append(conn, &booking.facts(), &event, None).await
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, diesel::result::Error> {
    serde_json::to_value(value).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
}

async fn write_history(
    conn: &mut Conn,
    booking_id: Uuid,
    from: Option<BookingStatus>,
    to: BookingStatus,
    actor: impl Into<Option<Uuid>>,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), diesel::result::Error> {
    diesel::insert_into(booking_status_history::table)
        .values((
            booking_status_history::id.eq(super::new_id()),
            booking_status_history::booking_id.eq(booking_id),
            booking_status_history::from_status.eq(from.map(BookingStatus::as_str)),
            booking_status_history::to_status.eq(to.as_str()),
            booking_status_history::actor_id.eq(actor.into()),
            booking_status_history::reason.eq(reason),
            booking_status_history::created_at.eq(at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A dispatch lease taken in the creating transaction: (node, seconds).
pub type Lease<'a> = Option<(&'a str, f64)>;

/// Creates a `requested` booking with a fresh booking number (drawn again
/// on the rare clash), its first history row and `booking.requested`.
/// With a `lease`, the node's dispatch lease too, so the dispatcher starts
/// searching without a claim round trip of its own, and
/// `booking.searching` (with the owner's notice): dispatch starts with
/// this commit, so the create tells it rather than a transaction of its
/// own after the first search.
pub async fn create(conn: &mut Conn, new: NewBooking, lease: Lease<'_>) -> Result<Booking, DbError> {
    conn.transaction::<Booking, DbError, _>(async |conn| {
        let now = Utc::now();
        let pet_json = to_json(&new.pet)?;
        let req_json = to_json(&new.requirement)?;
        let pickup_json = to_json(&new.pickup)?;
        let dropoff_json = to_json(&new.dropoff)?;
        let mut inserted = None;
        for _ in 0..8 {
            let row = diesel::insert_into(bookings::table)
                .values((
                    bookings::id.eq(super::new_id()),
                    bookings::booking_number.eq(new_booking_number()),
                    bookings::owner_id.eq(new.owner_id),
                    bookings::status.eq(BookingStatus::Requested.as_str()),
                    bookings::pet_spec.eq(&pet_json),
                    bookings::crate_requirement.eq(&req_json),
                    bookings::pickup_address.eq(&pickup_json),
                    bookings::dropoff_address.eq(&dropoff_json),
                    bookings::pet_type.eq(new.pet.pet_type.as_str()),
                    bookings::pet_weight_kg.eq(new.pet.weight_kg),
                    bookings::min_crate_rank.eq(new.requirement.minimum_size as i32),
                    bookings::needs_temp_control.eq(new.requirement.needs_temp_control),
                    bookings::pickup_lat.eq(new.pickup.latitude),
                    bookings::pickup_lng.eq(new.pickup.longitude),
                    bookings::estimated_price_cents.eq(new.price_cents),
                    bookings::scheduled_at.eq(new.scheduled_at),
                    bookings::notes.eq(&new.notes),
                    bookings::created_at.eq(now),
                    bookings::updated_at.eq(now),
                ))
                .on_conflict(bookings::booking_number)
                .do_nothing()
                .returning(Booking::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            if row.is_some() {
                inserted = row;
                break;
            }
        }
        let booking = inserted.ok_or_else(|| DbError::corrupt("no free booking number after 8 draws"))?;
        if let Some((cents, reason)) = &new.discount {
            super::subscriptions::record_booking_discount(conn, booking.id, *cents, reason).await?;
        }
        write_history(conn, booking.id, None, BookingStatus::Requested, new.owner_id, "", now).await?;
        emit(
            conn,
            &booking.facts(),
            "requested",
            None,
            BookingStatus::Requested,
            new.owner_id,
            now,
            json!({
                "pet_type": new.pet.pet_type.as_str(),
                "pet_name": new.pet.name,
                "pickup_lat": new.pickup.latitude,
                "pickup_lng": new.pickup.longitude,
                "dropoff_lat": new.dropoff.latitude,
                "dropoff_lng": new.dropoff.longitude,
                "estimated_price_cents": new.price_cents,
                "currency": booking.currency,
            }),
        )
        .await?;
        if let Some((node, lease_secs)) = lease {
            super::prepared::Prepared::new(
                "INSERT INTO booking_dispatch (booking_id, node, lease_until) \
                 VALUES ($1, $2, now() + make_interval(secs => $3))",
            )
            .bind::<diesel::sql_types::Uuid, _>(booking.id)
            .bind::<diesel::sql_types::Text, _>(node)
            .bind::<diesel::sql_types::Double, _>(lease_secs)
            .execute(conn)
            .await?;
            let facts = booking.facts();
            stream::append(conn, &facts, &booking_event("searching", &facts, now, json!({})), None).await?;
        }
        Ok(booking)
    })
    .await
}

pub async fn find(conn: &mut Conn, id: Uuid) -> Result<Option<Booking>, DbError> {
    Ok(bookings::table.find(id).select(Booking::as_select()).first(conn).await.optional()?)
}

async fn load(conn: &mut Conn, id: Uuid) -> Result<Booking, DbError> {
    find(conn, id).await?.ok_or_else(|| DbError::not_found("booking", id))
}

/// A booking the actor may read (404 before 403, as the contract orders them).
pub async fn readable(conn: &mut Conn, id: Uuid, actor: Actor) -> Result<Booking, DbError> {
    let booking = load(conn, id).await?;
    if !booking.parties().may_read(actor, booking.status()) {
        return Err(DbError::Refused(Refusal::NotYours("not your booking")));
    }
    Ok(booking)
}

/// A booking whose participant the actor is (photos, history, tracking).
pub async fn participating(conn: &mut Conn, id: Uuid, actor: Actor) -> Result<Booking, DbError> {
    let booking = load(conn, id).await?;
    if !booking.parties().is_participant(actor) {
        return Err(DbError::Refused(Refusal::NotYours("not your booking")));
    }
    Ok(booking)
}

fn stale() -> DbError {
    DbError::Conflict("booking was modified by another transaction".into())
}

fn illegal(from: BookingStatus, to: BookingStatus) -> DbError {
    Refusal::Transition { from: from.as_str(), to: to.as_str() }.into()
}

/// The changes a transition writes besides status and version.
#[derive(Default, AsChangeset)]
#[diesel(table_name = bookings)]
struct TransitionChanges {
    runner_id: Option<Option<Uuid>>,
    picked_up_at: Option<Option<DateTime<Utc>>>,
    delivered_at: Option<Option<DateTime<Utc>>>,
    cancelled_at: Option<Option<DateTime<Utc>>>,
    cancel_note: Option<String>,
    final_price_cents: Option<Option<i64>>,
}

/// The conditional update at the heart of every transition: it only lands
/// on the version that was read; otherwise 409.
async fn apply(
    conn: &mut Conn,
    booking: &Booking,
    to: BookingStatus,
    changes: TransitionChanges,
    now: DateTime<Utc>,
) -> Result<Booking, DbError> {
    diesel::update(
        bookings::table
            .filter(bookings::id.eq(booking.id))
            .filter(bookings::version.eq(booking.version))
            .filter(bookings::status.eq(&booking.status)),
    )
    .set((
        changes,
        bookings::status.eq(to.as_str()),
        bookings::version.eq(bookings::version + 1),
        bookings::updated_at.eq(now),
    ))
    .returning(Booking::as_returning())
    .get_result(conn)
    .await
    .optional()?
    .ok_or_else(stale)
}

/// Accept by a runner: eligibility (online, crate fit, vehicle, quality
/// policy) is checked inside the transaction against the runner row held
/// `FOR SHARE`, then the conditional update decides the race: exactly one
/// runner wins, every other gets 409.
pub async fn accept(
    conn: &mut Conn,
    id: Uuid,
    runner: Actor,
    policy: &dyn QualityPolicy,
    schedule: &Schedule,
) -> Result<Booking, DbError> {
    conn.transaction::<Booking, DbError, _>(async |conn| {
        let booking = load(conn, id).await?;
        let status = booking.status();
        if status != BookingStatus::Requested {
            if booking.runner_id.is_some() && !booking.parties().is_assigned_runner(runner) {
                // Someone else got there first.
                return Err(stale());
            }
            return Err(illegal(status, BookingStatus::Accepted));
        }
        let now = Utc::now();
        if let Some(opens) = schedule.opens_at(booking.scheduled_at).filter(|opens| *opens > now) {
            let opens = crate::domain::time::format(&opens);
            let at = booking.scheduled_at.as_ref().map(crate::domain::time::format).unwrap_or_default();
            return Err(Refusal::Unprocessable {
                error: format!("booking is scheduled for {at}: runners can take it from {opens}"),
                detail: format!("scheduled_at {at}"),
            }
            .into());
        }
        // The apps show only `error`: it names the failed rule (the
        // contract's sentence first, so a prefix match still works).
        let not_eligible = |detail: String| -> DbError {
            Refusal::Unprocessable { error: format!("runner is not eligible for this booking: {detail}"), detail }
                .into()
        };
        let profile = runners::table
            .filter(runners::user_id.eq(runner.id))
            .select(runner_db::Runner::as_select())
            .for_share()
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| not_eligible("runner profile not found".into()))?;
        let crates = runner_db::crates_of(conn, profile.id).await?;
        let pet = booking.pet()?;
        let requirement = booking.requirement()?;
        eligibility::check(&runner_db::facts(&profile, &crates), pet.pet_type, pet.weight_kg, &requirement, policy)
            .map_err(not_eligible)?;
        let changes = TransitionChanges { runner_id: Some(Some(runner.id)), ..Default::default() };
        let updated = apply(conn, &booking, BookingStatus::Accepted, changes, now).await?;
        write_history(conn, id, Some(status), BookingStatus::Accepted, runner.id, "", now).await?;
        emit(conn, &updated.facts(), "accepted", Some(status), BookingStatus::Accepted, runner.id, now, json!({}))
            .await?;
        let track = tracking::start(conn, id, runner.id, now).await?;
        emit_tracking(conn, &updated, "started", &track, now).await?;
        Ok(updated)
    })
    .await
}

/// The assigned runner gives the job back: `accepted → requested`.
pub async fn decline(conn: &mut Conn, id: Uuid, runner: Actor, reason: &str) -> Result<Booking, DbError> {
    conn.transaction::<Booking, DbError, _>(async |conn| {
        let booking = load(conn, id).await?;
        if !booking.parties().is_assigned_runner(runner) {
            return Err(DbError::Refused(Refusal::NotYours("not your booking")));
        }
        let status = booking.status();
        if status != BookingStatus::Accepted {
            return Err(DbError::Conflict(format!("cannot decline booking in state '{status}'")));
        }
        let now = Utc::now();
        let changes = TransitionChanges { runner_id: Some(None), ..Default::default() };
        let updated = apply(conn, &booking, BookingStatus::Requested, changes, now).await?;
        diesel::insert_into(booking_decline_reasons::table)
            .values((
                booking_decline_reasons::id.eq(super::new_id()),
                booking_decline_reasons::booking_id.eq(id),
                booking_decline_reasons::runner_id.eq(runner.id),
                booking_decline_reasons::reason.eq(reason),
                booking_decline_reasons::declined_at.eq(now),
            ))
            .execute(conn)
            .await?;
        write_history(conn, id, Some(status), BookingStatus::Requested, runner.id, reason, now).await?;
        runner_db::trip_finished(conn, runner.id, false).await?;
        let facts = BookingFacts { runner_id: Some(runner.id), ..booking.facts() };
        emit(
            conn,
            &facts,
            "declined",
            Some(status),
            BookingStatus::Requested,
            runner.id,
            now,
            json!({"reason": reason}),
        )
        .await?;
        Ok(updated)
    })
    .await
}

/// Pickup (`accepted → in_progress`) or delivery (`in_progress → delivered`)
/// by the assigned runner.
pub async fn runner_step(conn: &mut Conn, id: Uuid, runner: Actor, to: BookingStatus) -> Result<Booking, DbError> {
    conn.transaction::<Booking, DbError, _>(async |conn| {
        let booking = load(conn, id).await?;
        if !booking.parties().is_assigned_runner(runner) {
            return Err(DbError::Refused(Refusal::NotYours("not your booking")));
        }
        let status = booking.status();
        status.transition(to).map_err(|e| illegal(e.from, e.to))?;
        let now = Utc::now();
        let (changes, kind, extra) = match to {
            BookingStatus::InProgress => (
                TransitionChanges { picked_up_at: Some(Some(now)), ..Default::default() },
                "pet_picked_up",
                json!({"picked_up_at": crate::domain::time::format(&now)}),
            ),
            BookingStatus::Delivered => (
                TransitionChanges { delivered_at: Some(Some(now)), ..Default::default() },
                "delivery_confirmed",
                json!({"delivered_at": crate::domain::time::format(&now)}),
            ),
            other => return Err(illegal(status, other)),
        };
        let updated = apply(conn, &booking, to, changes, now).await?;
        write_history(conn, id, Some(status), to, runner.id, "", now).await?;
        emit(conn, &updated.facts(), kind, Some(status), to, runner.id, now, extra).await?;
        if to == BookingStatus::Delivered {
            if let Some(track) = tracking::complete(conn, id, now).await? {
                emit_tracking(conn, &updated, "completed", &track, now).await?;
            }
        }
        Ok(updated)
    })
    .await
}

/// The owner confirms delivery: `delivered → completed`, the final price
/// fixed, the runner's trip count moves, and a held escrow's capture is
/// queued.
/// `delivered → completed` by the owner, or by the system (`None`: the
/// auto-confirm of a delivery the owner never confirmed); with whether a
/// payment step was queued.
pub async fn confirm(conn: &mut Conn, id: Uuid, owner: Option<Actor>) -> Result<(Booking, bool), DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let booking = load(conn, id).await?;
        if let Some(owner) = owner
            && !booking.parties().is_owner(owner)
        {
            return Err(DbError::Refused(Refusal::NotYours("booking does not belong to this user")));
        }
        let status = booking.status();
        status.transition(BookingStatus::Completed).map_err(|e| illegal(e.from, e.to))?;
        let now = Utc::now();
        let changes =
            TransitionChanges { final_price_cents: Some(Some(booking.estimated_price_cents)), ..Default::default() };
        let updated = apply(conn, &booking, BookingStatus::Completed, changes, now).await?;
        if let Some(runner_id) = updated.runner_id {
            runner_db::trip_finished(conn, runner_id, true).await?;
        }
        let actor = owner.map(|o| o.id);
        let reason = if owner.is_some() { "" } else { "auto-confirmed after delivery" };
        write_history(conn, id, Some(status), BookingStatus::Completed, actor, reason, now).await?;
        let extra = json!({"final_price_cents": updated.final_price_cents, "currency": updated.currency});
        emit(conn, &updated.facts(), "completed", Some(status), BookingStatus::Completed, actor, now, extra).await?;
        let step_due = payments::after_booking_change(conn, updated.id, updated.status, &updated.cancel_note).await?;
        // the owner's first completed trip pays their referral, if any
        super::referrals::reward_on_completion(conn, updated.owner_id, updated.id).await?;
        Ok((updated, step_due))
    })
    .await
}

/// Up to `limit` bookings delivered more than `after_hours` ago that their
/// owners never confirmed, oldest first.
pub async fn delivered_before(conn: &mut Conn, after_hours: f64, limit: i64) -> Result<Vec<Uuid>, DbError> {
    let due = bookings::table
        .filter(bookings::status.eq(BookingStatus::Delivered.as_str()))
        .filter(
            bookings::delivered_at.lt(Utc::now() - chrono::Duration::milliseconds((after_hours * 3_600_000.0) as i64)),
        )
        .order(bookings::delivered_at.asc())
        .limit(limit)
        .select(bookings::id)
        .load(conn)
        .await?;
    Ok(due)
}

/// Cancel by the owner, the assigned runner or an admin; with whether a
/// payment step was queued.
pub async fn cancel(conn: &mut Conn, id: Uuid, actor: Actor, note: &str) -> Result<(Booking, bool), DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let booking = load(conn, id).await?;
        if !booking.parties().is_participant(actor) {
            return Err(DbError::Refused(Refusal::NotYours("not your booking")));
        }
        let status = booking.status();
        status.transition(BookingStatus::Cancelled).map_err(|e| illegal(e.from, e.to))?;
        let now = Utc::now();
        let changes = TransitionChanges {
            cancelled_at: Some(Some(now)),
            cancel_note: Some(note.to_owned()),
            ..Default::default()
        };
        let updated = apply(conn, &booking, BookingStatus::Cancelled, changes, now).await?;
        write_history(conn, id, Some(status), BookingStatus::Cancelled, actor.id, note, now).await?;
        if booking.parties().is_assigned_runner(actor) {
            // the runner gave up a trip they had accepted
            runner_db::trip_finished(conn, actor.id, false).await?;
        }
        let extra = json!({"cancelled_by": actor.id, "cancelled_by_role": actor.role.as_str(), "reason": note});
        emit(conn, &updated.facts(), "cancelled", Some(status), BookingStatus::Cancelled, actor.id, now, extra).await?;
        if let Some(track) = tracking::cancel(conn, id).await? {
            emit_tracking(conn, &updated, "cancelled", &track, now).await?;
        }
        let step_due = payments::after_booking_change(conn, updated.id, updated.status, &updated.cancel_note).await?;
        Ok((updated, step_due))
    })
    .await
}

/// Which bookings a list call shows (docs/API.md#bookings).
#[derive(Debug, Clone, Copy)]
pub enum StatusFilter {
    Any,
    Active,
    Is(BookingStatus),
}

#[derive(Debug, Clone, Copy)]
pub enum Scope {
    OwnedBy(Uuid),
    AssignedTo(Uuid),
    All,
}

pub async fn list(
    conn: &mut Conn,
    scope: Scope,
    filter: StatusFilter,
    page: i64,
    limit: i64,
) -> Result<(Vec<Booking>, i64), DbError> {
    let query = || {
        let mut q = bookings::table.into_boxed();
        q = match scope {
            Scope::OwnedBy(id) => q.filter(bookings::owner_id.eq(id)),
            Scope::AssignedTo(id) => q.filter(bookings::runner_id.eq(id)),
            Scope::All => q,
        };
        match filter {
            StatusFilter::Any => q,
            StatusFilter::Active => q.filter(bookings::status.eq_any(BookingStatus::ACTIVE.map(BookingStatus::as_str))),
            StatusFilter::Is(s) => q.filter(bookings::status.eq(s.as_str())),
        }
    };
    let total: i64 = query().count().get_result(conn).await?;
    let rows = query()
        .order((bookings::created_at.desc(), bookings::id.desc()))
        .limit(limit)
        .offset((page - 1).saturating_mul(limit))
        .select(Booking::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// SQL twin of `domain::crates::Crate::fits` and the vehicle rule, over the
/// runner `r` and booking `b`.
pub(crate) const POOL_FILTER: &str = "b.status = 'requested' AND b.runner_id IS NULL \
    AND (NOT b.needs_temp_control OR r.air_conditioned) \
    AND EXISTS (SELECT 1 FROM runner_crates c WHERE c.runner_id = r.id \
        AND c.size_rank >= b.min_crate_rank AND b.pet_type = ANY (c.pet_types) \
        AND c.max_weight_kg >= b.pet_weight_kg AND c.ventilated \
        AND (NOT b.needs_temp_control OR c.temperature_controlled))";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The open pool for a runner: unassigned `requested` bookings one of the
/// runner's crates can carry, nearest pickup first (newest first when the
/// runner has no position). A runner without a profile sees nothing.
pub async fn open_pool(
    conn: &mut Conn,
    runner_user: Uuid,
    page: i64,
    limit: i64,
) -> Result<(Vec<Booking>, i64), DbError> {
    let total = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM bookings b JOIN runners r ON r.user_id = $1 WHERE {POOL_FILTER}"
    ))
    .bind::<SqlUuid, _>(runner_user)
    .get_result::<Count>(conn)
    .await?
    .n;
    let rows = diesel::sql_query(format!(
        "SELECT b.* FROM bookings b JOIN runners r ON r.user_id = $1 WHERE {POOL_FILTER} \
         ORDER BY (b.pickup_location <-> r.location) ASC NULLS LAST, b.created_at DESC, b.id \
         LIMIT $2 OFFSET $3"
    ))
    .bind::<SqlUuid, _>(runner_user)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>((page - 1).saturating_mul(limit))
    .load::<Booking>(conn)
    .await?;
    Ok((rows, total))
}

pub async fn count_by_status(conn: &mut Conn) -> Result<Vec<(BookingStatus, i64)>, DbError> {
    Ok(bookings::table
        .group_by(bookings::status)
        .select((bookings::status, diesel::dsl::count_star()))
        .load(conn)
        .await?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = booking_status_history, check_for_backend(diesel::pg::Pg))]
pub struct HistoryRow {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub from_status: Option<BookingStatus>,
    pub to_status: BookingStatus,
    pub actor_id: Option<Uuid>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

pub async fn history(conn: &mut Conn, id: Uuid) -> Result<Vec<HistoryRow>, DbError> {
    Ok(booking_status_history::table
        .filter(booking_status_history::booking_id.eq(id))
        .order((booking_status_history::created_at.asc(), booking_status_history::id.asc()))
        .select(HistoryRow::as_select())
        .load(conn)
        .await?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = booking_photos, check_for_backend(diesel::pg::Pg))]
pub struct Photo {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub runner_id: Uuid,
    pub photo_type: String,
    pub photo_url: String,
    pub caption: String,
    pub taken_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub async fn add_photo(
    conn: &mut Conn,
    booking: &Booking,
    runner: Actor,
    photo_type: &str,
    photo_url: &str,
    caption: &str,
) -> Result<Photo, DbError> {
    if !booking.parties().is_assigned_runner(runner) {
        return Err(DbError::Refused(Refusal::NotYours("not your booking")));
    }
    Ok(diesel::insert_into(booking_photos::table)
        .values((
            booking_photos::id.eq(super::new_id()),
            booking_photos::booking_id.eq(booking.id),
            booking_photos::runner_id.eq(runner.id),
            booking_photos::photo_type.eq(photo_type),
            booking_photos::photo_url.eq(photo_url),
            booking_photos::caption.eq(caption),
        ))
        .returning(Photo::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn photos(conn: &mut Conn, booking_id: Uuid) -> Result<Vec<Photo>, DbError> {
    Ok(booking_photos::table
        .filter(booking_photos::booking_id.eq(booking_id))
        .order((booking_photos::taken_at.asc(), booking_photos::id.asc()))
        .select(Photo::as_select())
        .load(conn)
        .await?)
}
