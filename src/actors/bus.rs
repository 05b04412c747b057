//! The node's Redis bridge: one subscriber connection with ref-counted
//! SUBSCRIBE/UNSUBSCRIBE as local interest comes and goes, one multiplexed
//! publisher, and automatic reconnect + resubscribe when Redis comes back.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, PubSubSink};
use ::redis::{Client, Msg};
use actix::prelude::*;

use super::messages::{BusMessage, BusStats, GetBusStats, Publish, Subscribe, Touch, Unsubscribe};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Publishes sent to Redis in one pipelined round trip.
const PUBLISH_BATCH: usize = 1024;
/// Publishes waiting while Redis is slow or away; beyond this the newest
/// are dropped (live positions are superseded within a second anyway).
const MAX_QUEUED_PUBLISHES: usize = 100_000;

/// What the publisher connection sends, in order.
enum Outgoing {
    Publish(Publish),
    Touch(Touch),
}

pub struct Bus {
    client: Client,
    publisher: ConnectionManager,
    subs: HashMap<String, HashMap<u64, Recipient<BusMessage>>>,
    /// Present while the subscriber connection is up. Only one subscriber
    /// stream exists at a time: a new one is added only after the old ended.
    sink: Option<PubSubSink>,
    connecting: bool,
    backoff: Duration,
    queued: VecDeque<Outgoing>,
    publishing: bool,
    dropped_publishes: u64,
}

impl Bus {
    pub fn new(client: Client, publisher: ConnectionManager) -> Self {
        Self {
            client,
            publisher,
            subs: HashMap::new(),
            sink: None,
            connecting: false,
            backoff: Duration::from_millis(100),
            queued: VecDeque::new(),
            publishing: false,
            dropped_publishes: 0,
        }
    }

    /// One pipeline in flight at a time; whatever queued meanwhile goes in
    /// the next one, so a burst costs a few round trips, not one each.
    fn pump_publishes(&mut self, ctx: &mut Context<Self>) {
        if self.publishing || self.queued.is_empty() {
            return;
        }
        let take = self.queued.len().min(PUBLISH_BATCH);
        let mut pipe = ::redis::pipe();
        for cmd in self.queued.drain(..take) {
            match cmd {
                Outgoing::Publish(msg) => pipe.publish(msg.channel, msg.payload).ignore(),
                Outgoing::Touch(msg) => pipe.pset_ex(msg.key, 1, msg.ttl_ms).ignore(),
            };
        }
        self.publishing = true;
        let mut conn = self.publisher.clone();
        let send = async move { pipe.query_async::<()>(&mut conn).await };
        ctx.spawn(send.into_actor(self).map(move |result, act, ctx| {
            act.publishing = false;
            if let Err(err) = result {
                tracing::warn!(error = %err, lost = take, "PUBLISH pipeline failed");
            }
            act.pump_publishes(ctx);
        }));
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        if self.connecting {
            return;
        }
        self.connecting = true;
        let client = self.client.clone();
        let attempt = async move { tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await };
        ctx.spawn(attempt.into_actor(self).map(|result, act, ctx| {
            act.connecting = false;
            match result {
                Ok(Ok(pubsub)) => {
                    let (sink, stream) = pubsub.split();
                    act.backoff = Duration::from_millis(100);
                    let channels: Vec<String> = act.subs.keys().cloned().collect();
                    if !channels.is_empty() {
                        let mut resubscribe = sink.clone();
                        tracing::info!(channels = channels.len(), "bus reconnected; resubscribing");
                        let done = async move { resubscribe.subscribe(&channels).await.map(|()| channels) };
                        ctx.spawn(done.into_actor(act).map(|result, act, _| match result {
                            Ok(channels) => act.announce_resubscribed(&channels),
                            Err(err) => tracing::warn!(error = %err, "bus resubscribe failed"),
                        }));
                    }
                    act.sink = Some(sink);
                    ctx.add_stream(stream);
                }
                Ok(Err(err)) => act.retry_later(ctx, &err.to_string()),
                Err(_) => act.retry_later(ctx, "connect timed out"),
            }
        }));
    }

    /// Tells every local subscriber of `channels` that it may have missed
    /// messages while Redis was away.
    fn announce_resubscribed(&self, channels: &[String]) {
        let payload: Arc<str> =
            Arc::from(serde_json::to_string(&super::payload::BusPayload::Resubscribed).unwrap_or_default().as_str());
        for channel in channels {
            if let Some(subscribers) = self.subs.get(channel) {
                let message = BusMessage { channel: Arc::from(channel.as_str()), payload: payload.clone() };
                for recipient in subscribers.values() {
                    recipient.do_send(message.clone());
                }
            }
        }
    }

