//! The node's Redis bridge: one subscriber connection with ref-counted
//! SUBSCRIBE/UNSUBSCRIBE as local interest comes and goes, one multiplexed
//! publisher, and automatic reconnect + resubscribe when Redis comes back.
//!
//! On a Redis Cluster, channels travel by sharded pub/sub: `SSUBSCRIBE` on
//! the node that owns the channel's slot (one subscriber connection per
//! such node) and `SPUBLISH` to it, so a message costs one cluster node,
//! not all of them. When a node drops (a master killed, its replica
//! promoted) or gives a slot away (a failover, a reshard: the node says
//! `sunsubscribe`), the channels are subscribed again on their new owner,
//! and their local subscribers are told they may have missed messages
//! (booking actors catch up from the outbox), as after a Redis restart.
//!
//! Local first: a message published on a channel this node subscribes to
//! is handed to the local subscribers at once, and goes to Redis for the
//! other nodes, tagged with this node's origin so that its own echo is
//! dropped. Locations (superseded by the next ping) skip Redis entirely
//! while the last PUBLISH on the channel reached no other node: a node
//! that starts listening says so on the channel (`hello`), which switches
//! publishing back on, and the "nobody else" verdict lapses after
//! [`QUIET_FOR`] in any case. One node thus fans pings out in-process.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::redis::aio::PubSubSink;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Client, Msg, PushInfo, PushKind, RedisError, Value};
use actix::prelude::*;

use super::messages::{BusMessage, BusStats, GetBusStats, Publish, SocketPresence, Subscribe, Touch, Unsubscribe};
use crate::db::redis::{BusWrite, Connection, cluster_builder, write_batch};
use crate::domain::backoff::Backoff;
use crate::domain::bus::LOCATION_TAG;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Reconnecting to Redis: 100 ms, doubling, at most 5 s apart.
const RECONNECT: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// Subscribing a cluster's channels again on their new owner: a failover
/// takes a few seconds (the cluster's node timeout), so retry often.
const RESUBSCRIBE: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// Publishes sent to Redis in one pipelined round trip.
const PUBLISH_BATCH: usize = 1024;
/// Publishes waiting while Redis is slow or away; beyond this the newest
/// are dropped (live positions are superseded within a second anyway).
const MAX_QUEUED_PUBLISHES: usize = 100_000;
/// How long "no other node listens on this channel" is trusted before a
/// location is published to Redis again to re-check.
pub const QUIET_FOR: Duration = Duration::from_secs(1);
/// Origin header of every payload this node publishes: `@<16 hex>|`.
const ORIGIN_LEN: usize = 18;
/// Body of the message a node publishes when it starts listening.
const HELLO: &str = "?";

/// What the publisher connection sends, in order.
enum Outgoing {
    Publish(Publish),
    Touch(Touch),
    Socket(SocketPresence),
}

/// Where the bus subscribes.
pub enum Source {
    /// One Redis: a dedicated RESP2 pub/sub connection.
    Single(Client),
    /// A Redis Cluster's seed nodes: sharded pub/sub over RESP3, pushed
    /// messages from every node on one stream.
    Cluster { seeds: Vec<String>, timeout: Duration },
}

/// The live subscriber connection(s).
#[derive(Clone)]
enum Subscriber {
    Single(PubSubSink),
    Cluster(ClusterConnection),
}

impl Subscriber {
    async fn subscribe(self, channels: Vec<String>) -> Result<Vec<String>, RedisError> {
        match self {
            Self::Single(mut sink) => sink.subscribe(&channels).await.map(|()| channels),
            // one SSUBSCRIBE per channel: a command must stay within a slot
            Self::Cluster(conn) => {
                let sends = channels.iter().map(|channel| {
                    let mut conn = conn.clone();
                    async move { conn.ssubscribe(channel).await }
                });
                futures_util::future::try_join_all(sends).await.map(|_| channels)
            }
        }
    }

