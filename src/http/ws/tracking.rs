//! `GET /ws/tracking/:bookingId`: the Kilat apps' read-only feed
//! (docs/PROTOCOL.md). One JSON object per frame, flat location frames, status frames only
//! with `&events=status`. Inbound frames are ignored except the app-level
//! ping; a frame over 512 bytes closes the socket.

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws;
use uuid::Uuid;

use crate::actors::bus::Bus;
use crate::actors::messages::{BusMessage, FrameKind, Outbound, SessionClosed, Subscribe, Unsubscribe, Watch};
use crate::actors::registry::Registry;
use crate::domain::bus::BusPayload;
use crate::http::ws::SocketSlot;
use crate::http::ws::inbound::{Assembler, Inbound};
use crate::http::ws::standing::{self, Heard, Standing};

/// (docs/PROTOCOL.md) server ping every 54 s, read deadline 60 s.
pub const PING_EVERY: Duration = Duration::from_secs(54);
pub const READ_DEADLINE: Duration = Duration::from_secs(60);
pub const MAX_FRAME: usize = 512;
/// Frames a socket may have queued before its booking actor holds back
/// (coalescing locations) — the per-socket bound of docs/PROTOCOL.md.
pub const MAILBOX: usize = 64;

pub struct TrackingSession {
    pub id: u64,
    pub booking_id: Uuid,
    pub wants_status: bool,
    pub registry: Addr<Registry>,
    pub last_heard: Instant,
    /// (bus, the user's channel): where a ban or logout reaches the socket.
    pub user_channel: (Addr<Bus>, String),
    pub standing: Standing,
    pub phase: tokio::sync::watch::Receiver<crate::http::NodePhase>,
    /// Inbound frames count toward the flood limit like on `/ws`.
    pub inbound: Assembler,
    pub slot: SocketSlot,
}

impl TrackingSession {
    fn recheck(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        standing::recheck(&self.standing, self, ctx);
    }
}

impl Actor for TrackingSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        let (bus, channel) = &self.user_channel;
        let subscribe =
            Subscribe { channel: channel.clone(), subscriber_id: self.id, recipient: ctx.address().recipient() };
        ctx.wait(bus.send(subscribe).into_actor(self).map(|_, _, _| ()));
        // (the apps' feed takes no new frame types: a plain 1001 close)
        super::on_drain(self, ctx, &self.phase, |ctx| {
            ctx.close(Some(super::going_away()));
            ctx.stop();
        });
        ctx.run_interval(self.standing.every, |act, ctx| {
            if act.standing.due() {
                act.recheck(ctx);
            }
        });
        ctx.run_interval(PING_EVERY, |act, ctx| {
            if act.last_heard.elapsed() > READ_DEADLINE {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Away,
                    description: Some("read deadline".into()),
                }));
                ctx.stop();
                return;
            }
            ctx.ping(b"");
        });
        let watch = Watch { booking_id: self.booking_id, session_id: self.id, recipient: ctx.address().recipient() };
        ctx.wait(self.registry.send(watch).into_actor(self).map(|_, _, _| ()));
    }

    /// Every exit path (close, error, deadline, shutdown) ends here.
    fn stopped(&mut self, _: &mut Self::Context) {
        self.registry.do_send(SessionClosed { session_id: self.id });
        let (bus, channel) = &self.user_channel;
        bus.do_send(Unsubscribe { channel: channel.clone(), subscriber_id: self.id });
    }
}

impl Handler<BusMessage> for TrackingSession {
    type Result = ();

    /// The user's channel: only what ends or re-checks the session matters.
    fn handle(&mut self, msg: BusMessage, ctx: &mut Self::Context) {
        // The user's events (notifications, statuses) are not for this feed.
        if !(msg.payload.contains("session_ended") || msg.payload.contains("resubscribed")) {
            return;
        }
        let Ok(payload) = serde_json::from_str::<BusPayload>(&msg.payload) else {
            return;
        };
        match self.standing.hear(&payload) {
            Heard::Ended => standing::end(ctx),
            Heard::Recheck => self.recheck(ctx),
            Heard::Other => {}
        }
    }
}

impl Handler<Outbound> for TrackingSession {
    type Result = ();

    fn handle(&mut self, frame: Outbound, ctx: &mut Self::Context) {
        match frame.kind {
            FrameKind::Evict => {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Again,
                    description: Some(frame.text.to_string()),
                }));
                ctx.stop();
            }
            FrameKind::Status if !self.wants_status => {}
            _ => ctx.text(&*frame.text),
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for TrackingSession {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match self.inbound.accept(msg) {
            Inbound::Ping(bytes) => ctx.pong(&bytes),
            Inbound::Text(text) => {
                let is_ping = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .is_some_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("ping"));
                if is_ping {
                    ctx.text(r#"{"type":"pong"}"#);
                }
            }
            Inbound::Binary(_) | Inbound::Nothing => {}
            Inbound::Close(reason) => {
                ctx.close(reason);
                ctx.stop();
            }
            Inbound::Abort(reason) => {
                tracing::debug!(?reason, "tracking socket closed for a protocol fault or flood");
                ctx.close(Some(reason));
                ctx.stop();
            }
        }
    }
}
