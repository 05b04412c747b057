//! Pet shops (docs/API.md#pet-shops): anyone signed in reads, the owning shop
//! user writes.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Message, RawError};
use super::extract::{AuthUser, optional_text, parse_id};
use super::runners::{NearbyQuery, parse_nearby};
use crate::db::shops::{self, PetShop, ShopFields};
use crate::domain::ValidationError;
use crate::domain::geo::Coordinates;
use crate::domain::identity::{Email, Phone, Role};
use crate::domain::time;
use crate::error::AppError;
use crate::services::shops as service;

pub const CATEGORIES: [&str; 4] = ["grooming", "vet", "boarding", "pet_store"];

#[derive(Debug, Serialize, ToSchema)]
pub struct PetShopDto {
    pub id: Uuid,
    /// null for seeded shops
    pub owner_id: Option<Uuid>,
    pub name: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    pub phone: String,
    pub email: String,
    /// grooming | vet | boarding | pet_store
    pub category: String,
    pub services: Vec<String>,
    pub rating: f64,
    pub image_url: String,
    pub opening_hours: String,
    pub description: String,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<PetShop> for PetShopDto {
    fn from(s: PetShop) -> Self {
        Self {
            id: s.id,
            owner_id: s.owner_id,
            name: s.name,
            address: s.address,
            latitude: s.latitude,
            longitude: s.longitude,
            phone: s.phone,
            email: s.email,
            category: s.category,
            services: s.services.into_iter().flatten().collect(),
            rating: s.rating,
            image_url: s.image_url,
            opening_hours: s.opening_hours,
            description: s.description,
            created_at: s.created_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PetShopRequest {
    pub name: Option<String>,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub category: Option<String>,
    pub services: Option<Vec<String>>,
    pub image_url: Option<String>,
    pub opening_hours: Option<String>,
    pub description: Option<String>,
}

pub fn parse_category(raw: &str) -> Result<String, ValidationError> {
    let c = raw.trim().to_ascii_lowercase();
    if CATEGORIES.contains(&c.as_str()) {
        Ok(c)
    } else {
        Err(ValidationError::new("category must be one of: grooming, vet, boarding, pet_store"))
    }
}

/// Absent, `""`, `0` and `null` mean "not given".
fn fields(body: PetShopRequest) -> Result<ShopFields, ValidationError> {
    let position = match (body.latitude.filter(|v| *v != 0.0), body.longitude.filter(|v| *v != 0.0)) {
        (None, None) => None,
        (lat, lng) => Some(Coordinates::parse(lat, lng)?),
    };
    let services = match body.services {
        None => None,
        Some(list) => {
            let list: Vec<String> = list.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            if list.len() > 50 || list.iter().any(|s| s.chars().count() > 100) {
                return Err(ValidationError::new("services must hold at most 50 names of at most 100 characters"));
            }
            Some(list.into_iter().map(Some).collect())
        }
    };
    Ok(ShopFields {
        name: optional_text(body.name, "name", 200)?,
        address: optional_text(body.address, "address", 500)?,
        latitude: position.map(|p| p.latitude),
        longitude: position.map(|p| p.longitude),
        phone: optional_text(body.phone, "phone", 20)?
            .map(|p| Phone::parse(&p).map(|p| p.as_str().to_owned()))
            .transpose()?,
        email: optional_text(body.email, "email", 254)?
            .map(|e| Email::parse(&e).map(|e| e.as_str().to_owned()))
            .transpose()?,
        category: optional_text(body.category, "category", 20)?.map(|c| parse_category(&c)).transpose()?,
        services,
        image_url: optional_text(body.image_url, "image_url", 2048)?,
        opening_hours: optional_text(body.opening_hours, "opening_hours", 100)?,
        description: optional_text(body.description, "description", 2000)?,
    })
}

#[derive(Debug, Deserialize)]
pub struct CategoryQuery {
    pub category: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/petshops", tag = "petshops", security(("bearer" = [])),
    params(("category" = Option<String>, Query)),
    responses((status = 200, description = "rating then name, at most 50", body = Envelope<Vec<PetShopDto>>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    _user: AuthUser,
    query: web::Query<CategoryQuery>,
) -> Result<HttpResponse, AppError> {
    let category =
        query.category.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(parse_category).transpose()?;
    let mut conn = state.pool.get().await?;
    let data: Vec<PetShopDto> =
        shops::list(&mut conn, category.as_deref()).await?.into_iter().map(Into::into).collect();
    Ok(envelope::ok(data))
}

#[utoipa::path(get, path = "/api/v1/petshops/nearby", tag = "petshops", security(("bearer" = [])),
    params(("latitude" = f64, Query), ("longitude" = f64, Query), ("radius_km" = Option<f64>, Query, description = "default 10")),
    responses((status = 200, description = "nearest first, at most 20", body = Envelope<Vec<PetShopDto>>), (status = 400, body = ErrorBody)))]
pub async fn nearby(
    state: web::Data<AppState>,
    _user: AuthUser,
    query: web::Query<NearbyQuery>,
) -> Result<HttpResponse, AppError> {
    let (at, radius) = parse_nearby(&query, 10.0)?;
    let mut conn = state.pool.get().await?;
    let data: Vec<PetShopDto> = shops::nearby(&mut conn, at, radius, 20).await?.into_iter().map(Into::into).collect();
    Ok(envelope::ok(data))
}

#[utoipa::path(get, path = "/api/v1/petshops/mine", tag = "petshops", security(("bearer" = [])),
    responses((status = 200, body = Envelope<Vec<PetShopDto>>), (status = 403, body = RawError)))]
pub async fn mine(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Shop)?;
    let mut conn = state.pool.get().await?;
    let data: Vec<PetShopDto> = shops::mine(&mut conn, user.id).await?.into_iter().map(Into::into).collect();
    Ok(envelope::ok(data))
}

#[utoipa::path(get, path = "/api/v1/petshops/{id}", tag = "petshops", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Envelope<PetShopDto>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, _user: AuthUser, id: web::Path<String>) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id, "pet shop")?;
    let mut conn = state.pool.get().await?;
    let shop = shops::find(&mut conn, id).await?.ok_or(AppError::NotFound { entity: "resource", id: None })?;
    Ok(envelope::ok(PetShopDto::from(shop)))
}

