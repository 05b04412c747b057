//! What travels on the Redis channels between nodes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A location on `booking:<id>` travels as this byte and then the rendered
/// frame (docs/PROTOCOL.md), so the watching node forwards the text as it is:
/// no JSON is parsed or rebuilt per ping on the way to the sockets.
pub const LOCATION_TAG: char = 'L';

/// `booking:<id>` carries locations (see [`LOCATION_TAG`]) and the
/// booking's events; `user:<id>` carries the user's events and presence
/// refreshes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BusPayload {
    /// A committed outbox event with its per-booking sequence number.
    Event { seq: i64, event: Value },
    /// Something about the user changed (online/offline): reload.
    Refresh,
    /// A job offer for the runner whose channel this is (rendered frame).
    Offer { frame: Value },
    /// The runner's open offer for a booking ended: `expired` or `withdrawn`.
    OfferClosed { booking_id: uuid::Uuid, reason: String },
    /// A runner answered an offer (on `dispatch:<booking>`).
    Answer { runner_id: uuid::Uuid, accept: bool },
    /// Sessions of the user whose channel this is were ended (logout: that
    /// one; ban, password reset, sign out everywhere: `None` = all): their
    /// sockets close on every node.
    SessionEnded { session_id: Option<uuid::Uuid> },
    /// Local only: the bus lost Redis and has just resubscribed; whatever
    /// was published meanwhile was missed, so catch up from Postgres.
    Resubscribed,
}

pub fn booking_channel(prefix: &str, booking_id: uuid::Uuid) -> String {
    format!("{prefix}booking:{booking_id}")
}

pub fn user_channel(prefix: &str, user_id: uuid::Uuid) -> String {
    format!("{prefix}user:{user_id}")
}

/// Answers to a booking's offers, heard by whichever node dispatches it.
pub fn dispatch_channel(prefix: &str, booking_id: uuid::Uuid) -> String {
    format!("{prefix}dispatch:{booking_id}")
}
