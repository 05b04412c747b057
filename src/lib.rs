//! Kilat Dispatch: the real-time dispatch server behind Kilat.
//!
//! `domain` decides, `db` persists, `actors` hold live state and sockets,
//! `http` translates. See ARCHITECTURE.md.

pub mod actors;
pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod mailer;
pub mod payments;
pub mod push;
pub mod services;
pub mod telemetry;
