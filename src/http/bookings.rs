//! Bookings (docs/API.md#bookings), the quote, the audit trail, and the
//! admin booking list and stats (docs/API.md#admin).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Message, Paginated, Pagination, RawError};
use super::extract::{AuthUser, PageQuery, parse_id, tally};
use crate::db::bookings::{self, Booking, HistoryRow, Photo, Scope, StatusFilter};
use crate::domain::booking::{Actor, AddressInput, BookingStatus, parse_cancel_note, parse_decline_reason};
use crate::domain::crates::CrateRequirement;
use crate::domain::identity::Role;
use crate::domain::pet::PetSpecInput;
use crate::domain::pricing::{PriceBreakdown, platform_fee_cents};
use crate::domain::time::{self, rfc3339_opt};
use crate::error::AppError;
use crate::services::bookings::{self as service, BookingInput};

/// BookingDTO (docs/API.md#bookings): every key always present.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingDto {
    pub id: Uuid,
    pub booking_number: String,
    pub owner_id: Uuid,
    /// the runner's user id once accepted
    pub runner_id: Option<Uuid>,
    pub status: BookingStatus,
    #[schema(value_type = Object)]
    pub pet_spec: Value,
    #[schema(value_type = Object)]
    pub crate_requirement: Value,
    #[schema(value_type = Object)]
    pub pickup_address: Value,
    #[schema(value_type = Object)]
    pub dropoff_address: Value,
    #[schema(value_type = Option<Object>)]
    pub route_spec: Option<Value>,
    pub estimated_price_cents: i64,
    pub final_price_cents: Option<i64>,
    pub currency: String,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub scheduled_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub picked_up_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_note: String,
    pub notes: String,
    pub version: i32,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub updated_at: DateTime<Utc>,
}

