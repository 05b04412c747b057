//! WebSocket sessions: the only place that imports actix-web-actors (so the
//! transport can be swapped for actix-ws without touching anything else).

pub mod session;
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
