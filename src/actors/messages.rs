//! Every message the actors exchange, in one place.

use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::geo::Coordinates;

// ---- bus -------------------------------------------------------------------

/// A message that arrived on a Redis channel this subscriber asked for.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct BusMessage {
    pub channel: Arc<str>,
    pub payload: Arc<str>,
}

/// Adds interest in a channel; the bus SUBSCRIBEs on the first one.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub channel: String,
    pub subscriber_id: u64,
    pub recipient: Recipient<BusMessage>,
}

/// Drops interest; the bus UNSUBSCRIBEs when the last one goes.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub channel: String,
    pub subscriber_id: u64,
}

/// Publishes on a channel (fire and forget; pipelined by the multiplexed
/// connection).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish {
    pub channel: String,
    pub payload: String,
}

/// Sets a key that expires (presence), through the same pipelined connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Touch {
    pub key: String,
    pub ttl_ms: u64,
}

/// A runner's live `/ws` socket (one member of the runner's sorted set,
/// scored by when it lapses unless refreshed): `until_ms: None` removes it.
/// The dispatcher offers jobs only to runners with a live member.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SocketPresence {
    pub key: String,
    pub member: String,
    pub until_ms: Option<u64>,
}

/// How many channels the bus holds a Redis subscription for (tests, metrics).
#[derive(Message)]
#[rtype(result = "BusStats")]
pub struct GetBusStats;

#[derive(Debug, Clone, Copy, PartialEq, Eq, MessageResponse)]
pub struct BusStats {
    pub channels: usize,
    pub subscribers: usize,
    pub connected: bool,
    /// Messages handed to this node's subscribers without a Redis round trip.
    pub delivered_local: u64,
    /// Locations not sent to Redis because no other node was listening.
    pub skipped_remote: u64,
    /// Other nodes announcing they listen on a channel this node holds.
    pub hellos_heard: u64,
}

// ---- sockets -----------------------------------------------------------------

/// What a frame is, so a socket can drop or coalesce what it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Location,
    Status,
    /// Not a frame: the socket fell too far behind and must close.
    Evict,
}

/// A frame for one socket (already rendered JSON text).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct Outbound {
    pub booking_id: Uuid,
    pub kind: FrameKind,
    pub seq: Option<i64>,
    pub text: Arc<str>,
}

/// A socket starts watching a booking.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch {
    pub booking_id: Uuid,
    pub session_id: u64,
    pub recipient: Recipient<Outbound>,
}

/// A socket stops watching a booking (or closes).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unwatch {
    pub booking_id: Uuid,
    pub session_id: u64,
}

/// A socket closed: forget it everywhere.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionClosed {
    pub session_id: u64,
}

#[derive(Message)]
#[rtype(result = "RegistryStats")]
pub struct GetRegistryStats;

#[derive(Debug, Clone, Copy, PartialEq, Eq, MessageResponse)]
pub struct RegistryStats {
    pub booking_actors: usize,
    pub runner_actors: usize,
    pub watchers: usize,
}

// ---- booking actor -------------------------------------------------------------

#[derive(Message)]
#[rtype(result = "()")]
pub struct AddWatcher {
    pub session_id: u64,
    pub recipient: Recipient<Outbound>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveWatcher {
    pub session_id: u64,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct StopActor;

/// What a booking actor holds back for slow sockets (tests, metrics).
#[derive(Message)]
#[rtype(result = "Backlog")]
pub struct GetBacklog;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, MessageResponse)]
pub struct Backlog {
    pub watchers: usize,
    pub waiting_status: usize,
    pub waiting_location: usize,
    /// Location frames replaced by newer ones before a slow socket took them.
    pub coalesced: u64,
}

/// Asks the registry for a booking actor's backlog (`None`: not watched here).
#[derive(Message)]
#[rtype(result = "Option<Backlog>")]
pub struct GetBookingBacklog {
    pub booking_id: Uuid,
}

// ---- runners -------------------------------------------------------------------

/// One position from a runner (WS frame or REST), already range-checked.
#[derive(Debug, Clone, Copy)]
pub struct Ping {
    pub at: Coordinates,
    pub speed_kmh: f64,
    pub heading_degrees: f64,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingRejected {
    #[error("runner must be online to update location")]
    NotOnline,
    #[error("account is banned")]
    Banned,
    #[error("runner not found")]
    NoProfile,
    #[error("{0}")]
    Invalid(String),
    #[error("location service unavailable")]
    Unavailable,
}

/// Routed by the registry to the runner's actor on this node.
#[derive(Message)]
#[rtype(result = "Result<(), PingRejected>")]
pub struct RunnerPing {
    pub runner_id: Uuid,
    pub ping: Ping,
}

#[derive(Message)]
#[rtype(result = "Result<(), PingRejected>")]
pub struct ApplyPing(pub Ping);

/// A ping from the runner's own socket: fire and forget, so a socket never
/// holds a future per ping; a refusal comes back as [`PingRefused`].
#[derive(Message)]
#[rtype(result = "()")]
pub struct StreamPing {
    pub ping: Ping,
    pub reply: Recipient<PingRefused>,
}

/// Why a streamed ping was not applied (rendered as an `error` frame).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PingRefused(pub PingRejected);

/// The runner's actor on this node, started if needed: a runner's socket
/// keeps where its pings go and sends them directly (one hop, not two).
#[derive(Message)]
#[rtype(result = "Recipient<StreamPing>")]
pub struct RunnerAddr {
    pub runner_id: Uuid,
}

/// The runner's presence changed through this node: reload before the
/// next ping (read-your-writes for `online`/`offline`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RefreshRunner {
    pub runner_id: Uuid,
}

/// Reload the live state (sent by the registry).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reload;

/// A runner actor went idle and stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RunnerIdle {
    pub runner_id: Uuid,
}

// ---- location writer -------------------------------------------------------------

#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct RecordPosition {
    pub runner_id: Uuid,
    pub at: Coordinates,
    pub recorded_at: DateTime<Utc>,
    /// The trip the position belongs to, if any: it becomes a waypoint.
    pub track_id: Option<Uuid>,
    pub speed_kmh: f64,
    pub heading_degrees: f64,
}

/// Writes everything buffered now (tests and shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush;

// ---- relay -----------------------------------------------------------------------

/// Something was committed to the outbox: publish without waiting for the tick.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Kick;

// ---- dispatcher ----------------------------------------------------------------

/// Dispatch this booking now (just created, or declined on this node).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DispatchBooking {
    pub booking_id: Uuid,
    /// The booking as just committed, when the sender has it (saves a read).
    pub booking: Option<std::sync::Arc<crate::db::bookings::Booking>>,
    /// The creating transaction already took this node's lease (and wrote
    /// `booking.searching`).
    pub claimed: bool,
}

#[derive(Message)]
#[rtype(result = "DispatchStats")]
pub struct GetDispatchStats;

/// Counters and latency percentiles of this node's dispatcher.
#[derive(Debug, Clone, Default, MessageResponse, serde::Serialize)]
pub struct DispatchStats {
    pub active_rounds: usize,
    pub offers_sent: u64,
    pub offers_declined: u64,
    pub offers_expired: u64,
    pub offers_withdrawn: u64,
    pub matched: u64,
    pub passes_without_runner: u64,
    /// booking created → first offer sent, milliseconds
    pub first_offer_ms_p50: f64,
    pub first_offer_ms_p99: f64,
    /// booking created → runner matched through an offer, milliseconds
    pub assignment_ms_p50: f64,
    pub assignment_ms_p99: f64,
}
