//! `RunnerActor`: one per runner sending positions through this node. Holds
//! the runner's live state (online, current trip, last position), checks
//! each ping, fans it out to the trip's watchers on every node through the
//! bus, and hands it to the location writer. State is loaded from Postgres
//! on start and reloaded whenever the runner's user channel says something
//! changed (accept, delivery, cancel, online/offline), on whichever node.

use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use super::bus::Bus;
use super::location_writer::LocationWriter;
use super::messages::{
    ApplyPing, BusMessage, Ping, PingRefused, PingRejected, Publish, RecordPosition, Reload, RunnerIdle, StopActor,
    StreamPing, Subscribe, Touch, Unsubscribe,
};
use crate::db::{PgPool, runners, tracking, users};
use crate::domain::bus::{LOCATION_TAG, booking_channel};
use crate::domain::frames;

/// Faster than any van on a Malaysian road; beyond it a ping is a GPS glitch.
pub const MAX_SPEED_KMH: f64 = 250.0;

#[derive(Debug, Clone, Copy, Default)]
struct LiveState {
    has_profile: bool,
    online: bool,
    banned: bool,
    /// (booking, track) while on a trip.
    trip: Option<(Uuid, Uuid)>,
}

/// Fixes closer than this are not speed-checked: a phone switching between
/// cell and GPS positioning can move its fix by kilometres in a second.
/// Past it, the jump must be reachable at [`MAX_SPEED_KMH`] (a 1,000 km
/// teleport in 50 ms is refused).
const JUMP_TOLERANCE_KM: f64 = 10.0;

pub struct RunnerActor {
    runner_id: Uuid,
    prefix: String,
    user_channel: String,
    subscriber_id: u64,
    pool: PgPool,
    bus: Addr<Bus>,
    writer: Addr<LocationWriter>,
    /// Told when this actor goes idle (the registry forgets it).
    idle: Recipient<RunnerIdle>,
    state: Option<LiveState>,
    last_seen: Instant,
    idle_after: Duration,
    presence_ttl: Duration,
    last_touch: Option<Instant>,
    /// The last accepted fix: (where, when recorded), for the speed check.
    last_fix: Option<(crate::domain::geo::Coordinates, chrono::DateTime<Utc>)>,
}

pub struct RunnerDeps {
    pub prefix: String,
    pub pool: PgPool,
    pub bus: Addr<Bus>,
    pub writer: Addr<LocationWriter>,
    pub idle: Recipient<RunnerIdle>,
    pub idle_after: Duration,
    pub presence_ttl: Duration,
}

impl RunnerActor {
    pub fn new(runner_id: Uuid, subscriber_id: u64, deps: RunnerDeps) -> Self {
        Self {
            runner_id,
            user_channel: crate::domain::bus::user_channel(&deps.prefix, runner_id),
            prefix: deps.prefix,
            subscriber_id,
            pool: deps.pool,
            bus: deps.bus,
            writer: deps.writer,
            idle: deps.idle,
            state: None,
            last_seen: Instant::now(),
            idle_after: deps.idle_after,
            presence_ttl: deps.presence_ttl,
            last_touch: None,
            last_fix: None,
        }
    }

    /// Keeps the runner present cluster-wide (at most one write a second).
    fn touch_presence(&mut self) {
        if self.last_touch.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return;
        }
        self.last_touch = Some(Instant::now());
        self.bus.do_send(Touch {
            key: crate::db::redis::presence_key(&self.prefix, self.runner_id),
            ttl_ms: self.presence_ttl.as_millis() as u64,
        });
    }

    /// Reloads the live state; later messages wait for it (`ctx.wait`).
    fn reload(&mut self, ctx: &mut Context<Self>) {
        let pool = self.pool.clone();
        let runner_id = self.runner_id;
        let load = async move {
            let mut conn = pool.get().await.ok()?;
            let profile = runners::find_by_user(&mut conn, runner_id).await.ok()?;
            let trip = tracking::active_trip(&mut conn, runner_id).await.ok()?;
            let banned = users::auth_state(&mut conn, runner_id, None).await.ok()?.is_none_or(|s| s.is_banned);
            Some(LiveState {
                has_profile: profile.is_some(),
                online: profile.is_some_and(|p| p.is_online()),
                banned,
                trip,
            })
        };
        ctx.wait(load.into_actor(self).map(|loaded, act, _| {
            if loaded.is_none() {
                tracing::warn!(runner_id = %act.runner_id, "runner state could not be loaded");
            }
            act.state = loaded;
        }));
    }
}

impl Actor for RunnerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let subscribe = Subscribe {
            channel: self.user_channel.clone(),
            subscriber_id: self.subscriber_id,
            recipient: ctx.address().recipient(),
        };
        ctx.wait(self.bus.send(subscribe).into_actor(self).map(|_, _, _| ()));
        self.reload(ctx);
        let check_every = (self.idle_after / 4).max(Duration::from_millis(50));
        ctx.run_interval(check_every, |act, _| {
            if act.last_seen.elapsed() >= act.idle_after {
                act.idle.do_send(RunnerIdle { runner_id: act.runner_id });
            }
        });
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        self.bus.do_send(Unsubscribe { channel: self.user_channel.clone(), subscriber_id: self.subscriber_id });
        Running::Stop
    }
}

