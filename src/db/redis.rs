//! The node's Redis handle: one multiplexed, self-reconnecting connection
//! shared by every request, and the keys this service owns (all prefixed).
//! The connection reaches one Redis or a Redis Cluster ([`Connection`]).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::{ClusterClient, ClusterClientBuilder};
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Client, Cmd, Pipeline, RedisError, RedisFuture, Value};
use uuid::Uuid;

use super::DbError;
use super::outbox::{EventSink, OutboxEvent};
use crate::config::RedisSettings;
use crate::domain::bus::{BusPayload, booking_channel, user_channel};
use crate::error::BoxError;

/// A connection to one Redis, or to a Redis Cluster. Either way it is
/// shared (clones are cheap), reconnects by itself, and speaks every command
/// this service sends: on a cluster each key's command goes to the node
/// that owns its slot, and a pipeline's commands (which may span slots) go
/// out at once, as one pipeline per master (one pipeline per master, `db::slots`). A transaction
/// (`MULTI`) must stay within one slot.
#[derive(Clone)]
pub enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterLink),
}

impl Connection {
    /// Channels on this connection travel by sharded pub/sub.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// `PUBLISH`, or `SPUBLISH` on a cluster (whose plain `PUBLISH` is
    /// broadcast to every node of the cluster).
    pub fn publish_command(&self) -> &'static str {
        if self.is_cluster() { "SPUBLISH" } else { "PUBLISH" }
    }
}

/// A Redis Cluster connection made on first use (the node starts while the
/// cluster is down), then kept: it follows slot moves and failovers and
/// reconnects to nodes by itself.
#[derive(Clone)]
pub struct ClusterLink(Arc<(ClusterClient, tokio::sync::OnceCell<ClusterConnection>, super::slots::SlotMap)>);

impl ClusterLink {
    async fn get(&self) -> Result<ClusterConnection, RedisError> {
        let (client, conn, _) = &*self.0;
        conn.get_or_try_init(|| client.get_async_connection()).await.cloned()
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(link) => Box::pin(async move { link.get().await?.req_packed_command(cmd).await }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(link) => Box::pin(async move {
                let conn = link.get().await?;
                if pipeline.is_transaction() {
                    return conn.clone().req_packed_commands(pipeline, offset, count).await;
                }
                let cmds: Vec<&Cmd> = pipeline.cmd_iter().skip(offset).take(count).collect();
                super::slots::send(&conn, &link.0.2, &cmds).await
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(_) => 0,
        }
    }
}

/// Present (with a TTL) while a runner pings or holds a socket on any node.
pub fn presence_key(prefix: &str, runner_id: Uuid) -> String {
    format!("{prefix}presence:{runner_id}")
}

/// A sorted set of a runner's live `/ws` sockets on every node (member per
/// socket, scored by when it lapses): offers go only to runners with one.
pub fn sockets_key(prefix: &str, runner_id: Uuid) -> String {
    format!("{prefix}sockets:{runner_id}")
}

/// Held while a runner has an open offer, so no two dispatchers offer the
/// same runner at once; its value names the offer ([`HeldOffer`]).
pub fn offer_key(prefix: &str, runner_id: Uuid) -> String {
    format!("{prefix}offer:{runner_id}")
}

/// The offer a runner holds: which booking, and the offer frame's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldOffer {
    pub booking_id: Uuid,
    pub offer_id: Uuid,
}

impl HeldOffer {
    fn encode(&self) -> String {
        format!("{} {}", self.booking_id, self.offer_id)
    }

