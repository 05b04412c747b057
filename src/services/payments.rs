//! Escrow use cases: initiate a hold, a Stripe webhook, an admin refund or
//! dead-letter retry. The provider is called by `payments::escrow` with no
//! transaction open; what must follow each change runs here.

use uuid::Uuid;

use super::{Dispatch, Followup, Services};
use crate::db::payments::{EscrowChange, Payment};
use crate::domain::booking::Actor;
use crate::error::AppError;
use crate::payments::escrow::{InitiateRequest, Initiated};
use crate::payments::webhook::{self, Outcome};

/// Publishes the change, starts a due step, and dispatches a booking whose
/// money is now held.
fn after(change: EscrowChange) -> Followup {
    let followup = Followup::published().payment_step(change.step_due);
    match change.held_booking {
        Some(booking_id) => followup.dispatch(Dispatch::EscrowHeld(booking_id)),
        None => followup,
    }
}

/// The hold for a booking (docs/API.md#payments). A failed attempt is recorded (and
/// its event published) before the error is returned.
pub async fn initiate(s: &Services, owner: Actor, request: InitiateRequest) -> Result<Initiated, AppError> {
    match s.escrow.initiate(owner, request).await {
        Ok(done) => {
            s.live.follow(after(done.change)).await;
            tracing::info!(payment_id = %done.payment.id, status = %done.payment.escrow_status, "payment initiated");
            Ok(done)
        }
        Err(err) => {
            s.live.follow(Followup::published()).await;
            Err(err)
        }
    }
}

/// A Stripe event, verified and applied once.
pub async fn webhook(s: &Services, payload: &str, signature: &str) -> Result<Outcome, AppError> {
    let (outcome, change) = webhook::receive(&s.escrow, payload, signature).await?;
    if outcome == Outcome::Processed {
        s.live.follow(after(change)).await;
    }
    Ok(outcome)
}

/// An admin gives a held payment back now (docs/API.md#payments).
pub async fn refund_by_admin(s: &Services, id: Uuid, reason: &str) -> Result<Payment, AppError> {
    let result = s.escrow.refund_by_admin(id, reason).await;
    s.live.follow(Followup::published()).await;
    result
}

/// An admin runs a dead-lettered step again.
pub async fn retry_dead_letter(s: &Services, id: i64) -> Result<Payment, AppError> {
    let result = s.escrow.retry_dead_letter(id).await;
    s.live.follow(Followup::published()).await;
    result
}
