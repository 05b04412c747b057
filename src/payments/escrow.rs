//! The escrow service: initiate (write `pending`, ask the provider, apply
//! its answer), run a saga step, refund by an admin. No transaction is
//! open while the provider is called, and no pooled connection is held
//! across the call either.

use std::sync::Arc;

use uuid::Uuid;

use super::{GatewayError, HoldRequest, HoldState, PaymentGateway, Voided};
use crate::config::PaymentSettings;
use crate::db::PgPool;
use crate::db::payments::{self as payment_db, EscrowChange, Job, NewAttempt, Payment, StepOutcome};
use crate::domain::backoff::Backoff;
use crate::domain::booking::Actor;
use crate::domain::payment::{self, EscrowStatus, Step};
use crate::error::AppError;

pub struct Escrow {
    pub pool: PgPool,
    pub gateway: Arc<dyn PaymentGateway>,
    pub settings: PaymentSettings,
    pub fee_percent: i64,
}

pub struct InitiateRequest {
    pub booking_id: Uuid,
    pub amount_cents: i64,
    pub currency: String,
    pub customer_email: String,
    pub payment_method: Option<String>,
    /// A promo code (upper-cased), applied to this payment.
    pub promo_code: Option<String>,
}

pub struct Initiated {
    pub payment: Payment,
    /// For the app's Stripe SDK while the PaymentIntent awaits confirmation.
    pub client_secret: Option<String>,
    pub change: EscrowChange,
}

/// How a step run ended.
#[derive(Debug)]
pub enum StepRun {
    Done(Box<Payment>),
    /// Failed; retried later (false) or dead-lettered (true).
    Failed {
        error: GatewayError,
        dead: bool,
    },
}

impl Escrow {
    fn lease_secs(&self) -> f64 {
        self.settings.saga_lease_secs as f64
    }

    /// Initiate (docs/API.md#payments). A hold that completes within the request answers
    /// `held`; one the app must still confirm answers `pending` with the
    /// client secret. A decline leaves the attempt `failed` (402), an
    /// unreachable provider too (502); either may be retried.
    pub async fn initiate(&self, owner: Actor, req: InitiateRequest) -> Result<Initiated, AppError> {
        let payment = {
            let mut conn = self.pool.get().await?;
            payment_db::open_attempt(
                &mut conn,
                NewAttempt {
                    booking_id: req.booking_id,
                    owner,
                    amount_cents: req.amount_cents,
                    currency: &req.currency,
                    customer_email: &req.customer_email,
                    provider: self.gateway.name(),
                    fee_percent: self.fee_percent,
                    promo_code: req.promo_code.as_deref(),
                },
            )
            .await?
        };
        let hold = HoldRequest {
            payment_id: payment.id,
            booking_id: payment.booking_id,
            booking_number: payment.booking_number.clone(),
            owner_id: payment.owner_id,
            amount_cents: payment.amount_cents,
            currency: payment.currency.clone(),
            customer_email: payment.customer_email.clone(),
            payment_method: req.payment_method,
            idempotency_key: payment::hold_key(payment.booking_id, payment.attempt),
        };
        let answer = self.gateway.create_hold(&hold).await;
        let mut conn = self.pool.get().await?;
        match answer {
            Ok(h) => {
                let change = match h.state {
                    HoldState::Held => payment_db::mark_held(&mut conn, payment.id, &h.intent_id, &h.method).await?,
                    HoldState::AwaitingConfirmation => {
                        payment_db::attach_intent(&mut conn, payment.id, &h.intent_id).await?;
                        EscrowChange::default()
                    }
                };
                let payment = payment_db::find(&mut conn, payment.id)
                    .await?
                    .ok_or_else(|| AppError::not_found("payment", payment.id))?;
                Ok(Initiated { payment, client_secret: h.client_secret, change })
            }
            Err(err) => {
                tracing::warn!(payment_id = %payment.id, error = %err, "hold failed");
                let reason = match &err {
                    GatewayError::Declined { message, .. } => format!("card declined: {message}"),
                    GatewayError::Unavailable(_) => "payment provider unavailable".to_owned(),
                    GatewayError::Rejected { message, .. } => format!("payment provider refused: {message}"),
                };
                payment_db::mark_failed(&mut conn, payment.id, &reason).await?;
                Err(match err {
                    GatewayError::Declined { message, .. } => {
                        AppError::PaymentDeclined { error: "payment declined".into(), detail: message }
                    }
                    GatewayError::Unavailable(_) => {
                        AppError::BadGateway("payment provider unavailable, please retry".into())
                    }
                    GatewayError::Rejected { .. } => {
                        AppError::BadGateway("payment provider refused the payment".into())
                    }
                })
            }
        }
    }

