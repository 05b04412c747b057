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
use diesel::sql_types::{Array, Double, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::bus::Bus;
use super::messages::Publish;
use super::payload::{BusPayload, user_channel};
use crate::db::PgPool;
use crate::db::redis::RedisHandle;
use crate::db::redis::presence_key;

pub struct PresenceSweeper {
    pool: PgPool,
    redis: RedisHandle,
    bus: Addr<Bus>,
    prefix: String,
    grace: Duration,
    busy: bool,
}

#[derive(diesel::QueryableByName)]
struct RunnerRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
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
        let (pool, redis, prefix, grace) = (self.pool.clone(), self.redis.clone(), self.prefix.clone(), self.grace);
        let work = async move {
            let grace_secs = grace.as_secs_f64();
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            let stale: Vec<RunnerRow> = diesel::sql_query(
                "SELECT user_id FROM runners WHERE session_status = 'active' \
                 AND (location_updated_at IS NULL OR location_updated_at < now() - make_interval(secs => $1)) \
                 AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.runner_id = runners.user_id \
                                 AND b.status IN ('accepted', 'in_progress')) \
                 LIMIT 5000",
            )
            .bind::<Double, _>(grace_secs)
            .load(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
            if stale.is_empty() {
                return Ok(Vec::new());
            }
            let mut pipe = ::redis::pipe();
            for row in &stale {
                pipe.exists(presence_key(&prefix, row.user_id));
            }
            let mut rconn = redis.connection();
            let present: Vec<bool> = pipe.query_async(&mut rconn).await.map_err(|e| e.to_string())?;
            let gone: Vec<Uuid> =
                stale.iter().zip(present).filter(|(_, here)| !here).map(|(row, _)| row.user_id).collect();
            if gone.is_empty() {
                return Ok(Vec::new());
            }
            let offline: Vec<RunnerRow> = diesel::sql_query(
                "UPDATE runners SET session_status = 'inactive', latitude = NULL, longitude = NULL, \
                     location_updated_at = NULL, updated_at = now() \
                 WHERE user_id = ANY($1) AND session_status = 'active' \
                   AND (location_updated_at IS NULL OR location_updated_at < now() - make_interval(secs => $2)) \
                   AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.runner_id = runners.user_id \
                                   AND b.status IN ('accepted', 'in_progress')) \
                 RETURNING user_id",
            )
            .bind::<Array<SqlUuid>, _>(gone)
            .bind::<Double, _>(grace_secs)
            .load(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
            Ok::<_, String>(offline.into_iter().map(|r| r.user_id).collect())
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
