//! Admin identity routes (docs/API.md#admin). Admin role only.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Message, Paginated, Pagination, RawError};
use super::extract::{AuthUser, PageQuery, parse_id, tally};
use super::identity::UserDto;
use crate::actors::messages::GetDispatchStats;
use crate::db::users;
use crate::domain::identity::Role;
use crate::error::AppError;

#[derive(Debug, serde::Deserialize)]
pub struct UserQuery {
    pub page: Option<i64>,
    pub limit: Option<i64>,
    /// part of an email or name
    pub q: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])),
    params(("page" = Option<i64>, Query, description = "default 1"), ("limit" = Option<i64>, Query, description = "1..100, default 20"),
           ("q" = Option<String>, Query, description = "ours: only users whose email or name contains it (case-insensitive)")),
    responses((status = 200, description = "newest first", body = Paginated<UserDto>),
              (status = 401, body = RawError), (status = 403, body = RawError)))]
pub async fn list_users(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let (page, limit) = PageQuery { page: query.page, limit: query.limit }.admin();
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty() && q.len() <= 100);
    let mut conn = state.pool.get().await?;
    let (rows, total) = users::list(&mut conn, search, page, limit).await?;
    let data = rows.into_iter().map(UserDto::from).collect();
    Ok(envelope::paginated(data, Pagination::new(total, page, limit)))
}

#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Envelope<UserDto>), (status = 400, description = "invalid user ID", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let id = parse_id(&id, "user")?;
    let mut conn = state.pool.get().await?;
    let found = users::find(&mut conn, id).await?.ok_or_else(|| AppError::not_found("user", id))?;
    Ok(envelope::ok(UserDto::from(found)))
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/ban", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "banned: login refused, tokens dead, open sockets closed on every node, no more offers", body = Envelope<Message>),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn ban_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let id = parse_id(&id, "user")?;
    crate::services::identity::ban(&state.services, user.id, id).await?;
    Ok(envelope::message("user banned successfully"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserStats {
    pub total_users: i64,
    /// always has owner, runner, admin and shop
    pub by_role: BTreeMap<String, i64>,
}

#[utoipa::path(get, path = "/api/v1/admin/stats/users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Envelope<UserStats>), (status = 403, body = RawError)))]
pub async fn user_stats(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let counts = users::count_by_role(&mut conn).await?;
    let (total_users, by_role) = tally(Role::ALL, counts);
    Ok(envelope::ok(UserStats { total_users, by_role }))
}

#[utoipa::path(get, path = "/api/v1/admin/dispatch/stats", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "this node's dispatcher: offers, matches, time to first offer and to assignment (ms)"),
              (status = 403, body = RawError)))]
pub async fn dispatch_stats(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let stats = state
        .services
        .live
        .dispatcher
        .send(GetDispatchStats)
        .await
        .map_err(|_| AppError::Unavailable("dispatcher unavailable".into()))?;
    Ok(envelope::ok(stats))
}
