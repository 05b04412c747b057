//! `GET /ws`: the persistent app session (docs/PROTOCOL.md). Runners stream
//! `location`; anyone subscribes to the bookings they take part in and gets
//! `booking.status` (with per-booking `seq`) and `location_update`; a
//! reconnect with `last_seq` replays what was missed. Every bad frame gets
//! an `error` frame and the socket stays open, unless it is abuse (oversized
//! frames, floods), which closes it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws;
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use std::sync::Arc;

use crate::actors::bus::Bus;
use crate::actors::messages::{
    BusMessage, FrameKind, Outbound, Ping, PingRefused, PingRejected, Publish, RunnerAddr, SessionClosed,
    SocketPresence, StreamPing, Subscribe, Touch, Unsubscribe, Unwatch, Watch,
};
use crate::actors::registry::Registry;
use crate::db::redis::RedisHandle;
use crate::domain::booking::Actor as BookingActorId;
use crate::domain::bus::BusPayload;
use crate::domain::bus::dispatch_channel;
use crate::domain::frames::{self, ClientFrame, ServerFrame};
use crate::domain::geo::Coordinates;
use crate::domain::identity::Role;
use crate::domain::time;
use crate::error::AppError;
use crate::http::ws::SocketSlot;
use crate::http::ws::delivered::Delivered;
use crate::http::ws::inbound::{Assembler, Inbound};
use crate::http::ws::standing::{self, Heard, Standing};
use crate::services::Services;
use crate::services::bookings::OfferRef;
use crate::services::ops::OpsFeed;
use crate::services::realtime;

/// Events a reconnecting client may catch up on in one go; further back it
/// reloads over REST (`recovered: false`).
pub const MAX_REPLAY: usize = 1000;

pub struct SessionLimits {
    pub heartbeat: Duration,
    pub client_timeout: Duration,
    pub max_frames_per_sec: u32,
    /// Largest message, whole or reassembled from fragments.
    pub max_frame_bytes: usize,
}

/// What a session is built with.
pub struct SessionDeps {
    pub registry: Addr<Registry>,
    pub limits: SessionLimits,
    pub presence: Option<Presence>,
    /// (bus, the user's channel name)
    pub user_channel: (Addr<Bus>, String),
    /// `offer.accept` is the REST accept's use case.
    pub services: Arc<Services>,
    /// Where offers are held (an `offer_id` is checked there).
    pub redis: RedisHandle,
    pub prefix: String,
    pub standing: Standing,
    pub phase: tokio::sync::watch::Receiver<crate::http::NodePhase>,
    pub slot: SocketSlot,
}

/// A runner's socket keeps the runner present (presence key with a TTL)
/// and says that a socket is open (a member of the runner's socket set,
/// which the dispatcher requires before offering a job).
pub struct Presence {
    pub bus: Addr<Bus>,
    pub key: String,
    pub ttl: Duration,
    pub sockets_key: String,
    /// This socket's member in the set (unique across nodes).
    pub member: String,
    /// How long a member lives without a refresh (a node that dies leaves
    /// its sockets' members behind at most this long).
    pub hold: Duration,
}

/// Pings a socket holds while its runner actor's address is looked up
/// (the lookup is one local message, so this bound is rarely reached).
const MAX_QUEUED_PINGS: usize = 256;

enum RunnerLink {
    Unknown,
    Resolving(Vec<Ping>),
    Known(Recipient<StreamPing>),
}

pub struct AppSession {
    pub id: u64,
    pub user_id: Uuid,
    pub role: Role,
    pub registry: Addr<Registry>,
    pub limits: SessionLimits,
    /// This runner's actor: pings go to it directly once it is known.
    runner: RunnerLink,
    presence: Option<Presence>,
    /// The user's own channel: notifications, chat, status of their bookings.
    user_channel: (Addr<Bus>, String),
    services: Arc<Services>,
    redis: RedisHandle,
    prefix: String,
    standing: Standing,
    phase: tokio::sync::watch::Receiver<crate::http::NodePhase>,
    last_heard: Instant,
    /// Whole messages from frames: reassembly, flood limit, close codes.
    inbound: Assembler,
    /// This socket's place under the per-user cap (freed when dropped).
    _slot: SocketSlot,
    watching: HashSet<Uuid>,
    /// Live frames that arrive while a subscription's replay is in flight.
    replaying: HashMap<Uuid, Vec<Outbound>>,
    /// Per booking, the status `seq`s this socket has (each sent once,
    /// whichever path brings it first, in whatever order).
    delivered: HashMap<Uuid, Delivered>,
    /// An admin's ops view, while subscribed.
    ops: Option<OpsState>,
}

