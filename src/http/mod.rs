//! HTTP: thin handlers that extract, call `db::` (later actors), and map
//! the answer into the Kilat envelope.

pub mod admin;
pub mod bookings;
pub mod chat;
pub mod envelope;
pub mod extract;
pub mod health;
pub mod identity;
pub mod middleware;
pub mod notifications;
pub mod openapi;
pub mod payments;
pub mod pets;
pub mod petshops;
pub mod runners;
pub mod tracking;
pub mod ws;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{HashPool, Passwords, TokenKeys};
use crate::config::Settings;
use crate::db::PgPool;
use crate::db::redis::RedisHandle;
use crate::error::envelope_error;
use crate::mailer::Mailer;
use crate::services::Services;

/// Shared by every worker of a node.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    pub redis: RedisHandle,
    pub keys: TokenKeys,
    pub passwords: Passwords,
    /// The bounded password-hashing threads (argon2 memory stays flat).
    pub hashing: HashPool,
    /// Where the node is in its life: draining → readiness 503; sockets
    /// leave when it reaches `SocketsLeave`.
    pub draining: tokio::sync::watch::Receiver<NodePhase>,
    /// Open sockets per user on this node (the per-user cap).
    pub sockets: crate::http::ws::SocketCounts,
    pub mailer: Arc<dyn Mailer>,
    /// The use cases (and through them the node's actors).
    pub services: Arc<Services>,
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

/// Every route of the service. Literal segments (`/nearby`, `/me`,
/// `/mine`, `/quote`) are registered before `{id}` so they win.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health));
    cfg.route("/readiness", web::get().to(health::readiness));
    cfg.route("/ws", web::get().to(ws::app_socket));
    cfg.route("/ws/tracking/{booking_id}", web::get().to(ws::tracking_feed));
    cfg.service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi::spec))
            .service(
                web::scope("/auth")
                    .route("/register", web::post().to(identity::register))
                    .route("/login", web::post().to(identity::login))
                    .route("/refresh", web::post().to(identity::refresh))
                    .route("/logout", web::post().to(identity::logout))
                    .route("/logout-all", web::post().to(identity::logout_all))
                    .route("/profile", web::get().to(identity::get_profile))
                    .route("/profile", web::put().to(identity::update_profile))
                    .route("/forgot-password", web::post().to(identity::forgot_password))
                    .route("/reset-password", web::post().to(identity::reset_password)),
            )
            .service(
                web::scope("/admin")
                    .route("/users", web::get().to(admin::list_users))
                    .route("/users/{id}", web::get().to(admin::get_user))
                    .route("/users/{id}/ban", web::post().to(admin::ban_user))
                    .route("/stats/users", web::get().to(admin::user_stats))
                    .route("/bookings", web::get().to(bookings::admin_list))
                    .route("/stats/bookings", web::get().to(bookings::admin_stats))
                    .route("/payments", web::get().to(payments::admin_list))
                    .route("/payments/dead-letters", web::get().to(payments::dead_letters))
                    .route("/payments/dead-letters/{id}/retry", web::post().to(payments::retry_dead_letter))
                    .route("/stats/payments", web::get().to(payments::admin_stats))
                    .route("/dispatch/stats", web::get().to(admin::dispatch_stats)),
            )
            .service(
                web::scope("/runners")
                    .route("", web::post().to(runners::create))
                    .route("/nearby", web::get().to(runners::nearby))
                    .route("/me", web::get().to(runners::me))
                    .route("/me", web::put().to(runners::update_me))
                    .route("/me/online", web::post().to(runners::online))
                    .route("/me/offline", web::post().to(runners::offline))
                    .route("/me/location", web::post().to(runners::location))
                    .route("/me/crates", web::post().to(runners::add_crate)),
            )
            .service(
                web::scope("/petshops")
                    .route("", web::get().to(petshops::list))
                    .route("", web::post().to(petshops::create))
                    .route("/nearby", web::get().to(petshops::nearby))
                    .route("/mine", web::get().to(petshops::mine))
                    .route("/{id}", web::get().to(petshops::get))
                    .route("/{id}", web::put().to(petshops::update))
                    .route("/{id}", web::delete().to(petshops::delete)),
            )
            .service(pet_routes("/pets"))
            .service(pet_routes("/users/me/pets"))
            .service(
                web::scope("/bookings")
                    .route("", web::post().to(bookings::create))
                    .route("", web::get().to(bookings::list))
                    .route("/quote", web::post().to(bookings::quote))
                    .route("/{id}", web::get().to(bookings::get))
                    .route("/{id}/accept", web::post().to(bookings::accept))
                    .route("/{id}/decline", web::post().to(bookings::decline))
                    .route("/{id}/pickup", web::post().to(bookings::pickup))
                    .route("/{id}/deliver", web::post().to(bookings::deliver))
                    .route("/{id}/confirm", web::post().to(bookings::confirm))
                    .route("/{id}/cancel", web::post().to(bookings::cancel))
                    .route("/{id}/rebook", web::post().to(bookings::rebook))
                    .route("/{id}/photo", web::post().to(bookings::add_photo))
                    .route("/{id}/photos", web::get().to(bookings::photos))
                    .route("/{id}/history", web::get().to(bookings::history))
                    .route("/{id}/tracking", web::get().to(tracking::trip_updates)),
            )
            .service(
                web::scope("/payments")
                    .route("", web::get().to(payments::runner_list))
                    .route("/initiate", web::post().to(payments::initiate))
                    .route("/webhook", web::post().to(payments::stripe_webhook))
                    .route("/booking/{bookingId}", web::get().to(payments::by_booking))
                    .route("/{id}", web::get().to(payments::get))
                    .route("/{id}/refund", web::post().to(payments::refund)),
            )
            .service(
                web::scope("/chat")
                    .route("/{booking_id}/messages", web::post().to(chat::post))
                    .route("/{booking_id}/messages", web::get().to(chat::list)),
            )
            .service(
                web::scope("/notifications")
                    .route("", web::get().to(notifications::list))
                    .route("/preferences", web::get().to(notifications::preferences))
                    .route("/preferences", web::put().to(notifications::update_preferences))
                    .route("/fcm-token", web::post().to(notifications::fcm_token))
                    .route("/device-tokens", web::post().to(notifications::device_token))
                    .route("/{id}", web::get().to(notifications::get))
                    .route("/{id}/read", web::put().to(notifications::mark_read))
                    .route("/{id}/read", web::post().to(notifications::mark_read)),
            )
            .service(
                web::scope("/tracking")
                    .route("/shared/{token}", web::get().to(tracking::shared))
                    .route("/{booking_id}", web::get().to(tracking::get))
                    .route("/{booking_id}/route", web::get().to(tracking::route))
                    .route("/{booking_id}/share", web::post().to(tracking::share)),
            ),
    );
}

/// Pet profiles, served identically on both paths (contract §2.3).
fn pet_routes(path: &str) -> actix_web::Scope {
    web::scope(path)
        .route("", web::post().to(pets::create))
        .route("", web::get().to(pets::list))
        .route("/{id}", web::get().to(pets::get))
        .route("/{id}", web::put().to(pets::update))
        .route("/{id}", web::delete().to(pets::archive))
}

/// Unknown routes: a 404 in the envelope.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    envelope_error(StatusCode::NOT_FOUND, "not found", &format!("no route for {} {}", req.method(), req.path()))
}