#[utoipa::path(post, path = "/api/v1/petshops", tag = "petshops", security(("bearer" = [])), request_body = PetShopRequest,
    responses((status = 201, body = Envelope<PetShopDto>), (status = 400, body = ErrorBody), (status = 403, body = RawError)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<PetShopRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Shop)?;
    let body = body.into_inner();
    if body.latitude.is_none_or(|v| v == 0.0) {
        return Err(AppError::BadRequest("invalid latitude".into()));
    }
    if body.longitude.is_none_or(|v| v == 0.0) {
        return Err(AppError::BadRequest("invalid longitude".into()));
    }
    let shop = service::create(&state.services, user.id, fields(body)?).await?;
    Ok(envelope::created(PetShopDto::from(shop)))
}

#[utoipa::path(put, path = "/api/v1/petshops/{id}", tag = "petshops", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = PetShopRequest,
    responses((status = 200, body = Envelope<PetShopDto>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<PetShopRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Shop)?;
    let id = parse_id(&id, "pet shop")?;
    let fields = fields(body.into_inner())?;
    Ok(envelope::ok(PetShopDto::from(service::update(&state.services, user.id, id, fields).await?)))
}

#[utoipa::path(delete, path = "/api/v1/petshops/{id}", tag = "petshops", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Envelope<Message>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Shop)?;
    let id = parse_id(&id, "pet shop")?;
    service::delete(&state.services, user.id, id).await?;
    Ok(envelope::message("pet shop deleted"))
}