/// How often an ops view looks for changes.
const OPS_EVERY: Duration = Duration::from_secs(1);

struct OpsState {
    /// `None` while a look is running.
    feed: Option<OpsFeed>,
    timer: SpawnHandle,
}

/// A booking id as a frame carries it.
fn parse_uuid(raw: Option<&str>) -> Option<Uuid> {
    raw.and_then(|b| Uuid::parse_str(b.trim()).ok())
}

impl AppSession {
    pub fn new(id: u64, user_id: Uuid, role: Role, deps: SessionDeps) -> Self {
        let now = Instant::now();
        let inbound = Assembler::new(deps.limits.max_frame_bytes, deps.limits.max_frames_per_sec);
        Self {
            id,
            user_id,
            role,
            registry: deps.registry,
            limits: deps.limits,
            runner: RunnerLink::Unknown,
            presence: deps.presence,
            user_channel: deps.user_channel,
            services: deps.services,
            redis: deps.redis,
            prefix: deps.prefix,
            standing: deps.standing,
            phase: deps.phase,
            last_heard: now,
            inbound,
            _slot: deps.slot,
            watching: HashSet::new(),
            replaying: HashMap::new(),
            delivered: HashMap::new(),
            ops: None,
        }
    }

    /// Reads the user's standing again; closes the socket when it is gone.
    fn recheck(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        standing::recheck(&self.standing, self, ctx);
    }

    fn touch_presence(&self) {
        if let Some(p) = &self.presence {
            p.bus.do_send(Touch { key: p.key.clone(), ttl_ms: p.ttl.as_millis() as u64 });
            let until_ms = Some(crate::actors::bus::now_ms() + p.hold.as_millis() as u64);
            p.bus.do_send(SocketPresence { key: p.sockets_key.clone(), member: p.member.clone(), until_ms });
        }
    }

    fn send(ctx: &mut ws::WebsocketContext<Self>, frame: &Value) {
        ctx.text(frame.to_string());
    }

    fn say(ctx: &mut ws::WebsocketContext<Self>, frame: ServerFrame<'_>) {
        ctx.text(frame.text());
    }

    fn error(ctx: &mut ws::WebsocketContext<Self>, code: &str, message: &str) {
        Self::say(ctx, ServerFrame::Error { code, message, booking_id: None });
    }

    /// Delivers a live frame once: a status frame this socket already has
    /// (live from the other path, or from a replay) is skipped; one that
    /// arrives late, below a newer one, is still sent (apps order by seq).
    fn deliver(&mut self, frame: Outbound, ctx: &mut ws::WebsocketContext<Self>) {
        if let Some(seq) = frame.seq {
            if !self.delivered.entry(frame.booking_id).or_default().first_time(seq) {
                return;
            }
        }
        ctx.text(&*frame.text);
    }

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let frame = match ClientFrame::parse(text) {
            Ok(frame) => frame,
            Err(err) => return Self::error(ctx, err.code, &err.message),
        };
        match frame {
            ClientFrame::Ping => Self::say(ctx, ServerFrame::Pong),
            ClientFrame::Location { latitude, longitude, speed_kmh, heading_degrees, timestamp } => {
                self.on_location((latitude, longitude), (speed_kmh, heading_degrees), timestamp.as_deref(), ctx)
            }
            ClientFrame::Subscribe { booking_id, last_seq } => self.on_subscribe(booking_id.as_deref(), last_seq, ctx),
            ClientFrame::Unsubscribe { booking_id } => self.on_unsubscribe(booking_id.as_deref(), ctx),
            ClientFrame::OfferAccept { offer_id, booking_id } => {
                self.on_offer(offer_id.as_deref(), booking_id.as_deref(), true, ctx)
            }
            ClientFrame::OfferDecline { offer_id, booking_id } => {
                self.on_offer(offer_id.as_deref(), booking_id.as_deref(), false, ctx)
            }
            ClientFrame::OpsSubscribe => self.on_ops_subscribe(ctx),
            ClientFrame::OpsUnsubscribe => {
                if let Some(ops) = self.ops.take() {
                    ctx.cancel_future(ops.timer);
                }
                ctx.text(r#"{"type":"ops.unsubscribed"}"#);
            }
        }
    }

