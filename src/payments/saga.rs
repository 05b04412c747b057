//! The payment saga on every node: claims due steps (capture after a
//! confirm, void/refund after a cancel) and runs them, each at most once at
//! a time cluster-wide (a lease in `payment_jobs`), retried with backoff
//! and dead-lettered when it keeps failing. It also confirms deliveries
//! their owners never confirmed (`payments.auto_confirm_hours`).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::escrow::{Escrow, StepRun};
use crate::actors::messages::Kick;
use crate::db::payments;
use crate::error::AppError;
use crate::services::Services;

/// Steps claimed per round.
const BATCH: i64 = 16;
/// The auto-confirm sweep runs every this many rounds.
const AUTO_CONFIRM_EVERY: u32 = 10;

pub struct PaymentSaga {
    escrow: Arc<Escrow>,
    /// For the auto-confirm: the owner's confirm use case, run by the system.
    /// Set once the node's services exist (they include this actor).
    services: Option<Arc<Services>>,
    every: Duration,
    busy: bool,
    again: bool,
    rounds: u32,
}

impl PaymentSaga {
    pub fn new(escrow: Arc<Escrow>) -> Self {
        let every = Duration::from_millis(escrow.settings.saga_interval_ms.max(10));
        Self { escrow, services: None, every, busy: false, again: false, rounds: 0 }
    }

    fn round(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            self.again = true;
            return;
        }
        self.busy = true;
        self.rounds = self.rounds.wrapping_add(1);
        let sweep = self.rounds % AUTO_CONFIRM_EVERY == 1 && self.escrow.settings.auto_confirm_hours > 0.0;
        let services = self.services.clone().filter(|_| sweep);
        let escrow = self.escrow.clone();
        let work = async move {
            if let Some(services) = services {
                let n = crate::services::bookings::auto_confirm_due(&services, BATCH).await?;
                if n > 0 {
                    tracing::info!(confirmed = n, "auto-confirmed delivered bookings");
                }
            }
            let mut conn = escrow.pool.get().await?;
            let mut ran = 0;
            let jobs = payments::claim_due(&mut conn, escrow.settings.saga_lease_secs as f64, BATCH).await?;
            drop(conn);
            // steps of different payments are independent: run them together
            let runs = jobs.iter().map(|job| escrow.run_step(job));
            for (job, result) in jobs.iter().zip(futures_util::future::join_all(runs).await) {
                ran += 1;
                match result {
                    Ok(StepRun::Done(p)) => {
                        tracing::info!(payment_id = %p.id, step = %job.step, status = %p.escrow_status, "saga step done")
                    }
                    Ok(StepRun::Failed { .. }) => {}
                    Err(err) => tracing::warn!(payment_id = %job.payment_id, error = %err, "saga step errored"),
                }
            }
            Ok::<_, AppError>(ran as i64 == BATCH)
        };
        ctx.spawn(work.into_actor(self).map(|result, act, ctx| {
            act.busy = false;
            let more = match result {
                Ok(more) => more,
                Err(err) => {
                    tracing::warn!(error = %err, "payment saga round failed; retrying on the next tick");
                    false
                }
            };
            if std::mem::take(&mut act.again) || more {
                act.round(ctx);
            }
        }));
    }
}

impl Actor for PaymentSaga {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.every, |act, ctx| act.round(ctx));
    }
}

/// The node's services are built (they hold this actor's address).
#[derive(Message)]
#[rtype(result = "()")]
pub struct UseServices(pub Arc<Services>);

impl Handler<UseServices> for PaymentSaga {
    type Result = ();

    fn handle(&mut self, UseServices(services): UseServices, _: &mut Self::Context) {
        self.services = Some(services);
    }
}

/// A step may have become due (a booking was confirmed or cancelled).
impl Handler<Kick> for PaymentSaga {
    type Result = ();

    fn handle(&mut self, _: Kick, ctx: &mut Self::Context) {
        self.round(ctx);
    }
}
