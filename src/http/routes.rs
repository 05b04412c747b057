//! The one route list. Each entry names a handler; its method(s) and path
//! come from the handler's `#[utoipa::path]`, and the same list builds the
//! router ([`configure`]) and the OpenAPI document ([`ListedPaths`]), so a
//! route cannot be served without being documented. Order matters: literal
//! segments (`/nearby`, `/me`, `/mine`, `/quote`, `/preferences`) come
//! before `{id}` so they win.

use actix_web::{FromRequest, Handler, HttpResponse, Responder, web};
use utoipa::openapi::path::HttpMethod;
use utoipa::{Modify, OpenApi};

use super::tracking;
use super::ws::upgrade;
use super::{
    admin, applications, bookings, chat, console, health, identity, money, notifications, openapi, payments, payouts,
    pets, petshops, reviews, runners,
};
use crate::http::routes;

/// Serves `handler` at the path and methods its `#[utoipa::path]` declares
/// (`at` overrides the path for a second home of the same operation).
fn serve<P, F, Args>(cfg: &mut web::ServiceConfig, at: Option<&str>, handler: F)
where
    P: utoipa::Path,
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let path = at.map(str::to_owned).unwrap_or_else(P::path);
    for method in P::methods() {
        let route = match method {
            HttpMethod::Get => web::get(),
            HttpMethod::Post => web::post(),
            HttpMethod::Put => web::put(),
            HttpMethod::Delete => web::delete(),
            HttpMethod::Patch => web::patch(),
            HttpMethod::Head => web::head(),
            HttpMethod::Options => web::route().method(actix_web::http::Method::OPTIONS),
            HttpMethod::Trace => web::route().method(actix_web::http::Method::TRACE),
        };
        cfg.route(&path, route.to(handler.clone()));
    }
}

macro_rules! route_list {
    (
        routes: [$($module:ident :: $handler:ident),* $(,)?],
        also_at: [$($amodule:ident :: $ahandler:ident at $alias:literal),* $(,)?] $(,)?
    ) => {
        paste::paste! {
            /// Registers every route, in list order, then the second homes.
            pub fn configure(cfg: &mut web::ServiceConfig) {
                $( serve::<$module::[<__path_ $handler>], _, _>(cfg, None, $module::$handler); )*
                $( serve::<$amodule::[<__path_ $ahandler>], _, _>(cfg, Some($alias), $amodule::$ahandler); )*
            }

            /// The listed operations, documented (schemas collected by utoipa).
            #[derive(utoipa::OpenApi)]
            #[openapi(paths($($module::$handler),*))]
            pub struct ListedPaths;

            /// (documented path, second path) of operations served twice.
            pub fn aliases() -> Vec<(String, &'static str)> {
                vec![$( (<$amodule::[<__path_ $ahandler>] as utoipa::Path>::path(), $alias) ),*]
            }
        }
    };
}

route_list! {
    routes: [
    health::landing,
    health::health,
    health::readiness,
    health::metrics,
    health::docs,
    console::page,
    console::script,
    console::styles,
    upgrade::app_socket,
    upgrade::tracking_feed,
    routes::spec,
    identity::register,
    identity::login,
    identity::refresh,
    identity::logout,
    identity::logout_all,
    identity::get_profile,
    identity::update_profile,
    identity::forgot_password,
    identity::reset_password,
    admin::list_users,
    admin::get_user,
    admin::ban_user,
    admin::user_stats,
    bookings::admin_list,
    bookings::redispatch,
    bookings::admin_stats,
    payments::admin_list,
    payments::dead_letters,
    payments::retry_dead_letter,
    payments::admin_stats,
    payouts::ledger_check,
    payouts::dead_letters,
    payouts::retry_dead_letter,
    admin::dispatch_stats,
    applications::list,
    applications::approve,
    applications::reject,
    applications::apply,
    runners::create,
    runners::nearby,
    runners::me,
    runners::update_me,
    runners::online,
    runners::offline,
    runners::location,
    runners::add_crate,
    reviews::for_runner,
    petshops::list,
    petshops::create,
    petshops::nearby,
    petshops::mine,
    petshops::get,
    petshops::update,
    petshops::delete,
    pets::create,
    pets::list,
    pets::get,
    pets::update,
    pets::archive,
    bookings::create,
    bookings::list,
    bookings::quote,
    bookings::get,
    bookings::accept,
    bookings::decline,
    bookings::pickup,
    bookings::deliver,
    bookings::confirm,
    bookings::cancel,
    bookings::rebook,
    bookings::add_photo,
    bookings::photos,
    bookings::history,
    reviews::create,
    tracking::trip_updates,
    payments::runner_list,
    payments::initiate,
    payments::stripe_webhook,
    payments::by_booking,
    payments::get,
    payments::refund,
    money::create_promo,
    money::validate_promo,
    money::active_promos,
    money::admin_promos,
    money::plans,
    money::subscribe,
    money::my_subscription,
    money::cancel_subscription,
    money::my_referrals,
    money::referral_code,
    payouts::balance,
    payouts::add_destination,
    payouts::destinations,
    payouts::cash_out,
    payouts::cash_outs,
    chat::post,
    chat::list,
    notifications::list,
    notifications::preferences,
    notifications::update_preferences,
    notifications::fcm_token,
    notifications::device_token,
    notifications::get,
    notifications::mark_read,
    tracking::shared,
    tracking::get,
    tracking::route,
    tracking::share,
    reviews::reply,
    ],
    // the same pet operations on the profile path the iOS app uses
    also_at: [
        pets::create at "/api/v1/users/me/pets",
        pets::list at "/api/v1/users/me/pets",
        pets::get at "/api/v1/users/me/pets/{id}",
        pets::update at "/api/v1/users/me/pets/{id}",
        pets::archive at "/api/v1/users/me/pets/{id}",
    ],
}

/// The document: the info and shared schemas above, every operation of the
/// route list (an operation served on two paths documented on both), then
/// what every operation says as served.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = openapi::ApiDoc::openapi().merge_from(ListedPaths::openapi());
    for (path, alias) in aliases() {
        if let Some(item) = doc.paths.paths.get(&path).cloned() {
            doc.paths.paths.insert(alias.to_owned(), item);
        }
    }
    openapi::BearerAuth.modify(&mut doc);
    openapi::AsServed.modify(&mut doc);
    doc
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health",
    responses((status = 200, description = "this document (OpenAPI 3.1)")))]
pub async fn spec() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