    /// An admin's live view: the snapshot now, then what changed once a
    /// second (a look still running when the next is due is not doubled).
    fn on_ops_subscribe(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        if self.role != Role::Admin {
            return Self::error(ctx, "forbidden", "the ops view is for admins");
        }
        if self.ops.is_some() {
            return;
        }
        let timer = ctx.run_interval(OPS_EVERY, |act, ctx| act.ops_tick(ctx));
        self.ops = Some(OpsState { feed: Some(OpsFeed::default()), timer });
        self.ops_tick(ctx);
    }

    fn ops_tick(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(mut feed) = self.ops.as_mut().and_then(|o| o.feed.take()) else {
            return;
        };
        let (services, redis) = (self.services.clone(), self.redis.clone());
        let look = async move {
            let frame = feed.next(&services, &redis).await;
            (feed, frame)
        };
        ctx.spawn(look.into_actor(self).map(|(feed, frame), act, ctx| {
            let Some(ops) = act.ops.as_mut() else {
                return; // unsubscribed meanwhile
            };
            ops.feed = Some(feed);
            match frame {
                Ok(Some(frame)) => ctx.text(serde_json::to_string(&frame).unwrap_or_default()),
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "ops view look failed; trying again in a second"),
            }
        }));
    }

    fn on_location(
        &mut self,
        (latitude, longitude): (Option<f64>, Option<f64>),
        (speed_kmh, heading_degrees): (Option<f64>, Option<f64>),
        timestamp: Option<&str>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if self.role != Role::Runner {
            return Self::error(ctx, "forbidden", "only runners send locations");
        }
        let at = match Coordinates::parse(latitude, longitude) {
            Ok(at) => at,
            Err(err) => return Self::error(ctx, "invalid_location", &err.0),
        };
        let recorded_at = match timestamp {
            None => Utc::now(),
            Some(raw) => match time::parse(raw) {
                Some(t) => t,
                None => return Self::error(ctx, "invalid_location", "timestamp must be RFC 3339"),
            },
        };
        let (speed_kmh, heading_degrees) = frames::normalise_motion(speed_kmh, heading_degrees);
        let ping = Ping { at, speed_kmh, heading_degrees, recorded_at };
        self.stream_ping(ping, ctx);
    }

    /// Hands a ping to this runner's actor without waiting: in the socket's
    /// order, with refusals coming back as [`PingRefused`]. Until the
    /// actor's address is known, pings queue behind one registry lookup.
    fn stream_ping(&mut self, ping: Ping, ctx: &mut ws::WebsocketContext<Self>) {
        match &mut self.runner {
            RunnerLink::Known(addr) if addr.connected() => {
                addr.do_send(StreamPing { ping, reply: ctx.address().recipient() });
                return;
            }
            RunnerLink::Resolving(queued) => {
                if queued.len() >= MAX_QUEUED_PINGS {
                    queued.remove(0);
                }
                queued.push(ping);
                return;
            }
            RunnerLink::Known(_) | RunnerLink::Unknown => {}
        }
        self.runner = RunnerLink::Resolving(vec![ping]);
        let lookup = self.registry.send(RunnerAddr { runner_id: self.user_id });
        ctx.spawn(lookup.into_actor(self).map(|found, act, ctx| {
            let queued = match std::mem::replace(&mut act.runner, RunnerLink::Unknown) {
                RunnerLink::Resolving(queued) => queued,
                _ => Vec::new(),
            };
            let Ok(addr) = found else {
                return Self::error(ctx, "unavailable", &PingRejected::Unavailable.to_string());
            };
            for ping in queued {
                addr.do_send(StreamPing { ping, reply: ctx.address().recipient() });
            }
            act.runner = RunnerLink::Known(addr);
        }));
    }

    fn on_subscribe(&mut self, booking_id: Option<&str>, last_seq: Option<i64>, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(booking_id) = parse_uuid(booking_id) else {
            return Self::error(ctx, "invalid_booking_id", "booking_id must be a UUID");
        };
        if self.watching.contains(&booking_id) || self.replaying.contains_key(&booking_id) {
            return Self::error(ctx, "already_subscribed", "already subscribed to this booking");
        }
        let last_seq = last_seq.filter(|s| *s >= 0);
        let (services, registry) = (self.services.clone(), self.registry.clone());
        let actor = BookingActorId { id: self.user_id, role: self.role };
        let watch = Watch { booking_id, session_id: self.id, recipient: ctx.address().recipient() };
        self.replaying.insert(booking_id, Vec::new());
        let work = async move {
            // No pooled connection is held while the booking's actor starts
            // (it needs one): a reconnect storm must not starve the pool.
            realtime::may_watch(&services, actor, booking_id).await?;
            // Watch first, then read: an event committed after the read
            // (seq above `current`) reaches the socket live; one at or below
            // it comes from the replay (and its live copy is skipped by seq).
            registry.send(watch).await.map_err(|_| AppError::Unavailable("registry unavailable".into()))?;
            realtime::since(&services, booking_id, last_seq).await
        };
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            let mut buffered = act.replaying.remove(&booking_id).unwrap_or_default();
            let (current, missed) = match result {
                Ok(found) => found,
                Err(err) => {
                    // Not watching after all (the watch may have happened).
                    act.registry.do_send(Unwatch { booking_id, session_id: act.id });
                    let (code, message) = match &err {
                        AppError::NotFound { .. } => ("not_found", "booking not found".to_owned()),
                        AppError::Forbidden(_) => ("forbidden", "not your booking".to_owned()),
                        other => ("unavailable", format!("{other}; reload the booking and subscribe again")),
                    };
                    act.send_error_about(ctx, code, &message, booking_id);
                    // What arrived meanwhile is the user's own (their channel,
                    // or a booking they take part in): delivered, never dropped.
                    buffered.sort_by_key(|f| f.seq.unwrap_or(i64::MAX));
                    for frame in buffered {
                        act.deliver(frame, ctx);
                    }
                    return;
                }
            };
            act.watching.insert(booking_id);
            let recovered = match last_seq {
                None => true,
                Some(seen) if seen > current => false,
                Some(seen) => (current - seen) as usize <= MAX_REPLAY && missed.len() == (current - seen) as usize,
            };
            let delivered = act.delivered.entry(booking_id).or_default();
            if recovered {
                // A status pushed live on the user's channel just before this
                // subscribe is not sent twice (frames carry `seq`; apps order by it).
                for event in &missed {
                    if let Some(frame) = frames::status(&event.payload, event.seq) {
                        if delivered.first_time(event.seq) {
                            Self::send(ctx, &frame);
                        }
                    }
                }
            }
            delivered.cover_up_to(current);
            Self::say(ctx, ServerFrame::Subscribed { booking_id, seq: current, recovered });
            // Everything above `current` arrived live: in seq order, once.
            buffered.sort_by_key(|f| f.seq.unwrap_or(i64::MAX));
            for frame in buffered {
                act.deliver(frame, ctx);
            }
        }));
    }

    /// An `error` frame about one booking (so the app knows which one).
    fn send_error_about(&self, ctx: &mut ws::WebsocketContext<Self>, code: &str, message: &str, booking_id: Uuid) {
        Self::say(ctx, ServerFrame::Error { code, message, booking_id: Some(booking_id) });
    }

    /// Accepting is the REST accept's use case (the database decides
    /// between a pushed and a pulled accept; an `offer_id` must name the
    /// offer this runner holds now); declining tells the dispatcher.
    fn on_offer(
        &mut self,
        offer_id: Option<&str>,
        booking_id: Option<&str>,
        accept: bool,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if self.role != Role::Runner {
            return Self::error(ctx, "forbidden", "only runners answer offers");
        }
        let offer = match (offer_id, booking_id) {
            (Some(raw), _) => match parse_uuid(Some(raw)) {
                Some(id) => OfferRef::Offer(id),
                None => return Self::error(ctx, "invalid_offer_id", "offer_id must be a UUID"),
            },
            (None, raw) => match parse_uuid(raw) {
                Some(id) => OfferRef::Booking(id),
                None => return Self::error(ctx, "invalid_booking_id", "booking_id must be a UUID"),
            },
        };
        let (services, redis) = (self.services.clone(), self.redis.clone());
        let runner = BookingActorId { id: self.user_id, role: self.role };
        if !accept {
            let (bus, prefix) = (self.user_channel.0.clone(), self.prefix.clone());
            let work = async move {
                let booking_id = match offer {
                    OfferRef::Booking(id) => Some(id),
                    OfferRef::Offer(offer_id) => {
                        let held = redis.offer_held(runner.id).await.ok().flatten();
                        held.filter(|h| h.offer_id == offer_id).map(|h| h.booking_id)
                    }
                };
                if let Some(booking_id) = booking_id {
                    let answer = BusPayload::Answer { runner_id: runner.id, accept: false };
                    let payload = serde_json::to_string(&answer).unwrap_or_default();
                    bus.do_send(Publish { channel: dispatch_channel(&prefix, booking_id), payload });
                }
                booking_id
            };
            ctx.spawn(work.into_actor(self).map(move |booking_id, _, ctx| match booking_id {
                Some(booking_id) => Self::say(ctx, ServerFrame::OfferDeclined { booking_id }),
                None => Self::error(ctx, "offer_failed", "this offer is no longer open"),
            }));
            return;
        }
        let standing = self.standing.check();
        let work = async move {
            // A ban or logout may not have reached this socket yet.
            if !standing.await? {
                return Err(AppError::invalid_token());
            }
            crate::services::bookings::accept_offer(&services, &redis, runner, offer).await
        };
        ctx.spawn(work.into_actor(self).map(move |result, _, ctx| match result {
            Ok(booking) => Self::say(
                ctx,
                ServerFrame::OfferAccepted { booking_id: booking.id, status: booking.status, version: booking.version },
            ),
            Err(AppError::Auth { .. }) => {
                Self::error(ctx, "session_ended", "your session has ended; sign in again");
                standing::end(ctx);
            }
            Err(err) => Self::error(ctx, "offer_failed", &err.to_string()),
        }));
    }

    fn on_unsubscribe(&mut self, booking_id: Option<&str>, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(booking_id) = parse_uuid(booking_id) else {
            return Self::error(ctx, "invalid_booking_id", "booking_id must be a UUID");
        };
        if self.watching.remove(&booking_id) {
            self.registry.do_send(Unwatch { booking_id, session_id: self.id });
            self.delivered.remove(&booking_id);
        }
        Self::say(ctx, ServerFrame::Unsubscribed { booking_id });
    }
}