    async fn unsubscribe(self, channel: String) -> Result<(), RedisError> {
        match self {
            Self::Single(mut sink) => sink.unsubscribe(&channel).await,
            Self::Cluster(mut conn) => conn.sunsubscribe(&channel).await,
        }
    }
}

pub struct Bus {
    source: Source,
    publisher: Connection,
    subs: HashMap<String, HashMap<u64, Recipient<BusMessage>>>,
    /// Present while the subscriber connection is up. Only one subscriber
    /// stream exists at a time: a new one is added only after the old ended.
    sink: Option<Subscriber>,
    /// Cluster channels whose subscription a node dropped (it died, or gave
    /// the slot away), to subscribe again on the slot's owner.
    lost: HashSet<String>,
    resubscribing: bool,
    /// Resubscribe attempts in a row that left channels lost.
    resubscribe_failures: u32,
    connecting: bool,
    /// Failed connection attempts in a row.
    failures: u32,
    queued: VecDeque<Outgoing>,
    publishing: bool,
    dropped_publishes: u64,
    /// `@<node>|`, prefixed to everything this node publishes.
    origin: String,
    /// Channels whose SUBSCRIBE Redis has acknowledged on the current
    /// subscriber connection.
    confirmed: HashSet<String>,
    /// Channels where the last PUBLISH reached this node only, and since when.
    quiet: HashMap<String, Instant>,
    /// Hellos heard so far: a PUBLISH count taken before a hello must not
    /// mark the channel quiet after it.
    hellos: u64,
    delivered_local: u64,
    skipped_remote: u64,
    metrics: crate::metrics::BusMetrics,
    /// A subscriber connection existed before (the next one is a reconnect).
    ever_connected: bool,
}

/// Splits `@<node>|body` into (origin, body); a payload without the
/// header (another publisher) has no origin.
fn split_origin(payload: &str) -> (Option<&str>, &str) {
    match payload.as_bytes() {
        [b'@', rest @ ..] if rest.len() >= ORIGIN_LEN - 1 && rest[ORIGIN_LEN - 2] == b'|' => {
            (Some(&payload[1..ORIGIN_LEN - 1]), &payload[ORIGIN_LEN..])
        }
        _ => (None, payload),
    }
}

impl Bus {
    pub fn new(source: Source, publisher: Connection, metrics: crate::metrics::BusMetrics) -> Self {
        Self {
            source,
            publisher,
            subs: HashMap::new(),
            sink: None,
            lost: HashSet::new(),
            resubscribing: false,
            resubscribe_failures: 0,
            connecting: false,
            failures: 0,
            queued: VecDeque::new(),
            publishing: false,
            dropped_publishes: 0,
            origin: format!("@{:016x}|", rand::random::<u64>()),
            confirmed: HashSet::new(),
            quiet: HashMap::new(),
            hellos: 0,
            delivered_local: 0,
            skipped_remote: 0,
            metrics,
            ever_connected: false,
        }
    }

    /// Hands a message to this node's subscribers of `channel`; false when
    /// there are none.
    fn deliver_local(&mut self, channel: &str, payload: &str) -> bool {
        let Some(subscribers) = self.subs.get(channel).filter(|s| !s.is_empty()) else {
            return false;
        };
        let message = BusMessage { channel: Arc::from(channel), payload: Arc::from(payload) };
        for recipient in subscribers.values() {
            recipient.do_send(message.clone());
        }
        self.delivered_local += 1;
        true
    }

    /// No other node listened on `channel` a moment ago.
    fn is_quiet(&self, channel: &str) -> bool {
        self.quiet.get(channel).is_some_and(|since| since.elapsed() < QUIET_FOR)
    }

    fn enqueue(&mut self, channel: String, body: &str, ctx: &mut Context<Self>) {
        if self.queued.len() >= MAX_QUEUED_PUBLISHES {
            self.dropped_publishes += 1;
            self.metrics.dropped.inc();
            if self.dropped_publishes.is_power_of_two() {
                tracing::warn!(dropped = self.dropped_publishes, "publish queue full; dropping");
            }
            return;
        }
        let payload = format!("{}{body}", self.origin);
        self.queued.push_back(Outgoing::Publish(Publish { channel, payload }));
        self.metrics.queue_depth.set(self.queued.len() as i64);
        self.pump_publishes(ctx);
    }

