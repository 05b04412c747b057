//! Escrow payments (docs/API.md#payments, docs/API.md#escrow): a `PaymentGateway` trait with an
//! async-stripe adapter (manual capture) and a simulated one, the escrow
//! service that drives them (`escrow`), the saga that finishes what a
//! request started (`saga`), and signed provider webhooks (`webhook`).
//!
//! Nothing here holds a database transaction across a provider call: a
//! payment is written `pending` first, the provider is called, and the
//! answer is applied by a conditional update.

pub mod escrow;
pub mod rail;
pub mod saga;
pub mod simulated;
pub mod stripe;
pub mod webhook;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use uuid::Uuid;

use crate::config::{PaymentProvider, PaymentSettings, Settings};
use crate::error::BoxError;

pub type GatewayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

/// A payment provider that can hold money (authorise without capturing),
/// then capture it, void it, or refund it.
pub trait PaymentGateway: Send + Sync {
    /// `"stripe"` or `"simulated"`, stored on each payment.
    fn name(&self) -> &'static str;

    /// Creates the hold (a manual-capture PaymentIntent). With a payment
    /// method it is confirmed at once; without one the app confirms it with
    /// the returned client secret and the webhook reports the hold.
    fn create_hold<'a>(&'a self, request: &'a HoldRequest) -> GatewayFuture<'a, Hold>;

    /// Captures the held amount. Capturing twice is not an error.
    fn capture<'a>(&'a self, intent_id: &'a str, idempotency_key: &'a str) -> GatewayFuture<'a, ()>;

    /// Releases an uncaptured hold; if the money was captured after all,
    /// says so, and the caller refunds instead.
    fn cancel<'a>(&'a self, intent_id: &'a str, idempotency_key: &'a str) -> GatewayFuture<'a, Voided>;

    /// Refunds a captured payment in full.
    fn refund<'a>(&'a self, intent_id: &'a str, idempotency_key: &'a str) -> GatewayFuture<'a, ()>;
}

#[derive(Debug, Clone)]
pub struct HoldRequest {
    pub payment_id: Uuid,
    pub booking_id: Uuid,
    pub booking_number: String,
    pub owner_id: Uuid,
    pub amount_cents: i64,
    /// ISO code as the booking stores it (`MYR`).
    pub currency: String,
    pub customer_email: String,
    /// A provider payment-method id (`pm_…`) to confirm with at once.
    pub payment_method: Option<String>,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldState {
    /// Authorised and waiting for capture (`requires_capture`).
    Held,
    /// The app must still confirm it with the client secret.
    AwaitingConfirmation,
}

#[derive(Debug, Clone)]
pub struct Hold {
    pub intent_id: String,
    pub client_secret: Option<String>,
    pub state: HoldState,
    /// `card`, … when the provider says; `""` otherwise.
    pub method: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voided {
    Cancelled,
    /// The PaymentIntent had been captured: refund it instead.
    AlreadyCaptured,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// The card was declined (Stripe `card_error`, 402): the payer's problem.
    #[error("payment declined: {message}")]
    Declined { code: String, message: String },
    /// The provider could not be reached or failed (timeouts, 429, 5xx),
    /// after retries. Worth retrying later.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request (another 4xx); retrying will not help.
    #[error("payment provider refused the request ({status} {code}): {message}")]
    Rejected { status: u16, code: String, message: String },
}

impl GatewayError {
    pub fn is_transient(&self) -> bool {
        matches!(self, GatewayError::Unavailable(_))
    }
}

/// The configured gateway. The simulated one is refused in production and
/// announced loudly elsewhere.
pub fn gateway(settings: &Settings) -> Result<Arc<dyn PaymentGateway>, BoxError> {
    let p: &PaymentSettings = &settings.payments;
    match p.provider {
        PaymentProvider::Stripe => Ok(Arc::new(stripe::StripeGateway::new(p)?)),
        PaymentProvider::Simulated => {
            if settings.environment != crate::config::Environment::Test {
                tracing::warn!(
                    "PAYMENTS ARE SIMULATED: holds succeed at once and no money moves \
                 (payments.provider = \"simulated\"; never in production)"
                );
            }
            Ok(Arc::new(simulated::SimulatedGateway))
        }
    }
}

/// The payout rail that goes with the payments provider.
pub fn rail(settings: &Settings) -> Result<Arc<dyn rail::PayoutRail>, BoxError> {
    Ok(match settings.payments.provider {
        PaymentProvider::Stripe => Arc::new(stripe::StripeGateway::new(&settings.payments)?),
        PaymentProvider::Simulated => Arc::new(rail::SimulatedRail),
    })
}