impl Actor for AppSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(super::tracking::MAILBOX);
        let (bus, channel) = &self.user_channel;
        let subscribe =
            Subscribe { channel: channel.clone(), subscriber_id: self.id, recipient: ctx.address().recipient() };
        ctx.wait(bus.send(subscribe).into_actor(self).map(|_, _, _| ()));
        Self::say(
            ctx,
            ServerFrame::Hello {
                user_id: self.user_id,
                role: self.role,
                server_time: time::format(&Utc::now()),
                heartbeat_secs: self.limits.heartbeat.as_secs(),
            },
        );
        self.touch_presence();
        super::on_drain(self, ctx, &self.phase, |ctx| {
            ctx.text(ServerFrame::Reconnect { reason: "server shutting down" }.text());
            ctx.close(Some(super::going_away()));
            ctx.stop();
        });
        ctx.run_interval(self.limits.heartbeat, |act, ctx| {
            if act.standing.due() {
                act.recheck(ctx);
            }
            act.touch_presence();
            if act.last_heard.elapsed() > act.limits.client_timeout {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Away,
                    description: Some("client silent".into()),
                }));
                ctx.stop();
                return;
            }
            ctx.ping(b"");
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(p) = &self.presence {
            p.bus.do_send(SocketPresence { key: p.sockets_key.clone(), member: p.member.clone(), until_ms: None });
        }
        self.registry.do_send(SessionClosed { session_id: self.id });
        let (bus, channel) = &self.user_channel;
        bus.do_send(Unsubscribe { channel: channel.clone(), subscriber_id: self.id });
    }
}

