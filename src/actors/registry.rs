//! The per-node registry: creates and stops `BookingActor`s and
//! `RunnerActor`s, and knows which socket watches which booking, so a
//! socket that goes away (on any exit path) is removed everywhere.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::prelude::*;
use uuid::Uuid;

use super::booking::BookingActor;
use super::bus::Bus;
use super::location_writer::LocationWriter;
use super::messages::{
    AddWatcher, ApplyPing, Backlog, GetBacklog, GetBookingBacklog, GetRegistryStats, PingRejected, RefreshRunner,
    RegistryStats, Reload, RemoveWatcher, RunnerAddr, RunnerIdle, RunnerPing, SessionClosed, StopActor, Unwatch, Watch,
};
use super::runner::{RunnerActor, RunnerDeps};
use crate::db::PgPool;
use crate::domain::bus::booking_channel;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Process-wide unique ids for sockets and bus subscribers.
pub fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

pub struct Registry {
    prefix: String,
    pool: PgPool,
    bus: Addr<Bus>,
    writer: Addr<LocationWriter>,
    runner_idle: Duration,
    presence_ttl: Duration,
    bookings: HashMap<Uuid, (Addr<BookingActor>, HashSet<u64>)>,
    sessions: HashMap<u64, HashSet<Uuid>>,
    runners: HashMap<Uuid, Addr<RunnerActor>>,
    /// Runner and booking actors live on these arbiters (one thread per
    /// core), picked by id, so pings and frames are not all handled by the
    /// thread that runs the registry and the bus.
    shards: Vec<ArbiterHandle>,
}

impl Registry {
    pub fn new(
        prefix: String,
        pool: PgPool,
        bus: Addr<Bus>,
        writer: Addr<LocationWriter>,
        runner_idle: Duration,
        presence_ttl: Duration,
        shards: usize,
    ) -> Self {
        Self {
            prefix,
            pool,
            bus,
            writer,
            runner_idle,
            presence_ttl,
            bookings: HashMap::new(),
            sessions: HashMap::new(),
            runners: HashMap::new(),
            shards: (0..shards).map(|_| Arbiter::new().handle()).collect(),
        }
    }

    /// The arbiter for an actor: a shard by id, or this one (no shards).
    fn shard(&self, id: Uuid) -> ArbiterHandle {
        match self.shards.len() {
            0 => Arbiter::current(),
            n => self.shards[(id.as_u128() % n as u128) as usize].clone(),
        }
    }

    fn unwatch(&mut self, booking_id: Uuid, session_id: u64) {
        if let Some(set) = self.sessions.get_mut(&session_id) {
            set.remove(&booking_id);
            if set.is_empty() {
                self.sessions.remove(&session_id);
            }
        }
        let Some((addr, watchers)) = self.bookings.get_mut(&booking_id) else {
            return;
        };
        watchers.remove(&session_id);
        addr.do_send(RemoveWatcher { session_id });
        if watchers.is_empty() {
            addr.do_send(StopActor);
            self.bookings.remove(&booking_id);
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(100_000);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        for shard in &self.shards {
            shard.stop();
        }
    }
}

impl Handler<Watch> for Registry {
    type Result = ResponseFuture<()>;

    /// Resolves when the booking's actor has the watcher, i.e. after its
    /// Redis subscription is live.
    fn handle(&mut self, msg: Watch, _: &mut Self::Context) -> Self::Result {
        let (prefix, bus, pool) = (&self.prefix, &self.bus, &self.pool);
        let shard = self.shard(msg.booking_id);
        let (addr, watchers) = self.bookings.entry(msg.booking_id).or_insert_with(|| {
            let channel = booking_channel(prefix, msg.booking_id);
            let actor = BookingActor::new(msg.booking_id, channel, next_id(), bus.clone(), pool.clone());
            (BookingActor::start_in_arbiter(&shard, move |_| actor), HashSet::new())
        });
        watchers.insert(msg.session_id);
        self.sessions.entry(msg.session_id).or_default().insert(msg.booking_id);
        let added = addr.send(AddWatcher { session_id: msg.session_id, recipient: msg.recipient });
        Box::pin(async move {
            let _ = added.await;
        })
    }
}

impl Handler<Unwatch> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, _: &mut Self::Context) {
        self.unwatch(msg.booking_id, msg.session_id);
    }
}

