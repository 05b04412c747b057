//! Runners' money (docs/API.md#cash-out): balances read from the ledger,
//! payout destinations, cash-outs (written with their ledger movement,
//! never overdrawing), and the worker that sends due cash-outs to the
//! payout rail with retries, idempotency keys and dead letters.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::{Followup, Services};
use crate::db::payouts::{self, CashOut, Outcome, StoredDestination};
use crate::domain::backoff::Backoff;
use crate::domain::booking::Actor;
use crate::domain::payout::{Destination, parse_cash_out};
use crate::error::AppError;
use crate::payments::GatewayError;
use crate::payments::rail::TransferRequest;

/// A runner's money, in sen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// Earned and not cashed out: what a cash-out may take (with its fee).
    pub available_cents: i64,
    /// Cash-outs on their way to the bank.
    pub pending_cents: i64,
    /// What reached the bank.
    pub paid_out_cents: i64,
}

pub async fn balance(s: &Services, runner: Actor) -> Result<Balance, AppError> {
    let mut conn = s.pool.get().await?;
    let (available_cents, pending_cents, paid_out_cents) = payouts::balances(&mut conn, runner.id).await?;
    Ok(Balance { available_cents, pending_cents, paid_out_cents })
}

/// The fields of a new destination, as sent.
#[derive(Debug, Default)]
pub struct DestinationInput {
    pub bank_name: Option<String>,
    pub account_holder: Option<String>,
    pub account_number: Option<String>,
    pub rail_account: Option<String>,
}

pub async fn add_destination(
    s: &Services,
    runner: Actor,
    input: DestinationInput,
) -> Result<StoredDestination, AppError> {
    let needs_account = s.rail.name() == "stripe";
    let destination = Destination::parse(
        input.bank_name.as_deref(),
        input.account_holder.as_deref(),
        input.account_number.as_deref(),
        input.rail_account.as_deref(),
        needs_account,
    )?;
    let mut conn = s.pool.get().await?;
    Ok(payouts::add_destination(&mut conn, runner.id, &destination).await?)
}

pub async fn destinations(s: &Services, runner: Actor) -> Result<Vec<StoredDestination>, AppError> {
    let mut conn = s.pool.get().await?;
    Ok(payouts::destinations(&mut conn, runner.id).await?)
}

/// `POST /payouts/cash-out`: the cash-out (pending) and its ledger movement;
/// the worker sends it after `payouts.rail_delay_secs`.
pub async fn cash_out(
    s: &Services,
    runner: Actor,
    amount: Option<&Value>,
    destination: Option<&str>,
) -> Result<CashOut, AppError> {
    let (amount_cents, destination) = parse_cash_out(amount, destination)?;
    let p = &s.settings.payouts;
    let request = payouts::Request {
        runner: runner.id,
        destination,
        amount_cents,
        fee_cents: p.fee_cents,
        rail: s.rail.name(),
        delay_secs: p.rail_delay_secs as f64,
    };
    let created = {
        let mut conn = s.pool.get().await?;
        payouts::request(&mut conn, request).await?
    };
    tracing::info!(cash_out_id = %created.id, runner_id = %runner.id, amount_cents, "cash-out requested");
    Ok(created)
}

pub async fn history(s: &Services, runner: Actor, page: i64, limit: i64) -> Result<(Vec<CashOut>, i64), AppError> {
    let mut conn = s.pool.get().await?;
    Ok(payouts::for_runner(&mut conn, runner.id, page, limit).await?)
}

/// Sends the due cash-outs to the rail (run on a timer by every node; a
/// lease keeps each with one node). Returns how many were answered.
pub async fn process_due(s: &Services, limit: i64) -> Result<usize, AppError> {
    let p = &s.settings.payouts;
    let due = {
        let mut conn = s.pool.get().await?;
        payouts::claim_due(&mut conn, p.lease_secs as f64, limit).await?
    };
    let backoff = Backoff::new(Duration::from_millis(p.backoff_ms), Duration::from_millis(p.backoff_max_ms));
    let mut answered = 0;
    for d in due {
        let c = &d.cash_out;
        let request = TransferRequest {
            cash_out_id: c.id,
            runner_id: c.runner_id,
            amount_cents: c.amount_cents,
            currency: c.currency.clone(),
            destination: d.rail_account.clone(),
        };
        let outcome = match s.rail.transfer(&request).await {
            Ok(reference) => Outcome::Paid { reference },
            Err(err @ GatewayError::Unavailable(_)) => {
                let retry_in = (c.attempts < p.attempts).then(|| backoff.after(c.attempts.max(0) as u32));
                if retry_in.is_none() {
                    tracing::error!(cash_out_id = %c.id, error = %err, "cash-out dead-lettered after its last attempt");
                } else {
                    tracing::warn!(cash_out_id = %c.id, error = %err, "payout rail unavailable; retrying");
                }
                Outcome::Unavailable { error: err.to_string(), retry_in }
            }
            Err(err) => Outcome::Refused { reason: refusal_reason(&err) },
        };
        let mut conn = s.pool.get().await?;
        if let Some(done) = payouts::record(&mut conn, c.id, outcome).await? {
            answered += 1;
            tracing::info!(cash_out_id = %done.id, status = %done.status, "cash-out answered by the rail");
        }
    }
    if answered > 0 {
        s.live.follow(Followup::published()).await;
    }
    Ok(answered)
}

/// What the runner reads when the rail refuses: the provider's message.
fn refusal_reason(err: &GatewayError) -> String {
    match err {
        GatewayError::Rejected { message, .. } | GatewayError::Declined { message, .. } => message.clone(),
        GatewayError::Unavailable(message) => message.clone(),
    }
}

pub async fn dead_letters(s: &Services) -> Result<Vec<CashOut>, AppError> {
    let mut conn = s.pool.get().await?;
    Ok(payouts::dead_letters(&mut conn).await?)
}

pub async fn retry(s: &Services, id: Uuid) -> Result<CashOut, AppError> {
    let retried = {
        let mut conn = s.pool.get().await?;
        payouts::retry(&mut conn, id).await?
    };
    Ok(retried)
}