    /// Tells the other nodes this one now listens on `channels`.
    fn say_hello(&mut self, channels: Vec<String>, ctx: &mut Context<Self>) {
        for channel in channels {
            self.enqueue(channel, HELLO, ctx);
        }
    }

    /// One pipeline in flight at a time; whatever queued meanwhile goes in
    /// the next one, so a burst costs a few round trips, not one each.
    fn pump_publishes(&mut self, ctx: &mut Context<Self>) {
        if self.publishing || self.queued.is_empty() {
            return;
        }
        let take = self.queued.len().min(PUBLISH_BATCH);
        // Per write: the channel of a PUBLISH, to learn who listens.
        let mut published: Vec<Option<String>> = Vec::with_capacity(take);
        let mut writes = Vec::with_capacity(take);
        for cmd in self.queued.drain(..take) {
            let write = match cmd {
                Outgoing::Publish(msg) => {
                    published.push(Some(msg.channel.clone()));
                    BusWrite::Publish { channel: msg.channel, payload: msg.payload }
                }
                Outgoing::Touch(msg) => {
                    published.push(None);
                    BusWrite::Touch { key: msg.key, ttl_ms: msg.ttl_ms }
                }
                Outgoing::Socket(msg) => {
                    published.push(None);
                    match msg.until_ms {
                        // members of sockets on a node that died lapse by score
                        Some(until_ms) => {
                            BusWrite::SocketLive { key: msg.key, member: msg.member, until_ms, now_ms: now_ms() }
                        }
                        None => BusWrite::SocketGone { key: msg.key, member: msg.member },
                    }
                }
            };
            writes.push(write);
        }
        self.publishing = true;
        self.metrics.queue_depth.set(self.queued.len() as i64);
        let out = published.iter().filter(|p| p.is_some()).count() as u64;
        let hellos = self.hellos;
        let mut conn = self.publisher.clone();
        let send = async move { write_batch(&mut conn, writes).await };
        ctx.spawn(send.into_actor(self).map(move |result, act, ctx| {
            act.publishing = false;
            match result {
                Ok(receivers) => {
                    act.metrics.messages.with_label_values(&["out"]).inc_by(out);
                    act.learn_listeners(published, receivers, hellos)
                }
                Err(err) => tracing::warn!(error = %err, lost = take, "PUBLISH pipeline failed"),
            }
            act.pump_publishes(ctx);
        }));
    }

