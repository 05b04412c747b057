//! The outbox relay: publishes committed events to Redis, at least once and
//! in commit order (one relay holds the cluster-wide advisory lock at a
//! time; a crashed node's lock dies with its transaction). A booking event
//! goes to the booking's channel and to the owner's and runner's user
//! channels; a user event (a notification) to that user's channel.

use std::time::Duration;

use actix::prelude::*;

use super::messages::Kick;
use crate::db::PgPool;
use crate::db::outbox;
use crate::db::redis::{Connection, RedisSink};
use crate::error::AppError;

const BATCH: i64 = 500;

pub struct Relay {
    pool: PgPool,
    sink: RedisSink,
    every: Duration,
    busy: bool,
    again: bool,
}

impl Relay {
    pub fn new(pool: PgPool, conn: Connection, prefix: String, every: Duration) -> Self {
        Self { pool, sink: RedisSink::new(conn, prefix), every, busy: false, again: false }
    }

    fn run(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            self.again = true;
            return;
        }
        self.busy = true;
        let (pool, sink) = (self.pool.clone(), self.sink.clone());
        let drain = async move {
            let mut conn = pool.get().await?;
            let mut total = 0;
            loop {
                let n = outbox::relay_batch(&mut conn, BATCH, &sink).await?;
                total += n;
                if (n as i64) < BATCH {
                    return Ok::<_, AppError>(total);
                }
            }
        };
        ctx.spawn(drain.into_actor(self).map(|result, act, ctx| {
            act.busy = false;
            if let Err(err) = result {
                tracing::warn!(error = %err, "outbox relay failed; retrying on the next tick");
            }
            if std::mem::take(&mut act.again) {
                act.run(ctx);
            }
        }));
    }
}

impl Actor for Relay {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.every, |act, ctx| act.run(ctx));
    }
}

impl Handler<Kick> for Relay {
    type Result = ();

    fn handle(&mut self, _: Kick, ctx: &mut Self::Context) {
        self.run(ctx);
    }
}
