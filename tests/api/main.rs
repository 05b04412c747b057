//! One integration binary (STYLE §11): every test talks to a real `kilat`
//! over HTTP, a real PostGIS database of its own and a real Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod applications;
mod authz;
mod bookings;
mod cli;
mod client;
mod dispatch;
mod events;
mod fixtures;
mod health;
mod helpers;
mod identity;
mod inbox;
mod metrics;
mod money;
mod ops;
mod payments;
mod payouts;
mod pets;
mod petshops;
mod platform;
mod rate_limit;
mod realtime;
mod redis_cluster;
mod reviews;
mod runners;
mod schedule;
mod sessions;
mod shutdown;
mod sockets;
mod stripe_mock;
mod trips;