    /// A PUBLISH that reached exactly one subscriber on a channel this node
    /// is confirmed on reached this node only: nobody else listens (unless
    /// a hello came in meanwhile).
    fn learn_listeners(&mut self, published: Vec<Option<String>>, receivers: Vec<Option<i64>>, hellos: u64) {
        let now = Instant::now();
        for (channel, receivers) in published.into_iter().zip(receivers) {
            let (Some(channel), Some(receivers)) = (channel, receivers) else {
                continue;
            };
            if receivers == 1 && hellos == self.hellos && self.confirmed.contains(&channel) {
                self.quiet.insert(channel, now);
            } else {
                self.quiet.remove(&channel);
            }
        }
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        if self.connecting {
            return;
        }
        self.connecting = true;
        match &self.source {
            Source::Single(client) => {
                let client = client.clone();
                let attempt = async move { tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await };
                ctx.spawn(attempt.into_actor(self).map(|result, act, ctx| {
                    act.connecting = false;
                    match result {
                        Ok(Ok(pubsub)) => {
                            let (sink, stream) = pubsub.split();
                            act.connected(Subscriber::Single(sink), ctx);
                            ctx.add_stream(stream);
                        }
                        Ok(Err(err)) => act.retry_later(ctx, &err.to_string()),
                        Err(_) => act.retry_later(ctx, "connect timed out"),
                    }
                }));
            }
            Source::Cluster { seeds, timeout } => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<PushInfo>();
                let client = cluster_builder(seeds, *timeout)
                    .use_protocol(::redis::ProtocolVersion::RESP3)
                    .push_sender(tx)
                    .retries(2)
                    .build();
                let attempt = async move {
                    let client = client?;
                    match tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_connection()).await {
                        Ok(conn) => conn,
                        Err(_) => Err(RedisError::from((::redis::ErrorKind::Io, "connect timed out"))),
                    }
                };
                ctx.spawn(attempt.into_actor(self).map(move |result, act, ctx| {
                    act.connecting = false;
                    match result {
                        Ok(conn) => {
                            act.connected(Subscriber::Cluster(conn), ctx);
                            // every node's pushes, until the connection is dropped
                            let pushes = futures_util::stream::unfold(rx, |mut rx| async move {
                                rx.recv().await.map(|push| (push, rx))
                            });
                            ctx.add_stream(pushes);
                        }
                        Err(err) => act.retry_later(ctx, &err.to_string()),
                    }
                }));
            }
        }
    }

    /// A subscriber connection is up: subscribe whatever local interest
    /// exists (after a reconnect, telling its subscribers to catch up).
    fn connected(&mut self, sub: Subscriber, ctx: &mut Context<Self>) {
        if self.ever_connected {
            self.metrics.reconnects.inc();
        }
        self.ever_connected = true;
        self.failures = 0;
        self.confirmed.clear();
        self.quiet.clear();
        self.lost.clear();
        let channels: Vec<String> = self.subs.keys().cloned().collect();
        if !channels.is_empty() {
            tracing::info!(channels = channels.len(), "bus reconnected; resubscribing");
            ctx.spawn(sub.clone().subscribe(channels).into_actor(self).map(|result, act, ctx| match result {
                Ok(channels) => act.recovered(channels, ctx),
                Err(err) => tracing::warn!(error = %err, "bus resubscribe failed"),
            }));
        }
        self.sink = Some(sub);
    }

    /// `channels` are subscribed again after a gap: confirmed, their local
    /// subscribers told to catch up, and the other nodes told we listen.
    fn recovered(&mut self, channels: Vec<String>, ctx: &mut Context<Self>) {
        let channels: Vec<String> = channels.into_iter().filter(|c| self.subs.contains_key(c)).collect();
        self.announce_resubscribed(&channels);
        self.confirmed.extend(channels.iter().cloned());
        self.say_hello(channels, ctx);
    }

    /// Cluster channels whose node dropped them: subscribe them again on
    /// their slot's owner (the cluster client follows the new slot map),
    /// retrying until the cluster has promoted a replica.
    fn resubscribe_lost(&mut self, ctx: &mut Context<Self>) {
        if self.resubscribing || self.lost.is_empty() {
            return;
        }
        let Some(sub) = self.sink.clone() else {
            return; // the reconnect subscribes everything
        };
        self.resubscribing = true;
        let channels: Vec<String> = self.lost.iter().cloned().collect();
        let attempts = channels.into_iter().map(move |channel| {
            let sub = sub.clone();
            async move { sub.subscribe(vec![channel.clone()]).await.map_err(|e| (channel, e)) }
        });
        let all = futures_util::future::join_all(attempts);
        ctx.spawn(all.into_actor(self).map(|results, act, ctx| {
            act.resubscribing = false;
            let mut back = Vec::new();
            let mut failed = 0;
            for result in results {
                match result {
                    Ok(channels) => back.extend(channels.into_iter().filter(|c| act.lost.remove(c))),
                    Err((channel, err)) => {
                        failed += 1;
                        tracing::debug!(error = %err, %channel, "SSUBSCRIBE failed; retrying");
                    }
                }
            }
            if !back.is_empty() {
                tracing::info!(channels = back.len(), "bus resubscribed moved channels");
                act.recovered(back, ctx);
            }
            if failed > 0 {
                act.resubscribe_failures = act.resubscribe_failures.saturating_add(1);
                let delay = RESUBSCRIBE.after(act.resubscribe_failures);
                ctx.run_later(delay, |act, ctx| act.resubscribe_lost(ctx));
            } else {
                act.resubscribe_failures = 0;
                act.resubscribe_lost(ctx); // lost meanwhile
            }
        }));
    }

    /// A node dropped `channels` (or its connection): they are lost until
    /// subscribed again on their slot's owner.
    fn lose(&mut self, channels: Vec<String>, ctx: &mut Context<Self>) {
        for channel in channels {
            if self.subs.contains_key(&channel) {
                self.confirmed.remove(&channel);
                self.quiet.remove(&channel);
                self.lost.insert(channel);
            }
        }
        self.resubscribe_lost(ctx);
    }

    /// A published message from Redis for this node's subscribers.
    fn received(&mut self, channel: &str, payload: &[u8]) {
        self.metrics.messages.with_label_values(&["in"]).inc();
        let Some(subscribers) = self.subs.get(channel) else {
            return;
        };
        let Ok(payload) = std::str::from_utf8(payload) else {
            tracing::warn!(channel, "non-UTF-8 bus payload dropped");
            return;
        };
        let (origin, body) = split_origin(payload);
        if origin.is_some_and(|o| self.origin[1..ORIGIN_LEN - 1] == *o) {
            return; // ours: the local subscribers had it when it was published
        }
        if body == HELLO {
            // Another node listens here now: publish to Redis again.
            self.hellos += 1;
            self.quiet.remove(channel);
            return;
        }
        let message = BusMessage { channel: Arc::from(channel), payload: Arc::from(body) };
        for recipient in subscribers.values() {
            recipient.do_send(message.clone());
        }
    }

    /// Tells every local subscriber of `channels` that it may have missed
    /// messages while Redis was away.
    fn announce_resubscribed(&self, channels: &[String]) {
        let payload: Arc<str> = Arc::from(
            serde_json::to_string(&crate::domain::bus::BusPayload::Resubscribed).unwrap_or_default().as_str(),
        );
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
        self.lost.clear();
        self.confirmed.clear();
        self.quiet.clear();
        self.failures = self.failures.saturating_add(1);
        let delay = RECONNECT.after(self.failures);
        tracing::warn!(error = %why, retry_in_ms = delay.as_millis() as u64, "bus not connected to Redis");
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
        self.received(msg.get_channel_name(), msg.get_payload_bytes());
    }

    /// The subscriber connection ended: reconnect and resubscribe.
    fn finished(&mut self, ctx: &mut Self::Context) {
        if self.sink.is_some() {
            self.sink = None;
            self.retry_later(ctx, "subscriber connection closed");
        }
    }
}