impl Handler<BusMessage> for RunnerActor {
    type Result = ();

    /// Anything on the runner's own channel may change the trip or presence.
    fn handle(&mut self, _: BusMessage, ctx: &mut Self::Context) {
        self.reload(ctx);
    }
}

impl Handler<ApplyPing> for RunnerActor {
    type Result = Result<(), PingRejected>;

    fn handle(&mut self, ApplyPing(ping): ApplyPing, ctx: &mut Self::Context) -> Self::Result {
        self.apply(ping, ctx)
    }
}

impl Handler<StreamPing> for RunnerActor {
    type Result = ();

    fn handle(&mut self, StreamPing { ping, reply }: StreamPing, ctx: &mut Self::Context) {
        if let Err(rejected) = self.apply(ping, ctx) {
            reply.do_send(PingRefused(rejected));
        }
    }
}

impl RunnerActor {
    /// Checks a ping against the runner's live state, then fans it out to
    /// the trip's watchers, refreshes presence and records the position.
    fn apply(&mut self, ping: Ping, ctx: &mut Context<Self>) -> Result<(), PingRejected> {
        self.last_seen = Instant::now();
        let Some(state) = self.state else {
            // The last load failed (database down): try again for the next ping.
            self.reload(ctx);
            return Err(PingRejected::Unavailable);
        };
        if state.banned {
            return Err(PingRejected::Banned);
        }
        if !state.has_profile {
            return Err(PingRejected::NoProfile);
        }
        if !state.online {
            if state.trip.is_none() {
                return Err(PingRejected::NotOnline);
            }
            // On a live trip the runner is online whatever a reload of the
            // app lost: the position is taken and presence restored.
            self.restore_online(ping.at, ctx);
        }
        if ping.speed_kmh > MAX_SPEED_KMH {
            return Err(PingRejected::Invalid(format!("speed_kmh must be at most {MAX_SPEED_KMH}")));
        }
        let now = Utc::now();
        if ping.recorded_at > now + chrono::Duration::seconds(60)
            || ping.recorded_at < now - chrono::Duration::minutes(10)
        {
            return Err(PingRejected::Invalid("timestamp must be within the last 10 minutes".into()));
        }
        if let Some(implied) = self.implied_speed_kmh(&ping) {
            return Err(PingRejected::Invalid(format!(
                "position implies {implied:.0} km/h since the last one (at most {MAX_SPEED_KMH})"
            )));
        }
        self.last_fix = Some((ping.at, ping.recorded_at));
        if let Some((booking_id, _)) = state.trip {
            let fix = frames::Fix {
                booking_id,
                runner_id: self.runner_id,
                latitude: ping.at.latitude,
                longitude: ping.at.longitude,
                speed_kmh: ping.speed_kmh,
                heading_degrees: ping.heading_degrees,
                at: ping.recorded_at,
            };
            let payload = frames::location_text(&fix, LOCATION_TAG.encode_utf8(&mut [0; 4]));
            self.bus.do_send(Publish { channel: booking_channel(&self.prefix, booking_id), payload });
        }
        self.touch_presence();
        self.writer.do_send(RecordPosition {
            runner_id: self.runner_id,
            at: ping.at,
            recorded_at: ping.recorded_at,
            track_id: state.trip.map(|(_, track)| track),
            speed_kmh: ping.speed_kmh,
            heading_degrees: ping.heading_degrees,
        });
        Ok(())
    }
}

impl RunnerActor {
    /// The speed the previous fix and this one imply, when it is beyond
    /// any vehicle (`None`: plausible, or nothing to compare with).
    fn implied_speed_kmh(&self, ping: &Ping) -> Option<f64> {
        let (at, when) = self.last_fix?;
        let km = at.distance_km(&ping.at);
        if km <= JUMP_TOLERANCE_KM {
            return None;
        }
        // Out-of-order or same-instant fixes count as one second apart.
        let secs = (ping.recorded_at - when).num_milliseconds().max(1000) as f64 / 1000.0;
        let kmh = km / (secs / 3600.0);
        (kmh > MAX_SPEED_KMH).then_some(kmh)
    }

    /// Marks the runner online again (state and database) while on a trip.
    fn restore_online(&mut self, at: crate::domain::geo::Coordinates, ctx: &mut Context<Self>) {
        if let Some(state) = self.state.as_mut() {
            state.online = true;
        }
        let (pool, runner_id) = (self.pool.clone(), self.runner_id);
        let restore = async move {
            let mut conn = pool.get().await?;
            runners::set_online(&mut conn, runner_id, at).await
        };
        ctx.spawn(restore.into_actor(self).map(|done, act, _| match done {
            Ok(_) => tracing::info!(runner_id = %act.runner_id, "runner on a trip pinged while offline; back online"),
            Err(err) => tracing::warn!(runner_id = %act.runner_id, error = %err, "could not restore presence"),
        }));
    }
}

impl Handler<Reload> for RunnerActor {
    type Result = ();

    fn handle(&mut self, _: Reload, ctx: &mut Self::Context) {
        self.reload(ctx);
    }
}

impl Handler<StopActor> for RunnerActor {
    type Result = ();

    fn handle(&mut self, _: StopActor, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