    fn decode(raw: &str) -> Option<Self> {
        let (booking, offer) = raw.split_once(' ')?;
        Some(Self { booking_id: Uuid::parse_str(booking).ok()?, offer_id: Uuid::parse_str(offer).ok()? })
    }
}

/// A client whose connections set `TCP_NODELAY` (redis-rs leaves it off, and
/// pipelined small commands on one connection then wait ~40 ms for delayed
/// ACKs).
pub fn client(url: &str) -> Result<Client, RedisError> {
    use ::redis::IntoConnectionInfo;
    let info = url.into_connection_info()?.set_tcp_settings(::redis::io::tcp::TcpSettings::default().set_nodelay(true));
    Client::open(info)
}

/// A cluster client on `seeds` (any reachable node tells the rest), its
/// connections with `TCP_NODELAY` and `timeout` on connect and on replies.
pub fn cluster_builder(seeds: &[String], timeout: Duration) -> ClusterClientBuilder {
    ClusterClientBuilder::new(seeds.to_vec())
        .tcp_settings(::redis::io::tcp::TcpSettings::default().set_nodelay(true))
        .connection_timeout(timeout)
        .response_timeout(timeout)
}

#[derive(Clone)]
pub struct RedisHandle {
    conn: Connection,
    prefix: String,
}

impl RedisHandle {
    /// Connects lazily: the node starts while Redis is down and reconnects
    /// by itself when it comes back.
    pub fn new(settings: &RedisSettings) -> Result<Self, BoxError> {
        let timeout = Duration::from_millis(settings.command_timeout_ms);
        if let Some(seeds) = settings.cluster_seeds() {
            let client = cluster_builder(&seeds, timeout).retries(3).build()?;
            let link = ClusterLink(Arc::new((client, tokio::sync::OnceCell::new(), Default::default())));
            return Ok(Self { conn: Connection::Cluster(link), prefix: settings.key_prefix.clone() });
        }
        let client = client(&settings.url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self { conn: Connection::Single(conn), prefix: settings.key_prefix.clone() })
    }

    /// `<prefix><suffix>`
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    pub fn connection(&self) -> Connection {
        self.conn.clone()
    }

    /// For each sorted set in `socket_sets` (a runner's live `/ws` sockets,
    /// scored by when each lapses), whether a member is still live at
    /// `now_ms`: one pipelined round trip, in order.
    pub async fn any_live(&self, socket_sets: &[String], now_ms: u64) -> Result<Vec<bool>, RedisError> {
        if socket_sets.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for key in socket_sets {
            pipe.zcount(key, now_ms, "+inf");
        }
        let mut conn = self.connection();
        let live: Vec<u64> = pipe.query_async(&mut conn).await?;
        Ok(live.into_iter().map(|n| n > 0).collect())
    }

    /// Reserves the runner for one offer (`SET NX PX`): false when another
    /// dispatcher holds the runner already.
    pub async fn reserve_offer(&self, runner_id: Uuid, offer: HeldOffer, ttl_ms: u64) -> Result<bool, RedisError> {
        let mut conn = self.connection();
        let reserved: Option<String> = ::redis::cmd("SET")
            .arg(offer_key(&self.prefix, runner_id))
            .arg(offer.encode())
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await?;
        Ok(reserved.is_some())
    }

    /// Frees the runner if it still holds this offer (a newer one is kept).
    pub async fn release_offer(&self, runner_id: Uuid, offer: HeldOffer) -> Result<(), RedisError> {
        static RELEASE: LazyLock<::redis::Script> = LazyLock::new(|| {
            ::redis::Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
            )
        });
        let mut conn = self.connection();
        let _: i64 =
            RELEASE.key(offer_key(&self.prefix, runner_id)).arg(offer.encode()).invoke_async(&mut conn).await?;
        Ok(())
    }

    /// The offer the runner holds now, if any.
    pub async fn offer_held(&self, runner_id: Uuid) -> Result<Option<HeldOffer>, RedisError> {
        let mut conn = self.connection();
        let raw: Option<String> =
            ::redis::cmd("GET").arg(offer_key(&self.prefix, runner_id)).query_async(&mut conn).await?;
        Ok(raw.as_deref().and_then(HeldOffer::decode))
    }

    /// For each runner, the booking it is being offered now, if any: one
    /// `MGET` (in slices, so a city-sized list is never one huge reply).
    pub async fn offers_held(&self, runner_ids: &[Uuid]) -> Result<Vec<Option<Uuid>>, RedisError> {
        let mut out = Vec::with_capacity(runner_ids.len());
        let mut conn = self.connection();
        for chunk in runner_ids.chunks(1000) {
            let keys: Vec<String> = chunk.iter().map(|id| offer_key(&self.prefix, *id)).collect();
            let raw: Vec<Option<String>> = ::redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
            out.extend(raw.into_iter().map(|r| r.as_deref().and_then(HeldOffer::decode).map(|o| o.booking_id)));
        }
        Ok(out)
    }