/// The channel name (first datum) of a pushed pub/sub reply.
fn push_channel(push: &PushInfo) -> Option<String> {
    match push.data.first()? {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// A Redis Cluster's pushes: sharded messages, and the nodes' word that a
/// channel was dropped (`sunsubscribe` when its slot moved away) or that a
/// node's connection closed.
impl StreamHandler<PushInfo> for Bus {
    fn handle(&mut self, push: PushInfo, ctx: &mut Self::Context) {
        match push.kind {
            PushKind::SMessage | PushKind::Message => {
                if let (Some(channel), Some(Value::BulkString(payload))) = (push_channel(&push), push.data.get(1)) {
                    self.received(&channel, payload);
                }
            }
            // (our own SUNSUBSCRIBE's reply names a channel nobody wants any more)
            PushKind::SUnsubscribe => {
                if let Some(channel) = push_channel(&push).filter(|c| self.subs.contains_key(c)) {
                    tracing::info!(%channel, "a cluster node dropped a channel (slot moved); resubscribing");
                    self.lose(vec![channel], ctx);
                }
            }
            PushKind::Disconnection => {
                // Which node went is not said: every channel is subscribed
                // again (a live subscription just answers again).
                let channels: Vec<String> = self.subs.keys().cloned().collect();
                if !channels.is_empty() {
                    tracing::warn!(channels = channels.len(), "a cluster node's connection closed; resubscribing");
                    self.lose(channels, ctx);
                }
            }
            _ => {}
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        if self.sink.is_some() {
            self.sink = None;
            self.retry_later(ctx, "cluster subscriber connection closed");
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
                let sink = sink.clone();
                let channel = msg.channel;
                Box::pin(
                    async move {
                        match sink.subscribe(vec![channel.clone()]).await {
                            Ok(_) => Some(channel),
                            Err(err) => {
                                tracing::warn!(error = %err, %channel, "SUBSCRIBE failed; will retry on reconnect");
                                None
                            }
                        }
                    }
                    .into_actor(self)
                    .map(|subscribed, act, ctx| {
                        if let Some(channel) = subscribed.filter(|c| act.subs.contains_key(c)) {
                            act.confirmed.insert(channel.clone());
                            act.say_hello(vec![channel], ctx);
                        }
                    }),
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
            self.confirmed.remove(&msg.channel);
            self.quiet.remove(&msg.channel);
            self.lost.remove(&msg.channel);
            if let Some(sink) = &self.sink {
                let sink = sink.clone();
                let channel = msg.channel;
                ctx.spawn(
                    async move {
                        if let Err(err) = sink.unsubscribe(channel.clone()).await {
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

    fn handle(&mut self, Publish { channel, payload }: Publish, ctx: &mut Self::Context) {
        let local = self.deliver_local(&channel, &payload);
        if local && payload.starts_with(LOCATION_TAG) && self.is_quiet(&channel) {
            self.skipped_remote += 1;
            return;
        }
        self.enqueue(channel, &payload, ctx);
    }
}

impl Bus {
    /// Queues a key write behind the publishes (dropped when the queue is
    /// full: presence is refreshed again within seconds).
    fn queue_write(&mut self, write: Outgoing, ctx: &mut Context<Self>) {
        if self.queued.len() < MAX_QUEUED_PUBLISHES {
            self.queued.push_back(write);
            self.metrics.queue_depth.set(self.queued.len() as i64);
            self.pump_publishes(ctx);
        }
    }
}

impl Handler<Touch> for Bus {
    type Result = ();

    fn handle(&mut self, msg: Touch, ctx: &mut Self::Context) {
        self.queue_write(Outgoing::Touch(msg), ctx);
    }
}

impl Handler<SocketPresence> for Bus {
    type Result = ();

    fn handle(&mut self, msg: SocketPresence, ctx: &mut Self::Context) {
        self.queue_write(Outgoing::Socket(msg), ctx);
    }
}

/// Milliseconds since the Unix epoch (the scores of socket presence).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Handler<GetBusStats> for Bus {
    type Result = BusStats;

    fn handle(&mut self, _: GetBusStats, _: &mut Self::Context) -> BusStats {
        BusStats {
            channels: self.subs.len(),
            subscribers: self.subs.values().map(HashMap::len).sum(),
            connected: self.sink.is_some(),
            delivered_local: self.delivered_local,
            skipped_remote: self.skipped_remote,
            hellos_heard: self.hellos,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_header_is_split_off_and_foreign_payloads_pass_whole() {
        assert_eq!(split_origin("@0123456789abcdef|L{\"a\":1}"), (Some("0123456789abcdef"), "L{\"a\":1}"));
        assert_eq!(split_origin("@0123456789abcdef|?"), (Some("0123456789abcdef"), "?"));
        assert_eq!(split_origin("{\"kind\":\"refresh\"}"), (None, "{\"kind\":\"refresh\"}"));
        assert_eq!(split_origin("@short|x"), (None, "@short|x"));
        assert_eq!(split_origin(""), (None, ""));
    }
}
