//! `POST /api/v1/payments/webhook`: Stripe events, verified by their
//! `Stripe-Signature` (HMAC-SHA256 over `t.payload`, constant-time compare,
//! 5-minute timestamp tolerance; async-stripe-webhook) and processed once
//! per event id: the id is recorded in the same transaction as the change
//! it causes, so a replay finds it and changes nothing.

use diesel_async::AsyncConnection;
use secrecy::ExposeSecret;
use stripe_core::{PaymentIntent, PaymentIntentStatus};
use stripe_webhook::{EventObject, Webhook, WebhookError};
use uuid::Uuid;

use super::escrow::Escrow;
use crate::db::Conn;
use crate::db::payments::{self as payment_db, EscrowChange, Payment};
use crate::domain::payment::EscrowStatus;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    /// Seen before: acknowledged, nothing done.
    Duplicate,
    /// Not an event we act on: acknowledged so the provider stops sending it.
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Processed => "processed",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
        }
    }
}

pub async fn receive(escrow: &Escrow, payload: &str, signature: &str) -> Result<(Outcome, EscrowChange), AppError> {
    let secret = escrow.settings.webhook_secret.expose_secret();
    if secret.is_empty() {
        return Err(AppError::BadRequest("webhooks are not configured (payments.webhook_secret)".into()));
    }
    let event = match Webhook::construct_event(payload, signature, secret) {
        Ok(event) => event,
        // the signature checked out, but the event is not one this build knows
        Err(WebhookError::BadParse(reason)) => {
            tracing::info!(%reason, "signed webhook event not understood; acknowledged");
            return Ok((Outcome::Ignored, EscrowChange::default()));
        }
        Err(WebhookError::BadTimestamp(_)) => {
            return Err(AppError::BadRequest("webhook signature timestamp is outside the tolerance".into()));
        }
        Err(_) => return Err(AppError::BadRequest("invalid webhook signature".into())),
    };
    let event_id = event.id.as_str().to_owned();
    let event_type = event.type_.as_str().to_owned();
    let mut conn = escrow.pool.get().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        if !payment_db::first_delivery(conn, &event_id, &event_type).await? {
            return Ok((Outcome::Duplicate, EscrowChange::default()));
        }
        let result = match event.data.object {
            EventObject::PaymentIntentAmountCapturableUpdated(pi) => on_capturable(conn, &pi).await?,
            EventObject::PaymentIntentPaymentFailed(pi) => on_failed(conn, &pi).await?,
            EventObject::PaymentIntentCanceled(pi) => on_canceled(conn, &pi).await?,
            _ => None,
        };
        Ok(match result {
            Some(followup) => (Outcome::Processed, followup),
            None => (Outcome::Ignored, EscrowChange::default()),
        })
    })
    .await
}

/// Ours by id, or by the `payment_id` we put in its metadata (an intent
/// whose creation answer was lost).
async fn payment_of(conn: &mut Conn, pi: &PaymentIntent) -> Result<Option<Payment>, AppError> {
    if let Some(p) = payment_db::by_intent(conn, pi.id.as_str()).await? {
        return Ok(Some(p));
    }
    let Some(id) = pi.metadata.get("payment_id").and_then(|s| Uuid::parse_str(s).ok()) else {
        return Ok(None);
    };
    Ok(payment_db::find(conn, id).await?)
}

/// `requires_capture`: the money is held.
async fn on_capturable(conn: &mut Conn, pi: &PaymentIntent) -> Result<Option<EscrowChange>, AppError> {
    if pi.status != PaymentIntentStatus::RequiresCapture {
        return Ok(None);
    }
    let Some(p) = payment_of(conn, pi).await? else {
        tracing::warn!(intent_id = pi.id.as_str(), "hold reported for an unknown PaymentIntent");
        return Ok(None);
    };
    let method = pi.payment_method_types.first().map(String::as_str).unwrap_or("");
    Ok(Some(payment_db::mark_held(conn, p.id, pi.id.as_str(), method).await?))
}

/// The app's confirmation failed (declined card, failed authentication).
async fn on_failed(conn: &mut Conn, pi: &PaymentIntent) -> Result<Option<EscrowChange>, AppError> {
    let Some(p) = payment_of(conn, pi).await? else { return Ok(None) };
    if p.status() != EscrowStatus::Pending {
        return Ok(None);
    }
    let reason = pi
        .last_payment_error
        .as_ref()
        .and_then(|e| e.message.clone())
        .unwrap_or_else(|| "the payment was not authorised".into());
    payment_db::mark_failed(conn, p.id, &reason).await?;
    Ok(Some(EscrowChange::default()))
}

/// Cancelled at the provider. Our own void is already recorded (or about
/// to be); anything else means the authorisation is gone (expired, or
/// cancelled from the dashboard) and the payment failed.
async fn on_canceled(conn: &mut Conn, pi: &PaymentIntent) -> Result<Option<EscrowChange>, AppError> {
    let Some(p) = payment_of(conn, pi).await? else { return Ok(None) };
    let ours = payment_db::step_pending(conn, p.id).await?;
    match p.status() {
        EscrowStatus::Pending | EscrowStatus::Held if !ours => {
            payment_db::mark_failed(conn, p.id, "the authorisation was cancelled at the payment provider").await?;
            Ok(Some(EscrowChange::default()))
        }
        _ => Ok(None),
    }
}
