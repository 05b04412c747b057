//! Promos, subscriptions and referrals (docs/API.md#promos): what changes
//! what an owner pays. Promos and credit are applied when a booking is paid
//! (`payments::initiate`), a subscriber's discount when it is priced.

use uuid::Uuid;

use super::Services;
use crate::db::promos::{self, Promo};
use crate::db::referrals::{self, Referral};
use crate::db::subscriptions::{self, Subscription};
use crate::domain::booking::Actor;
use crate::domain::promo::{NewPromo, normalise_code, plan};
use crate::error::AppError;
use crate::payments::{GatewayError, HoldRequest, HoldState};

pub async fn create_promo(s: &Services, admin: Actor, promo: NewPromo) -> Result<Promo, AppError> {
    let mut conn = s.pool.get().await?;
    Ok(promos::create(&mut conn, &promo, admin.id).await?)
}

pub async fn active_promos(s: &Services) -> Result<Vec<Promo>, AppError> {
    let mut conn = s.pool.get().await?;
    Ok(promos::active(&mut conn).await?)
}

/// The validate answer: (valid, code, discount, message).
pub async fn validate_promo(
    s: &Services,
    user: Actor,
    code: &str,
    amount_cents: i64,
) -> Result<(bool, String, i64, String), AppError> {
    let code = normalise_code(code);
    let mut conn = s.pool.get().await?;
    Ok(match promos::check(&mut conn, &code, user.id, amount_cents).await? {
        Ok((_, discount)) => (true, code, discount, String::new()),
        Err(refusal) => (false, code, 0, refusal.message()),
    })
}

/// Subscribes to `plan_name`, charged through the payment gateway and
/// captured at once (a card that needs the app's confirmation is refused
/// with 402: there is no booking to hold it for). 409 when a plan is in force.
pub async fn subscribe(
    s: &Services,
    user: Actor,
    email: &str,
    plan_name: &str,
    payment_method: Option<String>,
) -> Result<Subscription, AppError> {
    let plan = plan(plan_name)?;
    {
        let mut conn = s.pool.get().await?;
        subscriptions::check_free(&mut conn, user.id).await?;
    }
    let charge_id = Uuid::new_v4();
    let gateway = &s.escrow.gateway;
    let hold = HoldRequest {
        payment_id: charge_id,
        booking_id: charge_id,
        booking_number: format!("subscription {}", plan.plan),
        owner_id: user.id,
        amount_cents: plan.price_cents,
        currency: "MYR".into(),
        customer_email: email.to_owned(),
        payment_method,
        idempotency_key: format!("subscription-{charge_id}"),
    };
    let declined = |err: GatewayError| match err {
        GatewayError::Declined { message, .. } => {
            AppError::PaymentDeclined { error: "payment declined".into(), detail: message }
        }
        _ => AppError::BadGateway("payment provider unavailable, please retry".into()),
    };
    let held = gateway.create_hold(&hold).await.map_err(declined)?;
    if held.state != HoldState::Held {
        let _ = gateway.cancel(&held.intent_id, &format!("subscription-cancel-{charge_id}")).await;
        return Err(AppError::PaymentDeclined {
            error: "payment declined".into(),
            detail: "a payment_method that can be charged at once is required to subscribe".into(),
        });
    }
    gateway.capture(&held.intent_id, &format!("subscription-capture-{charge_id}")).await.map_err(declined)?;
    let mut conn = s.pool.get().await?;
    match subscriptions::start(&mut conn, user.id, &plan, &held.intent_id).await {
        Ok(sub) => Ok(sub),
        Err(err) => {
            // another subscription won the race: the charge goes back
            let _ = gateway.refund(&held.intent_id, &format!("subscription-refund-{charge_id}")).await;
            Err(err.into())
        }
    }
}

pub async fn my_subscription(s: &Services, user: Actor) -> Result<Subscription, AppError> {
    let mut conn = s.pool.get().await?;
    subscriptions::live(&mut conn, user.id).await?.ok_or_else(|| AppError::missing("no active subscription"))
}

pub async fn cancel_subscription(s: &Services, user: Actor) -> Result<Subscription, AppError> {
    let mut conn = s.pool.get().await?;
    Ok(subscriptions::cancel(&mut conn, user.id).await?)
}

/// The user's code (made on first ask) and whom it brought in.
pub async fn referrals(s: &Services, user: Actor) -> Result<(String, Vec<Referral>), AppError> {
    let mut conn = s.pool.get().await?;
    let code = referrals::code_of(&mut conn, user.id).await?;
    let list = referrals::of_referrer(&mut conn, user.id).await?;
    Ok((code, list))
}

pub async fn referral_code(s: &Services, user: Actor) -> Result<String, AppError> {
    let mut conn = s.pool.get().await?;
    Ok(referrals::code_of(&mut conn, user.id).await?)
}