impl Handler<BusMessage> for AppSession {
    type Result = ();

    /// The user's channel: notifications, chat from others, and the status
    /// of every booking the user is in (subscribed or not; de-duplicated by
    /// `seq` with the booking subscription).
    fn handle(&mut self, msg: BusMessage, ctx: &mut Self::Context) {
        let payload = match serde_json::from_str::<BusPayload>(&msg.payload) {
            Ok(payload) => payload,
            Err(_) => return,
        };
        match self.standing.hear(&payload) {
            Heard::Ended => return standing::end(ctx),
            Heard::Recheck => return self.recheck(ctx),
            Heard::Other => {}
        }
        let (seq, event) = match payload {
            BusPayload::Event { seq, event } => (seq, event),
            BusPayload::Offer { frame } => return Self::send(ctx, &frame),
            BusPayload::OfferClosed { booking_id, reason } => {
                let frame = if reason == "expired" {
                    ServerFrame::OfferExpired { booking_id }
                } else {
                    ServerFrame::OfferWithdrawn { booking_id }
                };
                return Self::say(ctx, frame);
            }
            _ => return,
        };
        let data = &event["data"];
        match event["type"].as_str().unwrap_or("") {
            "notification.created" => {
                Self::say(ctx, ServerFrame::Notification { data: &data["notification"] });
            }
            "chat.message_sent" => {
                if data["sender_id"].as_str() != Some(self.user_id.to_string().as_str()) {
                    let mut frame = data.clone();
                    if let Some(map) = frame.as_object_mut() {
                        map.insert("type".into(), json!("chat_message"));
                        map.remove("old_status");
                        map.remove("new_status");
                    }
                    Self::send(ctx, &frame);
                }
            }
            _ => {
                let booking_id = data["booking_id"].as_str().and_then(|b| Uuid::parse_str(b).ok());
                if let (Some(booking_id), Some(frame)) = (booking_id, frames::status(&event, seq)) {
                    let frame = Outbound {
                        booking_id,
                        kind: FrameKind::Status,
                        seq: Some(seq),
                        text: std::sync::Arc::from(frame.to_string()),
                    };
                    if let Some(buffer) = self.replaying.get_mut(&booking_id) {
                        buffer.push(frame);
                    } else {
                        self.deliver(frame, ctx);
                    }
                }
            }
        }
    }
}

