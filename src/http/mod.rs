//! HTTP: thin handlers that extract, call `db::` (later actors), and map
//! the answer into the Kilat envelope.

pub mod admin;
pub mod applications;
pub mod bookings;
pub mod chat;
pub mod console;
pub mod envelope;
pub mod extract;
pub mod health;
pub mod identity;
pub mod middleware;
pub mod money;
pub mod notifications;
pub mod openapi;
pub mod payments;
pub mod payouts;
pub mod pets;
pub mod petshops;
pub mod reviews;
pub mod routes;
pub mod runners;
pub mod tracking;
pub mod ws;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::TokenKeys;
use crate::config::Settings;
use crate::db::PgPool;
use crate::db::redis::RedisHandle;
use crate::error::envelope_error;
use crate::services::Services;

/// Shared by every worker of a node.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    pub redis: RedisHandle,
    /// Verifies the bearer tokens of every request.
    pub keys: TokenKeys,
    /// Where the node is in its life: draining → readiness 503; sockets
    /// leave when it reaches `SocketsLeave`.
    pub draining: tokio::sync::watch::Receiver<NodePhase>,
    /// Open sockets per user on this node (the per-user cap).
    pub sockets: crate::http::ws::SocketCounts,
    /// "Now" for the rate limiter's windows.
    pub clock: Arc<dyn crate::domain::time::Clock>,
    /// The use cases (and through them the node's actors).
    pub services: Arc<Services>,
    /// This node's Prometheus registry (`/metrics`).
    pub metrics: crate::metrics::Metrics,
}

/// A node's life: serving; draining (readiness 503, still serving while
/// the load balancer notices); its sockets told to reconnect elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodePhase {
    Serving,
    Draining,
    SocketsLeave,
}

/// Tells every socket of this node to reconnect elsewhere: each session
/// waits on the phase (a `watch` channel) from its start.
pub fn live_sockets_go_away(signal: &tokio::sync::watch::Sender<NodePhase>) {
    tracing::info!(sockets = signal.receiver_count().saturating_sub(1), "telling sockets to reconnect elsewhere");
    signal.send_replace(NodePhase::SocketsLeave);
}

/// Unknown routes: a 404 in the envelope.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    envelope_error(StatusCode::NOT_FOUND, "not found", &format!("no route for {} {}", req.method(), req.path()))
}
