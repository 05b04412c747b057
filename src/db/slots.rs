//! A Redis Cluster's slot map as this node last read it, so that a batch of
//! commands on many keys goes out as one pipeline per master (the way one
//! Redis gets one pipeline), not as one request per command.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::redis::cluster_async::ClusterConnection;
use ::redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use ::redis::{Arg, Cmd, RedisError, Value};

/// Slots of a Redis Cluster.
pub const SLOTS: u16 = 16_384;
/// The slot map is read again at most this often while it looks stale.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_millis(100);

/// CRC16/XMODEM, the checksum Redis Cluster hashes keys with.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// The slot of `key`: of its hash tag (the text between the first `{` and
/// the next `}`, when not empty) if it has one.
pub fn key_slot(key: &[u8]) -> u16 {
    let tag = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        rest.iter().position(|&b| b == b'}').filter(|&close| close > 0).map(|close| &rest[..close])
    });
    crc16(tag.unwrap_or(key)) % SLOTS
}

/// The key of a command whose first argument is its key (every command
/// this service batches: PUBLISH, SPUBLISH, PSETEX, ZADD, ZCOUNT, …).
fn first_key(cmd: &Cmd) -> Option<&[u8]> {
    match cmd.args_iter().nth(1)? {
        Arg::Simple(key) => Some(key),
        _ => None,
    }
}

/// Which master owns each slot.
struct SlotOwners {
    /// (host, port) of each master
    masters: Vec<(String, u16)>,
    /// index into `masters`, per slot (`u16::MAX`: no owner)
    owner: Vec<u16>,
}

impl SlotOwners {
    /// From a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, …], replicas…], …]`.
    fn parse(reply: &Value) -> Option<Self> {
        let Value::Array(ranges) = reply else { return None };
        let mut masters: Vec<(String, u16)> = Vec::new();
        let mut owner = vec![u16::MAX; usize::from(SLOTS)];
        for range in ranges {
            let Value::Array(fields) = range else { return None };
            let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(master))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                return None;
            };
            let host = match master.first()? {
                Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok()?,
                Value::SimpleString(s) => s.clone(),
                _ => return None,
            };
            let Some(Value::Int(port)) = master.get(1) else { return None };
            let address = (host, u16::try_from(*port).ok()?);
            let index = match masters.iter().position(|m| *m == address) {
                Some(i) => i,
                None => {
                    masters.push(address);
                    masters.len() - 1
                }
            };
            let (start, end) = (usize::try_from(*start).ok()?, usize::try_from(*end).ok()?);
            for slot in owner.get_mut(start..=end)? {
                *slot = u16::try_from(index).ok()?;
            }
        }
        Some(Self { masters, owner })
    }
}

/// The slot map, shared by a node's clones of its cluster connection.
#[derive(Default)]
pub struct SlotMap {
    state: Mutex<(Option<Arc<SlotOwners>>, Option<Instant>)>,
}

impl SlotMap {
    /// The map, read first (or again, when it went stale) if need be;
    /// `None` when it cannot be read now.
    async fn current(&self, conn: &ClusterConnection) -> Option<Arc<SlotOwners>> {
        {
            let state = self.state.lock().ok()?;
            match &*state {
                (Some(owners), _) => return Some(owners.clone()),
                (None, Some(at)) if at.elapsed() < REFRESH_AT_MOST_EVERY => return None,
                _ => {}
            }
        }
        let mut cmd = ::redis::cmd("CLUSTER");
        cmd.arg("SLOTS");
        let read = conn.clone().route_command(cmd, RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random)).await;
        let owners = read.ok().as_ref().and_then(SlotOwners::parse).map(Arc::new);
        if let Ok(mut state) = self.state.lock() {
            *state = (owners.clone(), Some(Instant::now()));
        }
        owners
    }

    /// A reply said the map is out of date (a slot moved, a master died).
    fn forget(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.0 = None;
        }
    }
}

/// Sends `cmds` (no transaction): one pipeline per master that owns their
/// keys' slots, all at once. Whatever that could not place or that came
/// back redirected (a slot moved meanwhile) goes again one by one through
/// the cluster client, which follows `MOVED`. Replies in order.
pub async fn send(conn: &ClusterConnection, map: &SlotMap, cmds: &[&Cmd]) -> Result<Vec<Value>, RedisError> {
    let mut replies: Vec<Option<Value>> = vec![None; cmds.len()];
    if let Some(owners) = map.current(conn).await {
        let mut by_master: HashMap<u16, Vec<usize>> = HashMap::new();
        for (i, cmd) in cmds.iter().enumerate() {
            let master = first_key(cmd).map(|key| owners.owner[usize::from(key_slot(key))]);
            if let Some(master) = master.filter(|m| *m != u16::MAX) {
                by_master.entry(master).or_default().push(i);
            }
        }
        let sends = by_master.into_iter().map(|(master, indices)| {
            let mut pipeline = ::redis::pipe();
            for &i in &indices {
                pipeline.add_command(cmds[i].clone());
            }
            let (host, port) = owners.masters[usize::from(master)].clone();
            let mut conn = conn.clone();
            let count = indices.len();
            async move {
                let route = SingleNodeRoutingInfo::ByAddress { host, port };
                (indices, conn.route_pipeline(pipeline, 0, count, route).await)
            }
        });
        let mut stale = false;
        for (indices, result) in futures_util::future::join_all(sends).await {
            match result {
                Ok(values) if values.len() == indices.len() => {
                    for (i, value) in indices.into_iter().zip(values) {
                        if matches!(value, Value::ServerError(_)) {
                            stale = true; // sent again below, where MOVED is followed
                        } else {
                            replies[i] = Some(value);
                        }
                    }
                }
                _ => stale = true,
            }
        }
        if stale {
            map.forget();
        }
    }
    let rest = replies.iter().enumerate().filter(|(_, r)| r.is_none()).map(|(i, _)| {
        let mut conn = conn.clone();
        let cmd = cmds[i];
        async move { (i, ::redis::aio::ConnectionLike::req_packed_command(&mut conn, cmd).await) }
    });
    for (i, result) in futures_util::future::join_all(rest).await {
        replies[i] = Some(result?);
    }
    Ok(replies.into_iter().map(|r| r.unwrap_or(Value::Nil)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_to_the_slots_redis_gives_them() {
        // (CLUSTER KEYSLOT on a Redis 7 node)
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"), "an empty tag is no tag");
    }

    #[test]
    fn a_cluster_slots_reply_maps_every_slot_to_its_master() {
        let node = |port: i64| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![Value::Int(0), Value::Int(5460), node(7101), node(7104)]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node(7102)]),
        ]);
        let owners = SlotOwners::parse(&reply).unwrap();
        assert_eq!(owners.masters, [("127.0.0.1".to_owned(), 7101), ("127.0.0.1".to_owned(), 7102)]);
        assert_eq!((owners.owner[0], owners.owner[5460], owners.owner[5461], owners.owner[16383]), (0, 0, 1, 1));
        assert!(SlotOwners::parse(&Value::Int(1)).is_none());
    }
}
