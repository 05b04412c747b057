//! Booking use cases: create, quote, rebook, accept (over REST or as the
//! answer to an offer on `/ws`), decline, pickup, deliver, confirm (by the
//! owner or by the system), cancel.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Dispatch, Followup, Services};
use crate::db::DbError;
use crate::db::bookings::{self, Booking, NewBooking};
use crate::db::redis::RedisHandle;
use crate::domain::booking::{Actor, Address, AddressInput, BookingStatus, MAX_NOTES};
use crate::domain::crates::CrateRequirement;
use crate::domain::pet::{PetSpec, PetSpecInput, check_validity};
use crate::domain::pricing::PriceBreakdown;
use crate::domain::schedule::Schedule;
use crate::domain::time;
use crate::domain::{Refusal, ValidationError};
use crate::error::AppError;

/// What an owner asks for (create and quote), as sent.
#[derive(Debug, Default)]
pub struct BookingInput {
    pub pet_spec: Option<PetSpecInput>,
    pub pickup_address: Option<AddressInput>,
    pub dropoff_address: Option<AddressInput>,
    /// RFC 3339, in the future (at most 30 days): the trip is dispatched
    /// from `scheduled_at − dispatch.schedule_lead_minutes`; price-neutral
    pub scheduled_at: Option<String>,
    pub notes: Option<String>,
}

/// A request, validated and priced.
pub struct Priced {
    pub booking: NewBooking,
    pub distance_km: f64,
    pub breakdown: PriceBreakdown,
}

/// Parses and prices a request (nothing is stored).
pub fn price(s: &Services, owner_id: Uuid, input: BookingInput) -> Result<Priced, ValidationError> {
    let now = Utc::now();
    let pet = input.pet_spec.ok_or_else(|| ValidationError::new("pet_spec is required"))?.parse(now)?;
    let pickup = AddressInput::parse(input.pickup_address, "pickup")?;
    let dropoff = AddressInput::parse(input.dropoff_address, "dropoff")?;
    let scheduled_at = match input.scheduled_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            let at = time::parse(raw).ok_or_else(|| ValidationError::new("scheduled_at must be RFC 3339"))?;
            Schedule::check(at, now)?;
            Some(at)
        }
    };
    let notes = input.notes.map(|n| n.trim().to_owned()).unwrap_or_default();
    if notes.chars().count() > MAX_NOTES {
        return Err(ValidationError::new("notes must be at most 1000 characters"));
    }
    priced(s, owner_id, pet, (pickup, dropoff), scheduled_at, notes)
}

fn priced(
    s: &Services,
    owner_id: Uuid,
    pet: PetSpec,
    (pickup, dropoff): (Address, Address),
    scheduled_at: Option<DateTime<Utc>>,
    notes: String,
) -> Result<Priced, ValidationError> {
    let requirement = CrateRequirement::for_pet(pet.pet_type, pet.weight_kg);
    let distance_km = pickup.coordinates().distance_km(&dropoff.coordinates());
    let breakdown = s.pricing.price(pet.pet_type, requirement.minimum_size, distance_km)?;
    Ok(Priced {
        booking: NewBooking {
            owner_id,
            pet,
            requirement,
            pickup,
            dropoff,
            price_cents: breakdown.total_cents,
            scheduled_at,
            notes,
            discount: None,
        },
        distance_km,
        breakdown,
    })
}

/// Stores a priced booking (`requested`) and pushes it to runners, unless
/// it is scheduled for later: then the dispatcher's sweep takes it up at
/// its lead time (on whichever node gets there first).
async fn store(s: &Services, priced: Priced) -> Result<Booking, AppError> {
    let now_open = s.settings.dispatch.schedule().is_open(priced.booking.scheduled_at, Utc::now());
    let booking = {
        let mut conn = s.pool.get().await?;
        let lease = if now_open { s.live.creation_lease() } else { None };
        bookings::create(&mut conn, priced.booking, lease).await?
    };
    let mut followup = Followup::published();
    if now_open {
        followup = followup.dispatch(Dispatch::Created(Arc::new(booking.clone())));
    }
    s.live.follow(followup).await;
    tracing::info!(booking_id = %booking.id, booking_number = %booking.booking_number, "booking requested");
    Ok(booking)
}

