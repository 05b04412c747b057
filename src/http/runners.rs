//! Runner profiles, crates, presence and position (docs/API.md#runners).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Message, RawError};
use super::extract::{AuthUser, optional_text, required_text};
use crate::actors::messages::{Ping, PingRejected};
use crate::db::runners::{self, CrateRow, NewCrate, NewRunner, Runner, RunnerChanges};
use crate::domain::ValidationError;
use crate::domain::geo::{Coordinates, parse_radius_km};
use crate::domain::identity::{Phone, Role, parse_full_name};
use crate::domain::{frames, time};
use crate::error::AppError;
use crate::services::runners as service;

#[derive(Debug, Serialize, ToSchema)]
pub struct CrateSpecDto {
    pub id: Uuid,
    pub size: String,
    pub pet_types: Vec<String>,
    pub max_weight_kg: f64,
    pub width_cm: f64,
    pub height_cm: f64,
    pub depth_cm: f64,
    pub ventilated: bool,
    pub temperature_controlled: bool,
}

impl From<&CrateRow> for CrateSpecDto {
    fn from(c: &CrateRow) -> Self {
        Self {
            id: c.id,
            size: c.size.clone(),
            pet_types: c.pet_types(),
            max_weight_kg: c.max_weight_kg,
            width_cm: c.width_cm,
            height_cm: c.height_cm,
            depth_cm: c.depth_cm,
            ventilated: c.ventilated,
            temperature_controlled: c.temperature_controlled,
        }
    }
}

/// RunnerDTO (docs/API.md#runners): `id` is the profile id, `user_id` the user's.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunnerDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub full_name: String,
    pub phone: String,
    pub vehicle_type: String,
    pub vehicle_plate: String,
    pub vehicle_model: String,
    pub air_conditioned: bool,
    /// active | inactive
    pub session_status: String,
    pub rating: f64,
    pub total_trips: i32,
    pub crate_specs: Vec<CrateSpecDto>,
    /// filled by /runners/nearby, null elsewhere
    pub distance_km: Option<f64>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl RunnerDto {
    pub fn new(r: Runner, crates: &[CrateRow], distance_km: Option<f64>) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            full_name: r.full_name,
            phone: r.phone,
            vehicle_type: r.vehicle_type,
            vehicle_plate: r.vehicle_plate,
            vehicle_model: r.vehicle_model,
            air_conditioned: r.air_conditioned,
            session_status: r.session_status.as_str().to_owned(),
            rating: r.rating,
            total_trips: r.total_trips,
            crate_specs: crates.iter().filter(|c| c.runner_id == r.id).map(CrateSpecDto::from).collect(),
            distance_km,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateRunnerRequest {
    /// defaults to the user's profile name
    pub full_name: Option<String>,
    /// defaults to the user's profile phone
    pub phone: Option<String>,
    /// car | van | motorcycle (not enforced)
    pub vehicle_type: Option<String>,
    pub vehicle_plate: Option<String>,
    pub vehicle_model: Option<String>,
    pub vehicle_year: Option<i32>,
    pub air_conditioned: Option<bool>,
}

fn present(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn vehicle_year(raw: Option<i32>) -> Result<Option<i32>, ValidationError> {
    let max = Utc::now().year() + 1;
    match raw {
        None => Ok(None),
        Some(y) if (1950..=max).contains(&y) => Ok(Some(y)),
        Some(_) => Err(ValidationError::new(format!("vehicle_year must be between 1950 and {max}"))),
    }
}

#[utoipa::path(post, path = "/api/v1/runners", tag = "runners", security(("bearer" = [])), request_body = CreateRunnerRequest,
    responses((status = 201, body = Envelope<RunnerDto>), (status = 400, body = ErrorBody), (status = 403, body = RawError),
              (status = 409, description = "runner with user_id '<id>' already exists", body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<CreateRunnerRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let body = body.into_inner();
    let vehicle_type = required_text(body.vehicle_type, "vehicle_type", 50)?;
    let vehicle_plate = required_text(body.vehicle_plate, "vehicle_plate", 20)?;
    let vehicle_model = required_text(body.vehicle_model, "vehicle_model", 100)?;
    let vehicle_year = vehicle_year(body.vehicle_year)?;
    let full_name = present(body.full_name).map(|n| parse_full_name(&n)).transpose()?;
    let phone = present(body.phone).map(|p| Phone::parse(&p).map(|p| p.as_str().to_owned())).transpose()?;
    let new = NewRunner {
        user_id: user.id,
        full_name: full_name.unwrap_or_default(),
        phone: phone.unwrap_or_default(),
        vehicle_type,
        vehicle_plate,
        vehicle_model,
        vehicle_year,
        air_conditioned: body.air_conditioned.unwrap_or(false),
    };
    let runner = service::create_profile(&state.services, new).await?;
    Ok(envelope::created(RunnerDto::new(runner, &[], None)))
}

#[utoipa::path(get, path = "/api/v1/runners/me", tag = "runners", security(("bearer" = [])),
    responses((status = 200, body = Envelope<RunnerDto>), (status = 404, description = "runner not found", body = ErrorBody)))]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let mut conn = state.pool.get().await?;
    let runner = runners::require_by_user(&mut conn, user.id).await?;
    let crates = runners::crates_of(&mut conn, runner.id).await?;
    Ok(envelope::ok(RunnerDto::new(runner, &crates, None)))
}

