//! The OpenAPI document, generated from the handlers' annotations and served
//! at `/api/v1/openapi.json`.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    admin, bookings, chat, envelope, health, identity, notifications, payments, pets, petshops, runners, tracking,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Kilat Dispatch API", description = "REST contract of the Kilat apps (shared/contract/KILAT_API.md). \
        Every JSON response is the Kilat envelope unless marked raw; timestamps are RFC 3339 UTC with whole seconds."),
    paths(
        health::health, health::readiness,
        identity::register, identity::login, identity::refresh, identity::logout, identity::logout_all,
        identity::get_profile, identity::update_profile, identity::forgot_password, identity::reset_password,
        admin::list_users, admin::get_user, admin::ban_user, admin::user_stats,
        bookings::admin_list, bookings::admin_stats, admin::dispatch_stats,
        runners::create, runners::me, runners::update_me, runners::online, runners::offline, runners::location,
        runners::add_crate, runners::nearby,
        pets::create, pets::list, pets::get, pets::update, pets::archive,
        petshops::list, petshops::nearby, petshops::mine, petshops::get, petshops::create, petshops::update,
        petshops::delete,
        bookings::create, bookings::quote, bookings::list, bookings::get, bookings::accept, bookings::decline,
        bookings::pickup, bookings::deliver, bookings::confirm, bookings::cancel, bookings::rebook,
        bookings::add_photo, bookings::photos, bookings::history,
        tracking::get, tracking::route, tracking::share, tracking::shared, tracking::trip_updates,
        chat::post, chat::list,
        notifications::list, notifications::mark_read, notifications::get, notifications::preferences,
        notifications::update_preferences, notifications::fcm_token, notifications::device_token,
        payments::initiate, payments::get, payments::by_booking, payments::runner_list, payments::refund,
        payments::stripe_webhook, payments::admin_list, payments::admin_stats, payments::dead_letters,
        payments::retry_dead_letter,
    ),
    components(schemas(envelope::ErrorBody, envelope::RawError, envelope::Message, envelope::Pagination)),
    modifiers(&BearerAuth),
    tags((name = "identity"), (name = "admin"), (name = "health"), (name = "runners"), (name = "pets",
        description = "also served on /api/v1/users/me/pets"), (name = "petshops"), (name = "bookings"),
        (name = "payments", description = "escrow: a manual-capture hold, captured on the owner's confirm, voided or refunded on cancel"),
        (name = "chat"), (name = "notifications"), (name = "tracking", description = "live frames: GET /ws/tracking/{booking_id}?token=…[&events=status] and GET /ws (see ARCHITECTURE.md)")),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub async fn spec() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
