//! Payout rails: how a runner's cash-out reaches their bank. A
//! `PayoutRail` sends one transfer per cash-out under the cash-out's id as
//! idempotency key, so a retry after a lost answer never pays twice. The
//! Stripe rail is a Connect Transfer to the runner's connected account
//! (async-stripe); the simulated one pays at once and moves no money.

use std::collections::HashMap;

use stripe_connect::transfer::CreateTransfer;
use uuid::Uuid;

use super::GatewayFuture;
use super::stripe::StripeGateway;

#[derive(Debug, Clone)]
pub struct TransferRequest {
    pub cash_out_id: Uuid,
    pub runner_id: Uuid,
    pub amount_cents: i64,
    /// ISO code (`MYR`).
    pub currency: String,
    /// The rail's id of the destination (a connected account, `acct_…`).
    pub destination: String,
}

pub trait PayoutRail: Send + Sync {
    /// `"stripe"` or `"simulated"`, stored on each cash-out.
    fn name(&self) -> &'static str;

    /// Pays `request` out; the rail's reference for the transfer. A
    /// `Rejected` answer is final (the money goes back to the runner); an
    /// `Unavailable` one is retried.
    fn transfer<'a>(&'a self, request: &'a TransferRequest) -> GatewayFuture<'a, String>;
}

/// Pays at once, referenced `DN-<cash-out id>` like the reference's rail.
pub struct SimulatedRail;

impl PayoutRail for SimulatedRail {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn transfer<'a>(&'a self, request: &'a TransferRequest) -> GatewayFuture<'a, String> {
        Box::pin(async move { Ok(format!("DN-{}", request.cash_out_id)) })
    }
}

impl PayoutRail for StripeGateway {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn transfer<'a>(&'a self, r: &'a TransferRequest) -> GatewayFuture<'a, String> {
        Box::pin(async move {
            let currency = super::stripe::currency(&r.currency)?;
            let metadata = HashMap::from([
                ("cash_out_id".to_owned(), r.cash_out_id.to_string()),
                ("runner_id".to_owned(), r.runner_id.to_string()),
            ]);
            let request = CreateTransfer::new(currency, r.destination.clone())
                .amount(r.amount_cents)
                .description(format!("Kilat cash-out {}", r.cash_out_id))
                .metadata(metadata);
            let key = format!("cash-out-{}", r.cash_out_id);
            let transfer = self.send(&request, Some(&key)).await?;
            Ok(transfer.id.as_str().to_owned())
        })
    }
}
