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
use crate::domain::frames;

pub struct BookingActor {
    booking_id: Uuid,
    channel: String,
    subscriber_id: u64,
    bus: Addr<Bus>,
    watchers: HashMap<u64, Recipient<Outbound>>,
}

impl BookingActor {
    pub fn new(booking_id: Uuid, channel: String, subscriber_id: u64, bus: Addr<Bus>) -> Self {
        Self { booking_id, channel, subscriber_id, bus, watchers: HashMap::new() }
    }

    fn render(&self, payload: &str) -> Option<Outbound> {
        match serde_json::from_str::<BusPayload>(payload) {
            Ok(BusPayload::Location { frame }) => Some(Outbound {
                booking_id: self.booking_id,
                kind: FrameKind::Location,
                seq: None,
                text: Arc::from(frame.to_string()),
            }),
            Ok(BusPayload::Event { seq, event }) => frames::status(&event, seq).map(|frame| Outbound {
                booking_id: self.booking_id,
                kind: FrameKind::Status,
                seq: Some(seq),
                text: Arc::from(frame.to_string()),
            }),
            Ok(BusPayload::Refresh) => None,
            Err(err) => {
                tracing::warn!(error = %err, booking_id = %self.booking_id, "unreadable bus payload");
                None
            }
        }
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
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        self.bus.do_send(Unsubscribe { channel: self.channel.clone(), subscriber_id: self.subscriber_id });
        Running::Stop
    }
}

impl Handler<BusMessage> for BookingActor {
    type Result = ();

    fn handle(&mut self, msg: BusMessage, _: &mut Self::Context) {
        if let Some(frame) = self.render(&msg.payload) {
            for watcher in self.watchers.values() {
                watcher.do_send(frame.clone());
            }
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
