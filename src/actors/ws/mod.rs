//! WebSocket sessions: the only place that imports actix-web-actors (so the
//! transport can be swapped for actix-ws without touching anything else).

pub mod session;

use actix::prelude::*;

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

/// 1001: the node is shutting down; the client reconnects (to another node).
pub fn going_away() -> ws::CloseReason {
    ws::CloseReason { code: ws::CloseCode::Away, description: Some("server shutting down; reconnect".into()) }
}
pub mod standing;
pub mod tracking;

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