#[utoipa::path(put, path = "/api/v1/runners/me", tag = "runners", security(("bearer" = [])), request_body = CreateRunnerRequest,
    responses((status = 200, description = "absent or empty fields stay as they are", body = Envelope<RunnerDto>),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<CreateRunnerRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let body = body.into_inner();
    let changes = RunnerChanges {
        full_name: present(body.full_name).map(|n| parse_full_name(&n)).transpose()?,
        phone: present(body.phone).map(|p| Phone::parse(&p).map(|p| p.as_str().to_owned())).transpose()?,
        vehicle_type: optional_text(body.vehicle_type, "vehicle_type", 50)?,
        vehicle_plate: optional_text(body.vehicle_plate, "vehicle_plate", 20)?,
        vehicle_model: optional_text(body.vehicle_model, "vehicle_model", 100)?,
        vehicle_year: vehicle_year(body.vehicle_year)?.map(Some),
        air_conditioned: body.air_conditioned,
    };
    let mut conn = state.pool.get().await?;
    let runner =
        runners::update(&mut conn, user.id, changes).await?.ok_or_else(|| AppError::missing("runner not found"))?;
    let crates = runners::crates_of(&mut conn, runner.id).await?;
    Ok(envelope::ok(RunnerDto::new(runner, &crates, None)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PositionRequest {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub speed_kmh: Option<f64>,
    pub heading_degrees: Option<f64>,
}

#[utoipa::path(post, path = "/api/v1/runners/me/online", tag = "runners", security(("bearer" = [])), request_body = PositionRequest,
    responses((status = 200, body = Envelope<Message>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn online(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<PositionRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let at = Coordinates::parse(body.latitude, body.longitude)?;
    service::go_online(&state.services, user.id, at).await?;
    Ok(envelope::message("runner is now online"))
}

#[utoipa::path(post, path = "/api/v1/runners/me/offline", tag = "runners", security(("bearer" = [])),
    responses((status = 200, body = Envelope<Message>), (status = 404, body = ErrorBody)))]
pub async fn offline(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    service::go_offline(&state.services, user.id).await?;
    Ok(envelope::message("runner is now offline"))
}

#[utoipa::path(post, path = "/api/v1/runners/me/location", tag = "runners", security(("bearer" = [])), request_body = PositionRequest,
    responses((status = 200, body = Envelope<Message>),
              (status = 400, description = "invalid coordinates, a jump faster than 250 km/h from the last position, or runner must be online to update location (a runner on an accepted or in-progress trip is always accepted, and put back online)", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn location(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<PositionRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let at = Coordinates::parse(body.latitude, body.longitude)?;
    let (speed_kmh, heading_degrees) = frames::normalise_motion(body.speed_kmh, body.heading_degrees);
    let ping = Ping { at, speed_kmh, heading_degrees, recorded_at: Utc::now() };
    let result = service::ping(&state.services, user.id, ping).await;
    match result {
        Ok(()) => Ok(envelope::message("location updated")),
        Err(PingRejected::NotOnline) => Err(AppError::BadRequest("runner must be online to update location".into())),
        Err(PingRejected::NoProfile) => Err(AppError::missing("runner not found")),
        Err(PingRejected::Banned) => Err(AppError::Forbidden("account is banned".into())),
        Err(PingRejected::Invalid(message)) => Err(AppError::BadRequest(message)),
        Err(PingRejected::Unavailable) => Err(AppError::Unavailable("location service unavailable".into())),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CrateRequest {
    /// small | medium | large | xlarge (others are stored but never fit)
    pub size: Option<String>,
    pub pet_types: Option<Vec<String>>,
    pub max_weight_kg: Option<f64>,
    pub width_cm: Option<f64>,
    pub height_cm: Option<f64>,
    pub depth_cm: Option<f64>,
    pub ventilated: Option<bool>,
    pub temperature_controlled: Option<bool>,
}

fn dimension(v: Option<f64>, field: &str) -> Result<f64, ValidationError> {
    match v {
        None => Ok(0.0),
        Some(d) if d.is_finite() && (0.0..=1000.0).contains(&d) => Ok(d),
        Some(_) => Err(ValidationError::new(format!("{field} must be between 0 and 1000"))),
    }
}

#[utoipa::path(post, path = "/api/v1/runners/me/crates", tag = "runners", security(("bearer" = [])), request_body = CrateRequest,
    responses((status = 201, body = Envelope<CrateSpecDto>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_crate(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<CrateRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let body = body.into_inner();
    let size = required_text(body.size, "size", 20)?.to_ascii_lowercase();
    let pet_types: Vec<String> = body
        .pet_types
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    if pet_types.is_empty() {
        return Err(AppError::BadRequest("pet_types is required".into()));
    }
    if pet_types.len() > 10 || pet_types.iter().any(|t| t.len() > 30) {
        return Err(AppError::BadRequest("pet_types must hold at most 10 short names".into()));
    }
    let max_weight_kg = match body.max_weight_kg {
        Some(w) if w.is_finite() && w > 0.0 && w <= 500.0 => w,
        _ => return Err(AppError::BadRequest("max_weight_kg must be greater than 0 (and at most 500)".into())),
    };
    let new = NewCrate {
        size,
        pet_types,
        max_weight_kg,
        width_cm: dimension(body.width_cm, "width_cm")?,
        height_cm: dimension(body.height_cm, "height_cm")?,
        depth_cm: dimension(body.depth_cm, "depth_cm")?,
        ventilated: body.ventilated.unwrap_or(false),
        temperature_controlled: body.temperature_controlled.unwrap_or(false),
    };
    let row = service::add_crate(&state.services, user.id, new).await?;
    Ok(envelope::created(CrateSpecDto::from(&row)))
}

#[derive(Debug, Deserialize)]
pub struct NearbyQuery {
    pub latitude: Option<String>,
    pub longitude: Option<String>,
    pub radius_km: Option<String>,
}

/// A query number: absent → None; unparseable → the given error.
pub fn query_number(raw: &Option<String>, error: &str) -> Result<Option<f64>, ValidationError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse::<f64>().map(Some).map_err(|_| ValidationError::new(error)),
    }
}

pub fn parse_nearby(q: &NearbyQuery, default_radius: f64) -> Result<(Coordinates, f64), ValidationError> {
    let lat = query_number(&q.latitude, "invalid latitude")?;
    let lng = query_number(&q.longitude, "invalid longitude")?;
    let at = Coordinates::parse(lat, lng)?;
    let radius = parse_radius_km(query_number(&q.radius_km, "invalid radius")?, default_radius)?;
    Ok((at, radius))
}

#[utoipa::path(get, path = "/api/v1/runners/nearby", tag = "runners", security(("bearer" = [])),
    params(("latitude" = f64, Query), ("longitude" = f64, Query), ("radius_km" = Option<f64>, Query, description = "default 5")),
    responses((status = 200, description = "online runners with a position, nearest first, at most 20", body = Envelope<Vec<RunnerDto>>),
              (status = 400, body = ErrorBody)))]
pub async fn nearby(
    state: web::Data<AppState>,
    _user: AuthUser,
    query: web::Query<NearbyQuery>,
) -> Result<HttpResponse, AppError> {
    let (at, radius) = parse_nearby(&query, 5.0)?;
    let mut conn = state.pool.get().await?;
    let found = runners::nearby(&mut conn, at, radius, 20).await?;
    let ids: Vec<Uuid> = found.iter().map(|n| n.runner.id).collect();
    let crates = runners::crates_of_many(&mut conn, &ids).await?;
    let data: Vec<RunnerDto> = found
        .into_iter()
        .map(|n| RunnerDto::new(n.runner, &crates, Some((n.distance_km * 1000.0).round() / 1000.0)))
        .collect();
    Ok(envelope::ok(data))
}
