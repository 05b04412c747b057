//! The payment saga on every node: claims due steps (capture after a
//! confirm, void/refund after a cancel) and runs them, each at most once at
//! a time cluster-wide (a lease in `payment_jobs`), retried with backoff
//! and dead-lettered when it keeps failing. (Deliveries their owners never
//! confirm are confirmed by `services::bookings::auto_confirm_due`, on a
//! timer started in `app.rs`.)

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::escrow::{Escrow, StepRun};
use crate::actors::messages::Kick;
use crate::db::payments;
use crate::error::AppError;

/// Steps claimed per round.
const BATCH: i64 = 16;

pub struct PaymentSaga {
    escrow: Arc<Escrow>,
    every: Duration,
    busy: bool,
    again: bool,
    metrics: crate::metrics::SagaMetrics,
}

impl PaymentSaga {
    pub fn new(escrow: Arc<Escrow>, metrics: crate::metrics::SagaMetrics) -> Self {
        let every = Duration::from_millis(escrow.settings.saga_interval_ms.max(10));
        Self { escrow, every, busy: false, again: false, metrics }
    }

    fn round(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            self.again = true;
            return;
        }
        self.busy = true;
        let escrow = self.escrow.clone();
        let metrics = self.metrics.clone();
        let work = async move {
            let mut conn = escrow.pool.get().await?;
            let mut ran = 0;
            let jobs = payments::claim_due(&mut conn, escrow.settings.saga_lease_secs as f64, BATCH).await?;
            drop(conn);
            // steps of different payments are independent: run them together
            let runs = jobs.iter().map(|job| escrow.run_step(job));
            for (job, result) in jobs.iter().zip(futures_util::future::join_all(runs).await) {
                ran += 1;
                let outcome = match result {
                    Ok(StepRun::Done(p)) => {
                        tracing::info!(payment_id = %p.id, step = %job.step, status = %p.escrow_status, "saga step done");
                        "done"
                    }
                    Ok(StepRun::Failed { dead: false, .. }) => "retried",
                    Ok(StepRun::Failed { dead: true, .. }) => "dead_lettered",
                    Err(err) => {
                        tracing::warn!(payment_id = %job.payment_id, error = %err, "saga step errored");
                        "error"
                    }
                };
                metrics.steps.with_label_values(&[job.step.as_str(), outcome]).inc();
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

/// A step may have become due (a booking was confirmed or cancelled).
impl Handler<Kick> for PaymentSaga {
    type Result = ();

    fn handle(&mut self, _: Kick, ctx: &mut Self::Context) {
        self.round(ctx);
    }
}