    /// For each runner, whether its presence key exists: one pipelined round trip.
    pub async fn present(&self, runner_ids: &[Uuid]) -> Result<Vec<bool>, RedisError> {
        let mut pipe = ::redis::pipe();
        for id in runner_ids {
            pipe.exists(presence_key(&self.prefix, *id));
        }
        let mut conn = self.connection();
        pipe.query_async(&mut conn).await
    }

    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut conn = self.connection();
        let _: String = ::redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    /// Counts one hit in a fixed window and returns the count so far. The
    /// window is part of the key, so the counter resets at the window's
    /// end whatever the traffic (blocked calls never extend it). One script
    /// on one key: atomic, and on a cluster it follows the key's slot.
    pub async fn count_hit(&self, key: &str, window_secs: u64) -> Result<u64, RedisError> {
        static COUNT: LazyLock<::redis::Script> = LazyLock::new(|| {
            ::redis::Script::new(
                "local n = redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], ARGV[1]) return n",
            )
        });
        let mut conn = self.connection();
        COUNT.key(key).arg(window_secs + 1).invoke_async(&mut conn).await
    }
}

/// Where the outbox relay publishes: a booking event goes to the booking's
/// channel and to its owner's and runner's user channels; a user event (a
/// notification) to that user's channel. One pipeline per batch.
#[derive(Clone)]
pub struct RedisSink {
    conn: Connection,
    prefix: String,
}

impl RedisSink {
    pub fn new(conn: Connection, prefix: String) -> Self {
        Self { conn, prefix }
    }
}

impl EventSink for RedisSink {
    async fn publish(&self, batch: &[OutboxEvent]) -> Result<(), DbError> {
        let mut pipe = ::redis::pipe();
        let publish = self.conn.publish_command();
        for event in batch {
            let payload = serde_json::to_string(&BusPayload::Event { seq: event.seq, event: event.payload.clone() })
                .map_err(DbError::corrupt)?;
            if event.aggregate_type == "user" {
                pipe.cmd(publish).arg(user_channel(&self.prefix, event.aggregate_id)).arg(&payload).ignore();
                continue;
            }
            pipe.cmd(publish).arg(booking_channel(&self.prefix, event.aggregate_id)).arg(&payload).ignore();
            let data = &event.payload["data"];
            for key in ["owner_id", "runner_id"] {
                if let Some(user) = data[key].as_str().and_then(|s| Uuid::parse_str(s).ok()) {
                    pipe.cmd(publish).arg(user_channel(&self.prefix, user)).arg(&payload).ignore();
                }
            }
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }
}

/// One write of the node's bus, batched with others in one pipeline.
pub enum BusWrite {
    /// PUBLISH (SPUBLISH on a cluster); its reply (how many subscribers
    /// got it) is returned.
    Publish {
        channel: String,
        payload: String,
    },
    /// A key that lives `ttl_ms` (presence).
    Touch {
        key: String,
        ttl_ms: u64,
    },
    /// A member of a sorted set of live sockets, lapsing at `until_ms`
    /// (older members are dropped, the set expires with its last member).
    SocketLive {
        key: String,
        member: String,
        until_ms: u64,
        now_ms: u64,
    },
    SocketGone {
        key: String,
        member: String,
    },
}

/// Sends `writes` in one pipeline; for each write, in order, the receiver
/// count if it was a PUBLISH.
pub async fn write_batch(conn: &mut Connection, writes: Vec<BusWrite>) -> Result<Vec<Option<i64>>, RedisError> {
    let mut pipe = ::redis::pipe();
    let publish = conn.publish_command();
    // per write: the index of its first command's reply, and whether it is a PUBLISH
    let mut firsts: Vec<(usize, bool)> = Vec::with_capacity(writes.len());
    let mut commands = 0;
    for write in writes {
        let (count, publish) = match write {
            BusWrite::Publish { channel, payload } => {
                pipe.cmd(publish).arg(channel).arg(payload);
                (1, true)
            }
            BusWrite::Touch { key, ttl_ms } => {
                pipe.pset_ex(key, 1, ttl_ms);
                (1, false)
            }
            BusWrite::SocketLive { key, member, until_ms, now_ms } => {
                pipe.zadd(&key, member, until_ms);
                pipe.zrembyscore(&key, "-inf", now_ms);
                pipe.pexpire(&key, until_ms.saturating_sub(now_ms) as i64);
                (3, false)
            }
            BusWrite::SocketGone { key, member } => {
                pipe.zrem(key, member);
                (1, false)
            }
        };
        firsts.push((commands, publish));
        commands += count;
    }
    let replies: Vec<::redis::Value> = pipe.query_async(conn).await?;
    Ok(firsts
        .into_iter()
        .map(|(at, publish)| match (publish, replies.get(at)) {
            (true, Some(::redis::Value::Int(n))) => Some(*n),
            _ => None,
        })
        .collect())
}
