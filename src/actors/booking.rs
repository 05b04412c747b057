//! `BookingActor`: one per booking watched on this node. Subscribes to the
//! booking's Redis channel while it has watchers, renders each bus message
//! into a frame once, and hands it to every watching socket.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use uuid::Uuid;

use super::bus::Bus;
use super::messages::{AddWatcher, BusMessage, FrameKind, Outbound, RemoveWatcher, StopActor, Subscribe, Unsubscribe};
use super::payload::BusPayload;
use crate::db::{PgPool, outbox};
use crate::domain::frames;

pub struct BookingActor {
    booking_id: Uuid,
    pool: PgPool,
    /// The newest event this node has delivered for the booking: a gap in
    /// `seq` (or a bus reconnect) triggers a catch-up from the outbox.
    last_seq: i64,
    channel: String,
    subscriber_id: u64,
    bus: Addr<Bus>,
    watchers: HashMap<u64, Recipient<Outbound>>,
}

impl BookingActor {
    pub fn new(booking_id: Uuid, channel: String, subscriber_id: u64, bus: Addr<Bus>, pool: PgPool) -> Self {
        Self { booking_id, pool, last_seq: 0, channel, subscriber_id, bus, watchers: HashMap::new() }
    }

    fn broadcast(&self, frame: Outbound) {
        for watcher in self.watchers.values() {
            watcher.do_send(frame.clone());
        }
    }

    fn status_frame(&self, event: &serde_json::Value, seq: i64) -> Option<Outbound> {
        frames::status(event, seq).map(|frame| Outbound {
            booking_id: self.booking_id,
            kind: FrameKind::Status,
            seq: Some(seq),
            text: Arc::from(frame.to_string()),
        })
    }

    /// Delivers, in order, every event after `last_seq` from the outbox
    /// (the mailbox waits, so live events cannot overtake the catch-up).
    fn catch_up(&mut self, ctx: &mut Context<Self>) {
        let (pool, booking_id, after) = (self.pool.clone(), self.booking_id, self.last_seq);
        let load = async move {
            let mut conn = pool.get().await.ok()?;
            outbox::since(&mut conn, booking_id, after).await.ok()
        };
        ctx.wait(load.into_actor(self).map(|missed, act, _| {
            for event in missed.unwrap_or_default() {
                if event.seq > act.last_seq {
                    act.last_seq = event.seq;
                    if let Some(frame) = act.status_frame(&event.payload, event.seq) {
                        act.broadcast(frame);
                    }
                }
            }
        }));
    }
}

impl Actor for BookingActor {
    type Context = Context<Self>;

    /// Watchers are only added once the Redis subscription is live, so no
    /// frame published after a watch is confirmed can be missed.
    fn started(&mut self, ctx: &mut Self::Context) {
        let subscribe = Subscribe {
            channel: self.channel.clone(),
            subscriber_id: self.subscriber_id,
            recipient: ctx.address().recipient(),
        };
        ctx.wait(self.bus.send(subscribe).into_actor(self).map(|_, _, _| ()));
        let (pool, booking_id) = (self.pool.clone(), self.booking_id);
        let current = async move {
            let mut conn = pool.get().await.ok()?;
            outbox::last_seq(&mut conn, booking_id).await.ok()
        };
        ctx.wait(current.into_actor(self).map(|seq, act, _| act.last_seq = seq.unwrap_or(0)));
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        self.bus.do_send(Unsubscribe { channel: self.channel.clone(), subscriber_id: self.subscriber_id });
        Running::Stop
    }
}

impl Handler<BusMessage> for BookingActor {
    type Result = ();

    fn handle(&mut self, msg: BusMessage, ctx: &mut Self::Context) {
        match serde_json::from_str::<BusPayload>(&msg.payload) {
            Ok(BusPayload::Location { frame }) => self.broadcast(Outbound {
                booking_id: self.booking_id,
                kind: FrameKind::Location,
                seq: None,
                text: Arc::from(frame.to_string()),
            }),
            Ok(BusPayload::Event { seq, .. }) if seq <= self.last_seq => {}
            Ok(BusPayload::Event { seq, event }) if seq == self.last_seq + 1 => {
                self.last_seq = seq;
                if let Some(frame) = self.status_frame(&event, seq) {
                    self.broadcast(frame);
                }
            }
            Ok(BusPayload::Event { .. } | BusPayload::Resubscribed) => self.catch_up(ctx),
            Ok(BusPayload::Refresh) => {}
            Err(err) => tracing::warn!(error = %err, booking_id = %self.booking_id, "unreadable bus payload"),
        }
    }
}

impl Handler<AddWatcher> for BookingActor {
    type Result = ();

    fn handle(&mut self, msg: AddWatcher, _: &mut Self::Context) {
        self.watchers.insert(msg.session_id, msg.recipient);
    }
}

impl Handler<RemoveWatcher> for BookingActor {
    type Result = ();

    fn handle(&mut self, msg: RemoveWatcher, _: &mut Self::Context) {
        self.watchers.remove(&msg.session_id);
    }
}

impl Handler<StopActor> for BookingActor {
    type Result = ();

    fn handle(&mut self, _: StopActor, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