impl Handler<PingRefused> for AppSession {
    type Result = ();

    fn handle(&mut self, PingRefused(rejected): PingRefused, ctx: &mut Self::Context) {
        let code = match rejected {
            PingRejected::NotOnline => "not_online",
            PingRejected::Banned => "banned",
            PingRejected::NoProfile => "no_profile",
            PingRejected::Invalid(_) => "invalid_location",
            PingRejected::Unavailable => "unavailable",
        };
        Self::error(ctx, code, &rejected.to_string());
    }
}

impl Handler<Outbound> for AppSession {
    type Result = ();

    fn handle(&mut self, frame: Outbound, ctx: &mut Self::Context) {
        if frame.kind == FrameKind::Evict {
            ctx.close(Some(ws::CloseReason { code: ws::CloseCode::Again, description: Some(frame.text.to_string()) }));
            ctx.stop();
            return;
        }
        if let Some(buffer) = self.replaying.get_mut(&frame.booking_id) {
            buffer.push(frame);
            return;
        }
        self.deliver(frame, ctx);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for AppSession {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match self.inbound.accept(msg) {
            Inbound::Text(text) => self.on_text(&text, ctx),
            Inbound::Binary(_) => Self::error(ctx, "unsupported", "send JSON text frames"),
            Inbound::Ping(bytes) => ctx.pong(&bytes),
            Inbound::Nothing => {}
            Inbound::Close(reason) => {
                ctx.close(reason);
                ctx.stop();
            }
            Inbound::Abort(reason) => {
                ctx.close(Some(reason));
                ctx.stop();
            }
        }
    }
}
