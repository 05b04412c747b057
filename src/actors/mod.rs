//! Live, node-local state and its sockets (BRIEF §2): `RunnerActor`,
//! `BookingActor`, the `Dispatcher`, the Redis bus and the location writer.
//! Every message type will live in `messages.rs`; `ws/` is the only place
//! that imports actix-web-actors.
//!
//! Planned in the real-time issue; nothing here yet. The HTTP platform
//! already accepts `?token=` on WebSocket upgrades (see `http::extract`).