/// A subscriber's discount on a booking of `price_cents`: (cents, reason).
async fn subscriber_discount(s: &Services, owner: Uuid, price_cents: i64) -> Result<Option<(i64, String)>, AppError> {
    let live = {
        let mut conn = s.pool.get().await?;
        crate::db::subscriptions::live(&mut conn, owner).await?
    };
    Ok(live.and_then(|sub| {
        let cents = crate::domain::promo::subscription_discount(price_cents, sub.discount_percent as i64);
        (cents > 0).then(|| (cents, format!("{} subscription: {}% off", sub.plan, sub.discount_percent)))
    }))
}

/// The price a create would give, with a subscriber's discount (nothing stored).
pub async fn quote(s: &Services, owner: Actor, input: BookingInput) -> Result<Priced, AppError> {
    let mut priced = price(s, owner.id, input)?;
    priced.booking.discount = subscriber_discount(s, owner.id, priced.booking.price_cents).await?;
    Ok(priced)
}

/// Creates a booking; a subscriber's discount is fixed on it (taken off
/// when it is paid). Returns the booking and that discount.
pub async fn create(
    s: &Services,
    owner: Actor,
    input: BookingInput,
) -> Result<(Booking, Option<(i64, String)>), AppError> {
    let priced = quote(s, owner, input).await?;
    let discount = priced.booking.discount.clone();
    Ok((store(s, priced).await?, discount))
}

/// A new booking like `id`: same pet, addresses and notes, no schedule,
/// priced and checked again (a vaccination may have lapsed since).
pub async fn rebook(s: &Services, owner: Actor, id: Uuid) -> Result<Booking, AppError> {
    let original = {
        let mut conn = s.pool.get().await?;
        bookings::find(&mut conn, id).await?.ok_or_else(|| AppError::not_found("booking", id))?
    };
    if original.owner_id != owner.id {
        return Err(AppError::Forbidden("booking does not belong to this user".into()));
    }
    let pet = original.pet()?;
    let now = Utc::now();
    for v in &pet.vaccinations {
        check_validity(v, now)?;
    }
    let addresses = original.addresses()?;
    let mut priced = priced(s, owner.id, pet, addresses, None, original.notes.clone())?;
    priced.booking.discount = subscriber_discount(s, owner.id, priced.booking.price_cents).await?;
    store(s, priced).await
}

/// The conditional accept: of any number of concurrent accepts exactly one
/// lands (the database decides between a pushed and a pulled accept).
pub async fn accept(s: &Services, runner: Actor, id: Uuid) -> Result<Booking, AppError> {
    let booking = {
        let mut conn = s.pool.get().await?;
        bookings::accept(&mut conn, id, runner, s.quality.as_ref(), &s.settings.dispatch.schedule()).await?
    };
    s.live.follow(Followup::published().reload_runner(Some(runner.id))).await;
    Ok(booking)
}

/// Which offer a runner answers on `/ws`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferRef {
    /// The offer frame's `offer_id`: only the offer still open for this
    /// runner is taken.
    Offer(Uuid),
    /// A booking id: the ordinary accept (open to any eligible runner).
    Booking(Uuid),
}

/// `offer.accept`: an offer id must name the offer this runner holds now
/// (a stale or unknown one is refused); a booking id is the ordinary accept.
pub async fn accept_offer(
    s: &Services,
    redis: &RedisHandle,
    runner: Actor,
    offer: OfferRef,
) -> Result<Booking, AppError> {
    let booking_id = match offer {
        OfferRef::Booking(id) => id,
        OfferRef::Offer(offer_id) => {
            let held = redis.offer_held(runner.id).await.map_err(|e| AppError::Unavailable(e.to_string()))?;
            match held {
                Some(open) if open.offer_id == offer_id => open.booking_id,
                _ => return Err(AppError::Conflict("this offer is no longer open".into())),
            }
        }
    };
    accept(s, runner, booking_id).await
}

