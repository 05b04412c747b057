//! WebSockets: the upgrades (`/ws`, `/ws/tracking/{id}`) and their session
//! actors. Sessions are transport only: they parse frames
//! (`domain::frames::ClientFrame`), call services, and write frames. This is
//! the only place that imports actix-web-actors (so the transport can be
//! swapped for actix-ws without touching anything else).

pub mod conn;
pub mod delivered;
pub mod inbound;
pub mod session;
pub mod standing;
pub mod tracking;
pub mod upgrade;

pub use upgrade::{app_socket, tracking_feed};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use uuid::Uuid;

use crate::http::NodePhase;

/// Runs `leave` on the socket's actor once the node tells its sockets to
/// reconnect elsewhere (a drain); nothing if the node goes away silently.
pub fn on_drain<A>(
    actor: &A,
    ctx: &mut A::Context,
    phase: &tokio::sync::watch::Receiver<NodePhase>,
    leave: fn(&mut A::Context),
) where
    A: Actor,
    A::Context: AsyncContext<A>,
{
    let mut phase = phase.clone();
    let wait = async move { phase.wait_for(|p| *p == NodePhase::SocketsLeave).await.is_ok() };
    ctx.spawn(wait.into_actor(actor).map(move |told, _, ctx| {
        if told {
            leave(ctx);
        }
    }));
}

/// Open sockets per user on this node, capped (`realtime.ws_max_sockets_per_user`).
#[derive(Clone, Default)]
pub struct SocketCounts {
    open: Arc<Mutex<HashMap<Uuid, u32>>>,
}

impl SocketCounts {
    /// A place for one more socket of `user`, or `None` at the cap.
    /// `gauge` counts the socket in the node's metrics while it is open.
    pub fn take(&self, user: Uuid, cap: u32, gauge: prometheus::IntGauge) -> Option<SocketSlot> {
        let mut open = self.open.lock().ok()?;
        let n = open.entry(user).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(SocketSlot { counts: self.clone(), user, _open: crate::metrics::Held::new(gauge) })
    }

    pub fn open_for(&self, user: Uuid) -> u32 {
        self.open.lock().map(|o| o.get(&user).copied().unwrap_or(0)).unwrap_or(0)
    }
}

/// One socket's place under its user's cap; dropping it (the session
/// actor ends, on any path) frees the place.
pub struct SocketSlot {
    counts: SocketCounts,
    user: Uuid,
    _open: crate::metrics::Held,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.counts.open.lock() {
            if let Some(n) = open.get_mut(&self.user) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.user);
                }
            }
        }
    }
}

/// 1001: the node is shutting down; the client reconnects (to another node).
pub fn going_away() -> ws::CloseReason {
    ws::CloseReason { code: ws::CloseCode::Away, description: Some("server shutting down; reconnect".into()) }
}

use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;

/// Upgrades to the tracking feed (frames over 512 bytes are refused).
pub fn start_tracking(
    session: tracking::TrackingSession,
    req: &HttpRequest,
    stream: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    ws::WsResponseBuilder::new(session, req, stream).frame_size(tracking::MAX_FRAME).start()
}

/// Upgrades to the persistent app session.
pub fn start_session(
    session: session::AppSession,
    max_frame: usize,
    req: &HttpRequest,
    stream: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    ws::WsResponseBuilder::new(session, req, stream).frame_size(max_frame).start()
}