impl Handler<SessionClosed> for Registry {
    type Result = ();

    fn handle(&mut self, msg: SessionClosed, _: &mut Self::Context) {
        let watched: Vec<Uuid> =
            self.sessions.get(&msg.session_id).map(|s| s.iter().copied().collect()).unwrap_or_default();
        for booking_id in watched {
            self.unwatch(booking_id, msg.session_id);
        }
    }
}

impl Registry {
    /// The runner's live actor, started when there is none.
    fn runner(&mut self, runner_id: Uuid, ctx: &mut Context<Self>) -> Addr<RunnerActor> {
        match self.runners.get(&runner_id) {
            Some(addr) if addr.connected() => addr.clone(),
            _ => {
                let deps = RunnerDeps {
                    prefix: self.prefix.clone(),
                    pool: self.pool.clone(),
                    bus: self.bus.clone(),
                    writer: self.writer.clone(),
                    idle: ctx.address().recipient(),
                    idle_after: self.runner_idle,
                    presence_ttl: self.presence_ttl,
                };
                let actor = RunnerActor::new(runner_id, next_id(), deps);
                let addr = RunnerActor::start_in_arbiter(&self.shard(runner_id), move |_| actor);
                self.runners.insert(runner_id, addr.clone());
                addr
            }
        }
    }
}

impl Handler<RunnerPing> for Registry {
    type Result = ResponseFuture<Result<(), PingRejected>>;

    fn handle(&mut self, msg: RunnerPing, ctx: &mut Self::Context) -> Self::Result {
        let applied = self.runner(msg.runner_id, ctx).send(ApplyPing(msg.ping));
        Box::pin(async move { applied.await.unwrap_or(Err(PingRejected::Unavailable)) })
    }
}

impl Handler<RunnerAddr> for Registry {
    type Result = MessageResult<RunnerAddr>;

    fn handle(&mut self, msg: RunnerAddr, ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.runner(msg.runner_id, ctx).recipient())
    }
}

impl Handler<RefreshRunner> for Registry {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: RefreshRunner, _: &mut Self::Context) -> Self::Result {
        let addr = self.runners.get(&msg.runner_id).cloned();
        Box::pin(async move {
            if let Some(addr) = addr {
                let _ = addr.send(Reload).await;
            }
        })
    }
}

impl Handler<RunnerIdle> for Registry {
    type Result = ();

    fn handle(&mut self, msg: RunnerIdle, _: &mut Self::Context) {
        if let Some(addr) = self.runners.remove(&msg.runner_id) {
            addr.do_send(StopActor);
        }
    }
}

impl Handler<GetBookingBacklog> for Registry {
    type Result = ResponseFuture<Option<Backlog>>;

    fn handle(&mut self, msg: GetBookingBacklog, _: &mut Self::Context) -> Self::Result {
        let addr = self.bookings.get(&msg.booking_id).map(|(addr, _)| addr.clone());
        Box::pin(async move {
            match addr {
                Some(addr) => addr.send(GetBacklog).await.ok(),
                None => None,
            }
        })
    }
}

impl Handler<GetRegistryStats> for Registry {
    type Result = RegistryStats;

    fn handle(&mut self, _: GetRegistryStats, _: &mut Self::Context) -> RegistryStats {
        RegistryStats {
            booking_actors: self.bookings.len(),
            runner_actors: self.runners.len(),
            watchers: self.bookings.values().map(|(_, w)| w.len()).sum(),
        }
    }
}