    fn retry_later(&mut self, ctx: &mut Context<Self>, why: &str) {
        self.sink = None;
        tracing::warn!(error = %why, retry_in_ms = self.backoff.as_millis() as u64, "bus not connected to Redis");
        let delay = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        ctx.run_later(delay, |act, ctx| act.connect(ctx));
    }
}

impl Actor for Bus {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(100_000);
        self.connect(ctx);
    }
}

impl StreamHandler<Msg> for Bus {
    fn handle(&mut self, msg: Msg, _ctx: &mut Self::Context) {
        let Some(subscribers) = self.subs.get(msg.get_channel_name()) else {
            return;
        };
        let Ok(payload) = std::str::from_utf8(msg.get_payload_bytes()) else {
            tracing::warn!(channel = msg.get_channel_name(), "non-UTF-8 bus payload dropped");
            return;
        };
        let message = BusMessage { channel: Arc::from(msg.get_channel_name()), payload: Arc::from(payload) };
        for recipient in subscribers.values() {
            recipient.do_send(message.clone());
        }
    }

    /// The subscriber connection ended: reconnect and resubscribe.
    fn finished(&mut self, ctx: &mut Self::Context) {
        if self.sink.is_some() {
            self.sink = None;
            self.retry_later(ctx, "subscriber connection closed");
        }
    }
}

impl Handler<Subscribe> for Bus {
    type Result = ResponseActFuture<Self, ()>;

    /// Resolves once Redis has acknowledged the SUBSCRIBE (or at once when
    /// the channel was already subscribed, or Redis is down: the reconnect
    /// will subscribe it).
    fn handle(&mut self, msg: Subscribe, _ctx: &mut Self::Context) -> Self::Result {
        let entry = self.subs.entry(msg.channel.clone()).or_default();
        let first = entry.is_empty();
        entry.insert(msg.subscriber_id, msg.recipient);
        match (&self.sink, first) {
            (Some(sink), true) => {
                let mut sink = sink.clone();
                let channel = msg.channel;
                Box::pin(
                    async move {
                        if let Err(err) = sink.subscribe(&channel).await {
                            tracing::warn!(error = %err, %channel, "SUBSCRIBE failed; will retry on reconnect");
                        }
                    }
                    .into_actor(self),
                )
            }
            _ => Box::pin(fut::ready(())),
        }
    }
}

impl Handler<Unsubscribe> for Bus {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, ctx: &mut Self::Context) {
        let Some(entry) = self.subs.get_mut(&msg.channel) else {
            return;
        };
        entry.remove(&msg.subscriber_id);
        if entry.is_empty() {
            self.subs.remove(&msg.channel);
            if let Some(sink) = &self.sink {
                let mut sink = sink.clone();
                let channel = msg.channel;
                ctx.spawn(
                    async move {
                        if let Err(err) = sink.unsubscribe(&channel).await {
                            tracing::warn!(error = %err, %channel, "UNSUBSCRIBE failed");
                        }
                    }
                    .into_actor(self),
                );
            }
        }
    }
}

impl Handler<Publish> for Bus {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) {
        if self.queued.len() >= MAX_QUEUED_PUBLISHES {
            self.dropped_publishes += 1;
            if self.dropped_publishes.is_power_of_two() {
                tracing::warn!(dropped = self.dropped_publishes, "publish queue full; dropping");
            }
            return;
        }
        self.queued.push_back(Outgoing::Publish(msg));
        self.pump_publishes(ctx);
    }
}

impl Handler<Touch> for Bus {
    type Result = ();

    fn handle(&mut self, msg: Touch, ctx: &mut Self::Context) {
        if self.queued.len() < MAX_QUEUED_PUBLISHES {
            self.queued.push_back(Outgoing::Touch(msg));
            self.pump_publishes(ctx);
        }
    }
}

impl Handler<GetBusStats> for Bus {
    type Result = BusStats;

    fn handle(&mut self, _: GetBusStats, _: &mut Self::Context) -> BusStats {
        BusStats {
            channels: self.subs.len(),
            subscribers: self.subs.values().map(HashMap::len).sum(),
            connected: self.sink.is_some(),
        }
    }
}
