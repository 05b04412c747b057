//! The outbox relay: publishes committed events to Redis, at least once and
//! in commit order (one relay holds the cluster-wide advisory lock at a
//! time; a crashed node's lock dies with its transaction). A booking event
//! goes to the booking's channel and to the owner's and runner's user
//! channels; a user event (a notification) to that user's channel.

use std::time::Duration;

use ::redis::aio::ConnectionManager;
use actix::prelude::*;

use super::messages::Kick;
use super::payload::{BusPayload, booking_channel, user_channel};
use crate::db::PgPool;
use crate::db::outbox::{self, EventSink, OutboxEvent};
use crate::error::AppError;

const BATCH: i64 = 500;

pub struct Relay {
    pool: PgPool,
    sink: RedisSink,
    every: Duration,
    busy: bool,
    again: bool,
}

#[derive(Clone)]
struct RedisSink {
    conn: ConnectionManager,
    prefix: String,
}

impl EventSink for RedisSink {
    async fn publish(&self, batch: &[OutboxEvent]) -> Result<(), AppError> {
        let mut pipe = ::redis::pipe();
        for event in batch {
            let payload = serde_json::to_string(&BusPayload::Event { seq: event.seq, event: event.payload.clone() })
                .map_err(AppError::internal)?;
            if event.aggregate_type == "user" {
                pipe.publish(user_channel(&self.prefix, event.aggregate_id), &payload).ignore();
                continue;
            }
            pipe.publish(booking_channel(&self.prefix, event.aggregate_id), &payload).ignore();
            let data = &event.payload["data"];
            for key in ["owner_id", "runner_id"] {
                if let Some(user) = data[key].as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()) {
                    pipe.publish(user_channel(&self.prefix, user), &payload).ignore();
                }
            }
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }
}

impl Relay {
    pub fn new(pool: PgPool, conn: ConnectionManager, prefix: String, every: Duration) -> Self {
        Self { pool, sink: RedisSink { conn, prefix }, every, busy: false, again: false }
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