/// Back to the pool with a reason; pushed to runners again.
pub async fn decline(s: &Services, runner: Actor, id: Uuid, reason: &str) -> Result<Booking, AppError> {
    let booking = {
        let mut conn = s.pool.get().await?;
        bookings::decline(&mut conn, id, runner, reason).await?
    };
    s.live.follow(Followup::published().reload_runner(Some(runner.id)).dispatch(Dispatch::Reopened(booking.id))).await;
    Ok(booking)
}

/// Pickup (`in_progress`) or delivery (`delivered`) by the assigned runner.
pub async fn runner_step(s: &Services, runner: Actor, id: Uuid, to: BookingStatus) -> Result<Booking, AppError> {
    let booking = {
        let mut conn = s.pool.get().await?;
        bookings::runner_step(&mut conn, id, runner, to).await?
    };
    s.live.follow(Followup::published().reload_runner(Some(runner.id))).await;
    Ok(booking)
}

/// The owner confirms the delivery: completed, the escrow's capture queued.
pub async fn confirm(s: &Services, owner: Actor, id: Uuid) -> Result<Booking, AppError> {
    let (booking, step_due) = {
        let mut conn = s.pool.get().await?;
        bookings::confirm(&mut conn, id, Some(owner)).await?
    };
    s.live.follow(Followup::published().payment_step(step_due)).await;
    Ok(booking)
}

/// Confirms up to `limit` deliveries their owners never confirmed within
/// `payments.auto_confirm_hours` (the payment saga's sweep): the same
/// confirm, by the system. Returns how many.
pub async fn auto_confirm_due(s: &Services, limit: i64) -> Result<usize, AppError> {
    let due = {
        let mut conn = s.pool.get().await?;
        bookings::delivered_before(&mut conn, s.settings.payments.auto_confirm_hours, limit).await?
    };
    let mut confirmed = 0;
    let mut followup = Followup::default();
    for id in due {
        let mut conn = s.pool.get().await?;
        match bookings::confirm(&mut conn, id, None).await {
            Ok((_, step_due)) => {
                confirmed += 1;
                followup = followup.and(Followup::published().payment_step(step_due));
            }
            // the owner confirmed (or someone cancelled) at the same moment
            Err(DbError::Conflict(_) | DbError::Refused(Refusal::Transition { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    s.live.follow(followup).await;
    Ok(confirmed)
}

/// Scheduled trips' notices due now: reminders before pickup, and alarms
/// for trips whose time came with no runner (to the owner and the admins).
/// Returns (reminded, missed).
pub async fn schedule_notices(s: &Services, limit: i64) -> Result<(usize, usize), AppError> {
    let schedule = s.settings.dispatch.schedule();
    let (reminded, missed) = {
        let mut conn = s.pool.get().await?;
        let reminded = crate::db::schedule::remind_due(&mut conn, schedule.reminder_secs(), limit).await?;
        (reminded, crate::db::schedule::missed_due(&mut conn, limit).await?)
    };
    if reminded + missed > 0 {
        s.live.follow(Followup::published()).await;
    }
    Ok((reminded, missed))
}

/// An operator has a booking still waiting for a runner searched again now
/// (on this node, unless another is searching it this moment). 422 when it
/// is not waiting for a runner.
pub async fn redispatch(s: &Services, id: Uuid) -> Result<(), AppError> {
    let waiting = {
        let mut conn = s.pool.get().await?;
        crate::db::dispatch::retry_now(&mut conn, id).await?
    };
    if !waiting {
        return Err(Refusal::Unprocessable {
            error: "booking is not waiting for a runner".into(),
            detail: "only a requested booking without a runner can be dispatched again".into(),
        }
        .into());
    }
    s.live.follow(Followup::default().dispatch(Dispatch::Retry(id))).await;
    Ok(())
}

/// Cancel by the owner, the assigned runner or an admin: the escrow's
/// void (or refund) is queued, the runner freed.
pub async fn cancel(s: &Services, actor: Actor, id: Uuid, note: &str) -> Result<Booking, AppError> {
    let (booking, step_due) = {
        let mut conn = s.pool.get().await?;
        bookings::cancel(&mut conn, id, actor, note).await?
    };
    s.live.follow(Followup::published().payment_step(step_due).reload_runner(booking.runner_id)).await;
    Ok(booking)
}
