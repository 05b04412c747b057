//! Live, node-local state and its sockets (ARCHITECTURE.md). Postgres stays the
//! source of truth; these actors are views plus sockets:
//!
//! - `Bus`: the Redis bridge (one subscriber connection, ref-counted
//!   channels, reconnect + resubscribe; one multiplexed publisher);
//! - `Relay`: publishes committed outbox events, in order, at least once;
//! - `Registry`: creates/stops the per-booking and per-runner actors and
//!   tracks which socket watches what;
//! - `BookingActor`: a booking's watchers on this node;
//! - `RunnerActor`: a runner's live state and pings;
//! - `LocationWriter`: batched position and waypoint writes;
//! - `ws/`: the socket sessions (the only place that imports
//!   actix-web-actors).
//!
//! Every message type lives in `messages.rs`.

pub mod booking;
pub mod bus;
pub mod dispatcher;
pub mod location_writer;
pub mod messages;
pub mod notifier;
pub mod presence;
pub mod registry;
pub mod relay;
pub mod runner;
