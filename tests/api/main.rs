//! One integration binary (STYLE §11): every test talks to a real `kilat`
//! over HTTP, a real PostGIS database of its own and a real Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod health;
mod helpers;
mod identity;
mod platform;
mod rate_limit;