impl From<Booking> for BookingDto {
    fn from(b: Booking) -> Self {
        Self {
            status: b.status(),
            id: b.id,
            booking_number: b.booking_number,
            owner_id: b.owner_id,
            runner_id: b.runner_id,
            pet_spec: b.pet_spec,
            crate_requirement: b.crate_requirement,
            pickup_address: b.pickup_address,
            dropoff_address: b.dropoff_address,
            route_spec: b.route_spec,
            estimated_price_cents: b.estimated_price_cents,
            final_price_cents: b.final_price_cents,
            currency: b.currency,
            scheduled_at: b.scheduled_at,
            picked_up_at: b.picked_up_at,
            delivered_at: b.delivered_at,
            cancelled_at: b.cancelled_at,
            cancel_note: b.cancel_note,
            notes: b.notes,
            version: b.version,
            created_at: b.created_at,
            updated_at: b.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateBookingRequest {
    pub pet_spec: Option<PetSpecInput>,
    pub pickup_address: Option<AddressInput>,
    pub dropoff_address: Option<AddressInput>,
    /// RFC 3339; stored only, price-neutral
    pub scheduled_at: Option<String>,
    pub notes: Option<String>,
}

impl From<CreateBookingRequest> for BookingInput {
    fn from(r: CreateBookingRequest) -> Self {
        Self {
            pet_spec: r.pet_spec,
            pickup_address: r.pickup_address,
            dropoff_address: r.dropoff_address,
            scheduled_at: r.scheduled_at,
            notes: r.notes,
        }
    }
}

fn actor(user: &AuthUser) -> Actor {
    Actor { id: user.id, role: user.role }
}

#[utoipa::path(post, path = "/api/v1/bookings", tag = "bookings", security(("bearer" = [])), request_body = CreateBookingRequest,
    responses((status = 201, description = "status requested, price computed server-side", body = Envelope<CreatedBookingDto>),
              (status = 400, description = "validation, pricing or vaccination error", body = ErrorBody),
              (status = 403, body = RawError)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<CreateBookingRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let (booking, discount) = service::create(&state.services, actor(&user), body.into_inner().into()).await?;
    let (discount_cents, discount_reason) = discount.unwrap_or_default();
    Ok(envelope::created(CreatedBookingDto { booking: BookingDto::from(booking), discount_cents, discount_reason }))
}

/// A new booking: the BookingDTO plus a subscriber's discount.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedBookingDto {
    #[serde(flatten)]
    pub booking: BookingDto,
    /// ours: taken off estimated_price_cents when the booking is paid (an
    /// active subscription); 0 without one
    pub discount_cents: i64,
    /// ours: why, e.g. "premium subscription: 15% off"; "" without one
    pub discount_reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteDto {
    pub estimated_price_cents: i64,
    pub currency: &'static str,
    pub distance_km: f64,
    pub breakdown: PriceBreakdown,
    #[schema(value_type = Object)]
    pub crate_requirement: CrateRequirement,
    pub platform_fee_cents: i64,
    pub runner_payout_cents: i64,
    /// ours: a subscriber's discount, taken off when the booking is paid
    pub discount_cents: i64,
    /// ours: why; "" without one
    pub discount_reason: String,
}

#[utoipa::path(post, path = "/api/v1/bookings/quote", tag = "bookings", security(("bearer" = [])),
    request_body = CreateBookingRequest,
    responses((status = 200, description = "the price a create would give; nothing is stored", body = Envelope<QuoteDto>),
              (status = 400, body = ErrorBody)))]
pub async fn quote(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<CreateBookingRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let priced = service::quote(&state.services, actor(&user), body.into_inner().into()).await?;
    let total = priced.breakdown.total_cents;
    let (discount_cents, discount_reason) = priced.booking.discount.clone().unwrap_or_default();
    let fee = platform_fee_cents(total, state.settings.marketplace.platform_fee_percent);
    Ok(envelope::ok(QuoteDto {
        estimated_price_cents: total,
        currency: "MYR",
        distance_km: (priced.distance_km * 10_000.0).round() / 10_000.0,
        breakdown: priced.breakdown,
        crate_requirement: priced.booking.requirement,
        platform_fee_cents: fee,
        runner_payout_cents: total - fee,
        discount_cents,
        discount_reason,
    }))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub page: Option<i64>,
    pub limit: Option<i64>,
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/bookings", tag = "bookings", security(("bearer" = [])),
    params(("page" = Option<i64>, Query), ("limit" = Option<i64>, Query, description = "default 20, > 100 → 100"),
           ("status" = Option<String>, Query, description = "active | one of the six statuses; a runner's `requested` is the open pool")),
    responses((status = 200, description = "newest first (the open pool: nearest pickup first)", body = Paginated<BookingDto>),
              (status = 400, description = "invalid status", body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let page = query.page.filter(|p| *p >= 1).unwrap_or(1);
    let limit = match query.limit {
        Some(l) if l > 100 => 100,
        Some(l) if l >= 1 => l,
        _ => 20,
    };
    let filter = match query.status.as_deref().map(str::trim) {
        None | Some("") => StatusFilter::Any,
        Some("active") => StatusFilter::Active,
        Some(raw) => {
            StatusFilter::Is(BookingStatus::parse(raw).ok_or_else(|| AppError::BadRequest("invalid status".into()))?)
        }
    };
    let mut conn = state.pool.get().await?;
    let (rows, total) = match (user.role, filter) {
        (Role::Runner, StatusFilter::Is(BookingStatus::Requested)) => {
            bookings::open_pool(&mut conn, user.id, page, limit).await?
        }
        (Role::Runner, filter) => bookings::list(&mut conn, Scope::AssignedTo(user.id), filter, page, limit).await?,
        (_, filter) => bookings::list(&mut conn, Scope::OwnedBy(user.id), filter, page, limit).await?,
    };
    let data = rows.into_iter().map(BookingDto::from).collect();
    Ok(envelope::paginated(data, Pagination::new(total, page, limit)))
}

fn booking_id(raw: &str) -> Result<Uuid, AppError> {
    parse_id(raw, "booking")
}

#[utoipa::path(get, path = "/api/v1/bookings/{id}", tag = "bookings", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Envelope<BookingDto>), (status = 400, body = ErrorBody),
              (status = 403, description = "not your booking", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, user: AuthUser, id: web::Path<String>) -> Result<HttpResponse, AppError> {
    let id = booking_id(&id)?;
    let mut conn = state.pool.get().await?;
    Ok(envelope::ok(BookingDto::from(bookings::readable(&mut conn, id, actor(&user)).await?)))
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/accept", tag = "bookings", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "accepted; runner_id is the caller's user id", body = Envelope<BookingDto>),
              (status = 409, description = "another runner won the race", body = ErrorBody),
              (status = 422, description = "illegal transition, or `runner is not eligible for this booking: <rule>` (the rule also in detail)", body = ErrorBody)))]
pub async fn accept(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let id = booking_id(&id)?;
    let booking = service::accept(&state.services, actor(&user), id).await?;
    Ok(envelope::ok(BookingDto::from(booking)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeclineRequest {
    /// too_far | cannot_transport | already_busy | pickup_issue | other
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/decline", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = DeclineRequest,
    responses((status = 200, description = "back to requested, runner_id null", body = Envelope<BookingDto>),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "cannot decline booking in state '<x>'", body = ErrorBody)))]
pub async fn decline(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<DeclineRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let id = booking_id(&id)?;
    let reason = parse_decline_reason(body.reason.as_deref())?;
    let booking = service::decline(&state.services, actor(&user), id, reason).await?;
    Ok(envelope::ok(BookingDto::from(booking)))
}

async fn runner_step(state: &AppState, user: &AuthUser, id: &str, to: BookingStatus) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let id = booking_id(id)?;
    let booking = service::runner_step(&state.services, actor(user), id, to).await?;
    Ok(envelope::ok(BookingDto::from(booking)))
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/pickup", tag = "bookings", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "in_progress, picked_up_at set", body = Envelope<BookingDto>),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn pickup(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    runner_step(&state, &user, &id, BookingStatus::InProgress).await
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/deliver", tag = "bookings", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "delivered, delivered_at set; no escrow release", body = Envelope<BookingDto>),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn deliver(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    runner_step(&state, &user, &id, BookingStatus::Delivered).await
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/confirm", tag = "bookings", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "completed, final_price_cents set; a held escrow is captured and released by the payment saga", body = Envelope<BookingDto>),
              (status = 403, description = "booking does not belong to this user", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn confirm(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let id = booking_id(&id)?;
    let booking = service::confirm(&state.services, actor(&user), id).await?;
    Ok(envelope::ok(BookingDto::from(booking)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CancelRequest {
    /// free text, at most 500 characters
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/cancel", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = CancelRequest, description = "optional; a missing or malformed body means no reason"),
    responses((status = 200, description = "cancelled; a held escrow is voided and refunded by the payment saga", body = Envelope<BookingDto>), (status = 403, body = ErrorBody),
              (status = 422, description = "from delivered, completed or cancelled", body = ErrorBody)))]
pub async fn cancel(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let id = booking_id(&id)?;
    let reason = serde_json::from_slice::<CancelRequest>(&body).ok().and_then(|b| b.reason);
    let note = parse_cancel_note(reason.as_deref())?;
    let booking = service::cancel(&state.services, actor(&user), id, &note).await?;
    Ok(envelope::ok(BookingDto::from(booking)))
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/rebook", tag = "bookings", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, description = "a new booking: same pet, addresses and notes; no scheduled_at; re-priced and re-checked", body = Envelope<BookingDto>),
              (status = 400, description = "a vaccination is no longer valid", body = ErrorBody),
              (status = 403, description = "booking does not belong to this user", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rebook(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let id = booking_id(&id)?;
    let booking = service::rebook(&state.services, actor(&user), id).await?;
    Ok(envelope::created(BookingDto::from(booking)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoDto {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub runner_id: Uuid,
    /// pickup | delivery
    pub photo_type: String,
    pub photo_url: String,
    pub caption: String,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub taken_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<Photo> for PhotoDto {
    fn from(p: Photo) -> Self {
        Self {
            id: p.id,
            booking_id: p.booking_id,
            runner_id: p.runner_id,
            photo_type: p.photo_type,
            photo_url: p.photo_url,
            caption: p.caption,
            taken_at: p.taken_at,
            created_at: p.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PhotoRequest {
    /// pickup | delivery
    pub photo_type: Option<String>,
    pub photo_url: Option<String>,
    pub caption: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/photo", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = PhotoRequest,
    responses((status = 201, body = Envelope<PhotoDto>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn add_photo(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<PhotoRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let id = booking_id(&id)?;
    let body = body.into_inner();
    let photo_type = body.photo_type.map(|t| t.trim().to_ascii_lowercase()).unwrap_or_default();
    if photo_type != "pickup" && photo_type != "delivery" {
        return Err(AppError::BadRequest("photo_type must be one of: pickup, delivery".into()));
    }
    let photo_url = body.photo_url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    let photo_url = photo_url.ok_or_else(|| AppError::BadRequest("photo_url is required".into()))?;
    let caption = body.caption.map(|c| c.trim().to_owned()).unwrap_or_default();
    if photo_url.len() > 2048 || caption.chars().count() > 500 {
        return Err(AppError::BadRequest("photo_url or caption is too long".into()));
    }
    let mut conn = state.pool.get().await?;
    let booking = bookings::find(&mut conn, id).await?.ok_or_else(|| AppError::not_found("booking", id))?;
    let photo = bookings::add_photo(&mut conn, &booking, actor(&user), &photo_type, &photo_url, &caption).await?;
    Ok(envelope::created(PhotoDto::from(photo)))
}

#[utoipa::path(get, path = "/api/v1/bookings/{id}/photos", tag = "bookings", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "taken_at ascending", body = Envelope<Vec<PhotoDto>>), (status = 403, body = ErrorBody)))]
pub async fn photos(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = booking_id(&id)?;
    let mut conn = state.pool.get().await?;
    bookings::participating(&mut conn, id, actor(&user)).await?;
    let data: Vec<PhotoDto> = bookings::photos(&mut conn, id).await?.into_iter().map(Into::into).collect();
    Ok(envelope::ok(data))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryDto {
    pub id: Uuid,
    pub booking_id: Uuid,
    /// null for the creation
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor_id: Option<Uuid>,
    pub reason: String,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<HistoryRow> for HistoryDto {
    fn from(h: HistoryRow) -> Self {
        Self {
            id: h.id,
            booking_id: h.booking_id,
            from_status: h.from_status.map(|s| s.as_str().to_owned()),
            to_status: h.to_status.as_str().to_owned(),
            actor_id: h.actor_id,
            reason: h.reason,
            created_at: h.created_at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/bookings/{id}/history", tag = "bookings", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "every transition, oldest first", body = Envelope<Vec<HistoryDto>>),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = booking_id(&id)?;
    let mut conn = state.pool.get().await?;
    bookings::participating(&mut conn, id, actor(&user)).await?;
    let data: Vec<HistoryDto> = bookings::history(&mut conn, id).await?.into_iter().map(Into::into).collect();
    Ok(envelope::ok(data))
}

#[utoipa::path(get, path = "/api/v1/admin/bookings", tag = "admin", security(("bearer" = [])),
    params(("page" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "every booking, newest first", body = Paginated<BookingDto>), (status = 403, body = RawError)))]
pub async fn admin_list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let (page, limit) = query.admin();
    let mut conn = state.pool.get().await?;
    let (rows, total) = bookings::list(&mut conn, Scope::All, StatusFilter::Any, page, limit).await?;
    Ok(envelope::paginated(rows.into_iter().map(BookingDto::from).collect(), Pagination::new(total, page, limit)))
}

#[utoipa::path(post, path = "/api/v1/admin/bookings/{id}/redispatch", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 202, description = "searched again now (a search already running carries on)", body = Envelope<Message>),
              (status = 404, body = ErrorBody),
              (status = 422, description = "booking is not waiting for a runner", body = ErrorBody),
              (status = 403, body = RawError)))]
pub async fn redispatch(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let id = parse_id(&id, "booking")?;
    {
        let mut conn = state.pool.get().await?;
        bookings::find(&mut conn, id).await?.ok_or_else(|| AppError::not_found("booking", id))?;
    }
    service::redispatch(&state.services, id).await?;
    Ok(HttpResponse::Accepted()
        .json(Envelope { success: true, data: Message { message: "booking dispatched again".into() } }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingStats {
    pub total_bookings: i64,
    /// always has all six statuses
    pub by_status: BTreeMap<String, i64>,
}

#[utoipa::path(get, path = "/api/v1/admin/stats/bookings", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Envelope<BookingStats>), (status = 403, body = RawError)))]
pub async fn admin_stats(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let counts = bookings::count_by_status(&mut conn).await?;
    let (total_bookings, by_status) = tally(BookingStatus::ALL, counts);
    Ok(envelope::ok(BookingStats { total_bookings, by_status }))
}
