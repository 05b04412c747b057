//! Presence: a runner stays online while it pings or holds a `/ws` socket
//! somewhere (a Redis key with a TTL, refreshed by whichever node sees it).
//! Every node sweeps: an `active` runner whose position is older than the
//! grace and whose presence key has expired is set offline (a conditional
//! UPDATE, so several nodes sweeping at once agree), and every node's
//! actors are told. A runner on a live trip (accepted or in progress) is
//! never swept: a reload of the app that loses its socket must not freeze
//! the owner's map.

use std::time::Duration;

use actix::prelude::*;
use uuid::Uuid;

use super::bus::Bus;
use super::messages::Publish;
use crate::db::PgPool;
use crate::db::redis::RedisHandle;
use crate::db::runners;
use crate::domain::bus::{BusPayload, user_channel};

pub struct PresenceSweeper {
    pool: PgPool,
    redis: RedisHandle,
    bus: Addr<Bus>,
    prefix: String,
    grace: Duration,
    busy: bool,
}

impl PresenceSweeper {
    pub fn new(pool: PgPool, redis: RedisHandle, bus: Addr<Bus>, prefix: String, grace: Duration) -> Self {
        Self { pool, redis, bus, prefix, grace, busy: false }
    }

    fn sweep(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let (pool, redis, grace) = (self.pool.clone(), self.redis.clone(), self.grace);
        let work = async move {
            let grace_secs = grace.as_secs_f64();
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            let stale = runners::silent_on_shift(&mut conn, grace_secs).await.map_err(|e| e.to_string())?;
            if stale.is_empty() {
                return Ok(Vec::new());
            }
            let present = redis.present(&stale).await.map_err(|e| e.to_string())?;
            let gone: Vec<Uuid> = stale.iter().zip(present).filter(|(_, here)| !here).map(|(id, _)| *id).collect();
            if gone.is_empty() {
                return Ok(Vec::new());
            }
            runners::set_silent_offline(&mut conn, &gone, grace_secs).await.map_err(|e| e.to_string())
        };
        ctx.spawn(work.into_actor(self).map(|result, act, _| {
            act.busy = false;
            match result {
                Ok(offline) => {
                    for runner in offline {
                        tracing::info!(runner_id = %runner, "runner went silent; set offline");
                        let payload = serde_json::to_string(&BusPayload::Refresh).unwrap_or_default();
                        act.bus.do_send(Publish { channel: user_channel(&act.prefix, runner), payload });
                    }
                }
                Err(err) => tracing::warn!(error = %err, "presence sweep failed"),
            }
        }));
    }
}

impl Actor for PresenceSweeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = (self.grace / 3).max(Duration::from_millis(250));
        ctx.run_interval(every, |act, ctx| act.sweep(ctx));
    }
}
