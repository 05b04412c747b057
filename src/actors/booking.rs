//! `BookingActor`: one per booking watched on this node. Subscribes to the
//! booking's Redis channel while it has watchers, renders each bus message
//! into a frame once, and hands it to every watching socket.
//!
//! Backpressure: a socket's mailbox is bounded. When it is full (the client
//! reads slower than frames come), location frames are coalesced to the
//! latest one and status frames wait in a bounded backlog, retried every
//! few milliseconds; a socket whose backlog overflows is evicted (closed
//! with 1013 when it next runs). Memory per socket stays bounded whatever
//! the ping rate.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use uuid::Uuid;

use super::bus::Bus;
use super::messages::{
    AddWatcher, Backlog, BusMessage, FrameKind, GetBacklog, Outbound, RemoveWatcher, StopActor, Subscribe, Unsubscribe,
};
use crate::db::{PgPool, outbox};
use crate::domain::bus::{BusPayload, LOCATION_TAG};
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
    watchers: HashMap<u64, Watcher>,
    retry_scheduled: bool,
}

/// Status frames a slow socket may have waiting before it is evicted.
pub const MAX_BACKLOG: usize = 256;
const RETRY_EVERY: Duration = Duration::from_millis(20);

struct Watcher {
    recipient: Recipient<Outbound>,
    /// Status frames not yet accepted by the socket's mailbox, in order.
    backlog: VecDeque<Outbound>,
    /// The newest location frame not yet accepted (older ones are dropped).
    latest_location: Option<Outbound>,
    coalesced: u64,
}

impl Watcher {
    fn pending(&self) -> bool {
        !self.backlog.is_empty() || self.latest_location.is_some()
    }

    /// Hands over what the mailbox takes, oldest status first, then the
    /// latest location. `Err` when the socket is gone.
    fn drain(&mut self) -> Result<(), ()> {
        while let Some(frame) = self.backlog.pop_front() {
            match self.recipient.try_send(frame) {
                Ok(()) => {}
                Err(SendError::Full(frame)) => {
                    self.backlog.push_front(frame);
                    return Ok(());
                }
                Err(SendError::Closed(_)) => return Err(()),
            }
        }
        if let Some(frame) = self.latest_location.take() {
            match self.recipient.try_send(frame) {
                Ok(()) => {}
                Err(SendError::Full(frame)) => self.latest_location = Some(frame),
                Err(SendError::Closed(_)) => return Err(()),
            }
        }
        Ok(())
    }

    fn offer(&mut self, frame: Outbound) {
        match frame.kind {
            FrameKind::Status | FrameKind::Evict => self.backlog.push_back(frame),
            FrameKind::Location => {
                if self.latest_location.replace(frame).is_some() {
                    self.coalesced += 1;
                }
            }
        }
    }
}

impl BookingActor {
    pub fn new(booking_id: Uuid, channel: String, subscriber_id: u64, bus: Addr<Bus>, pool: PgPool) -> Self {
        Self {
            booking_id,
            pool,
            last_seq: 0,
            channel,
            subscriber_id,
            bus,
            watchers: HashMap::new(),
            retry_scheduled: false,
        }
    }

    fn broadcast(&mut self, frame: Outbound, ctx: &mut Context<Self>) {
        for watcher in self.watchers.values_mut() {
            watcher.offer(frame.clone());
        }
        self.pump(ctx);
    }

    /// Moves pending frames into mailboxes; evicts sockets that are gone or
    /// hopelessly behind; schedules another round while anything waits.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        let mut dropped = Vec::new();
        for (id, watcher) in &mut self.watchers {
            if watcher.drain().is_err() {
                dropped.push((*id, false));
            } else if watcher.backlog.len() > MAX_BACKLOG {
                dropped.push((*id, true));
            }
        }
        for (id, stuck) in dropped {
            if let Some(watcher) = self.watchers.remove(&id) {
                if stuck {
                    tracing::warn!(booking_id = %self.booking_id, session_id = id, "socket too far behind; evicted");
                    // One unbounded message: the socket closes (1013) as soon as it runs again.
                    watcher.recipient.do_send(Outbound {
                        booking_id: self.booking_id,
                        kind: FrameKind::Evict,
                        seq: None,
                        text: Arc::from("socket too far behind"),
                    });
                }
            }
        }
        if !self.retry_scheduled && self.watchers.values().any(Watcher::pending) {
            self.retry_scheduled = true;
            ctx.run_later(RETRY_EVERY, |act, ctx| {
                act.retry_scheduled = false;
                act.pump(ctx);
            });
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
        ctx.wait(load.into_actor(self).map(|missed, act, ctx| {
            for event in missed.unwrap_or_default() {
                if event.seq > act.last_seq {
                    act.last_seq = event.seq;
                    if let Some(frame) = act.status_frame(&event.payload, event.seq) {
                        act.broadcast(frame, ctx);
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
        if let Some(text) = msg.payload.strip_prefix(LOCATION_TAG) {
            let frame =
                Outbound { booking_id: self.booking_id, kind: FrameKind::Location, seq: None, text: Arc::from(text) };
            return self.broadcast(frame, ctx);
        }
        match serde_json::from_str::<BusPayload>(&msg.payload) {
            Ok(BusPayload::Event { seq, .. }) if seq <= self.last_seq => {}
            Ok(BusPayload::Event { seq, event }) if seq == self.last_seq + 1 => {
                self.last_seq = seq;
                if let Some(frame) = self.status_frame(&event, seq) {
                    self.broadcast(frame, ctx);
                }
            }
            Ok(BusPayload::Event { .. } | BusPayload::Resubscribed) => self.catch_up(ctx),
            Ok(
                BusPayload::Refresh
                | BusPayload::Offer { .. }
                | BusPayload::OfferClosed { .. }
                | BusPayload::Answer { .. }
                | BusPayload::SessionEnded { .. },
            ) => {}
            Err(err) => tracing::warn!(error = %err, booking_id = %self.booking_id, "unreadable bus payload"),
        }
    }
}

impl Handler<AddWatcher> for BookingActor {
    type Result = ();

    fn handle(&mut self, msg: AddWatcher, _: &mut Self::Context) {
        let watcher =
            Watcher { recipient: msg.recipient, backlog: VecDeque::new(), latest_location: None, coalesced: 0 };
        self.watchers.insert(msg.session_id, watcher);
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

impl Handler<GetBacklog> for BookingActor {
    type Result = Backlog;

    fn handle(&mut self, _: GetBacklog, _: &mut Self::Context) -> Backlog {
        Backlog {
            watchers: self.watchers.len(),
            waiting_status: self.watchers.values().map(|w| w.backlog.len()).sum(),
            waiting_location: self.watchers.values().filter(|w| w.latest_location.is_some()).count(),
            coalesced: self.watchers.values().map(|w| w.coalesced).sum(),
        }
    }
}