    /// Runs one claimed step at the provider and records the outcome. Out
    /// of attempts (or refused outright) it moves to the dead letters.
    pub async fn run_step(&self, job: &Job) -> Result<StepRun, AppError> {
        let step = job.step;
        let current = {
            let mut conn = self.pool.get().await?;
            payment_db::find(&mut conn, job.payment_id)
                .await?
                .ok_or_else(|| AppError::not_found("payment", job.payment_id))?
        };
        let result = self.call_provider(step, &current).await;
        let mut conn = self.pool.get().await?;
        match result {
            Ok(outcome) => Ok(StepRun::Done(Box::new(payment_db::finish_step(&mut conn, job, outcome).await?))),
            Err(error) => {
                let out_of_attempts = job.attempts >= self.settings.saga_attempts;
                let retry_in = (error.is_transient() && !out_of_attempts).then(|| {
                    Backoff::new(
                        std::time::Duration::from_millis(self.settings.saga_backoff_ms),
                        std::time::Duration::from_millis(self.settings.saga_backoff_max_ms),
                    )
                    .after(job.attempts.max(0) as u32)
                });
                let dead = payment_db::fail_step(&mut conn, job, &error.to_string(), retry_in).await?;
                if dead {
                    tracing::error!(payment_id = %job.payment_id, step = %job.step, attempts = job.attempts,
                        error = %error, "saga step dead-lettered; an admin must retry it");
                } else {
                    tracing::warn!(payment_id = %job.payment_id, step = %job.step, attempts = job.attempts,
                        error = %error, "saga step failed; retrying later");
                }
                Ok(StepRun::Failed { error, dead })
            }
        }
    }

    /// The provider side of a step, decided by the payment's state now.
    async fn call_provider(&self, step: Step, p: &Payment) -> Result<StepOutcome, GatewayError> {
        let intent = p.stripe_payment_id.as_str();
        match (step, p.status()) {
            (Step::Capture, EscrowStatus::Held) => {
                self.gateway.capture(intent, &payment::step_key(p.id, "capture")).await?;
                Ok(StepOutcome::Captured)
            }
            (Step::Capture, _) => Ok(StepOutcome::Nothing),
            (Step::Void, EscrowStatus::Released) => {
                self.gateway.refund(intent, &payment::step_key(p.id, "refund")).await?;
                Ok(StepOutcome::GivenBack)
            }
            (Step::Void, EscrowStatus::Refunded) => Ok(StepOutcome::Nothing),
            (Step::Void, _) if intent.is_empty() => Ok(StepOutcome::GivenBack),
            (Step::Void, _) => {
                match self.gateway.cancel(intent, &payment::step_key(p.id, "cancel")).await? {
                    Voided::Cancelled => {}
                    Voided::AlreadyCaptured => self.gateway.refund(intent, &payment::step_key(p.id, "refund")).await?,
                }
                Ok(StepOutcome::GivenBack)
            }
        }
    }

    /// An admin refund (docs/API.md#payments): give a held payment back now. A provider failure is a
    /// 502 and the refund stays queued, retried by the saga.
    pub async fn refund_by_admin(&self, id: Uuid, reason: &str) -> Result<Payment, AppError> {
        let job = {
            let mut conn = self.pool.get().await?;
            payment_db::begin_refund(&mut conn, id, reason, self.lease_secs()).await?
        };
        self.finish_now(&job).await
    }

    /// Admin retry of a dead letter: its step runs again now.
    pub async fn retry_dead_letter(&self, id: i64) -> Result<Payment, AppError> {
        let job = {
            let mut conn = self.pool.get().await?;
            payment_db::retry_dead_letter(&mut conn, id, self.lease_secs()).await?
        };
        self.finish_now(&job).await
    }

    async fn finish_now(&self, job: &Job) -> Result<Payment, AppError> {
        match self.run_step(job).await? {
            StepRun::Done(payment) => Ok(*payment),
            StepRun::Failed { error, dead } => {
                let then = if dead { "it is in the dead letters again" } else { "it will be retried" };
                Err(AppError::BadGateway(format!("{error}; {then}")))
            }
        }
    }
}
