//! HTTP: thin handlers that extract, call `db::` (later actors), and map
//! the answer into the Kilat envelope.

pub mod admin;
pub mod envelope;
pub mod extract;
pub mod health;
pub mod identity;
pub mod middleware;
pub mod openapi;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{Passwords, TokenKeys};
use crate::config::Settings;
use crate::db::PgPool;
use crate::db::redis::RedisHandle;
use crate::error::envelope_error;
use crate::mailer::Mailer;

/// Shared by every worker of a node.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    pub redis: RedisHandle,
    pub keys: TokenKeys,
    pub passwords: Passwords,
    pub mailer: Arc<dyn Mailer>,
}

/// Every route of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health)).route("/readiness", web::get().to(health::readiness)).service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi::spec))
            .service(
                web::scope("/auth")
                    .route("/register", web::post().to(identity::register))
                    .route("/login", web::post().to(identity::login))
                    .route("/refresh", web::post().to(identity::refresh))
                    .route("/logout", web::post().to(identity::logout))
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
                    .route("/stats/users", web::get().to(admin::user_stats)),
            ),
    );
}

/// Unknown routes: a 404 in the envelope.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    envelope_error(StatusCode::NOT_FOUND, "not found", &format!("no route for {} {}", req.method(), req.path()))
}
