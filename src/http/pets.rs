//! Pet profiles (docs/API.md#pets), on `/api/v1/pets` and
//! `/api/v1/users/me/pets` alike. Owners only, their own pets only.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Message, RawError};
use super::extract::{AuthUser, optional_text, parse_id};
use crate::db::pets::{Pet, PetFields};
use crate::domain::ValidationError;
use crate::domain::identity::Role;
use crate::domain::pet::{MAX_PET_WEIGHT_KG, PetType};
use crate::domain::time;
use crate::error::AppError;
use crate::services::pets as service;

#[derive(Debug, Serialize, ToSchema)]
pub struct PetDto {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    /// cat | dog | bird | rabbit | reptile | other
    pub pet_type: String,
    pub breed: String,
    pub weight_kg: f64,
    pub age_months: i32,
    pub allergies: String,
    pub special_needs: String,
    pub notes: String,
    pub photo_url: String,
    pub vaccination_status: String,
    /// active | archived
    pub status: String,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub updated_at: DateTime<Utc>,
}

impl From<Pet> for PetDto {
    fn from(p: Pet) -> Self {
        Self {
            id: p.id,
            owner_id: p.owner_id,
            name: p.name,
            pet_type: p.pet_type,
            breed: p.breed,
            weight_kg: p.weight_kg,
            age_months: p.age_months,
            allergies: p.allergies,
            special_needs: p.special_needs,
            notes: p.notes,
            photo_url: p.photo_url,
            vaccination_status: p.vaccination_status,
            status: p.status.as_str().to_owned(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PetRequest {
    pub name: Option<String>,
    pub pet_type: Option<String>,
    pub breed: Option<String>,
    pub weight_kg: Option<f64>,
    pub age_months: Option<i32>,
    pub allergies: Option<String>,
    pub special_needs: Option<String>,
    pub notes: Option<String>,
    pub photo_url: Option<String>,
    pub vaccination_status: Option<String>,
}

/// Absent, `""` and `0` mean "not given" (P4's unchanged rule; for P1 the
/// column default applies).
fn fields(body: PetRequest) -> Result<PetFields, ValidationError> {
    let weight_kg = match body.weight_kg {
        None => None,
        Some(0.0) => None,
        Some(w) if w.is_finite() && w > 0.0 && w <= MAX_PET_WEIGHT_KG => Some(w),
        Some(_) => return Err(ValidationError::new("weight_kg must be between 0 and 500")),
    };
    let age_months = match body.age_months {
        None | Some(0) => None,
        Some(a) if (1..=600).contains(&a) => Some(a),
        Some(_) => return Err(ValidationError::new("age_months must be between 0 and 600")),
    };
    let pet_type = optional_text(body.pet_type, "pet_type", 20)?.map(|t| PetType::parse_profile(&t)).transpose()?;
    Ok(PetFields {
        name: optional_text(body.name, "name", 100)?,
        pet_type: pet_type.map(|t| t.as_str().to_owned()),
        breed: optional_text(body.breed, "breed", 100)?,
        weight_kg,
        age_months,
        allergies: optional_text(body.allergies, "allergies", 1000)?,
        special_needs: optional_text(body.special_needs, "special_needs", 1000)?,
        notes: optional_text(body.notes, "notes", 1000)?,
        photo_url: optional_text(body.photo_url, "photo_url", 2048)?,
        vaccination_status: optional_text(body.vaccination_status, "vaccination_status", 50)?,
    })
}

#[utoipa::path(post, path = "/api/v1/pets", tag = "pets", security(("bearer" = [])), request_body = PetRequest,
    responses((status = 201, body = Envelope<PetDto>), (status = 400, body = ErrorBody), (status = 403, body = RawError)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<PetRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let pet = service::create(&state.services, user.id, fields(body.into_inner())?).await?;
    Ok(envelope::created(PetDto::from(pet)))
}

#[utoipa::path(get, path = "/api/v1/pets", tag = "pets", security(("bearer" = [])),
    responses((status = 200, description = "active pets, newest first", body = Envelope<Vec<PetDto>>), (status = 403, body = RawError)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let data: Vec<PetDto> = service::list(&state.services, user.id).await?.into_iter().map(PetDto::from).collect();
    Ok(envelope::ok(data))
}

#[utoipa::path(get, path = "/api/v1/pets/{id}", tag = "pets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Envelope<PetDto>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, user: AuthUser, id: web::Path<String>) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let id = parse_id(&id, "pet")?;
    Ok(envelope::ok(PetDto::from(service::get(&state.services, user.id, id).await?)))
}

#[utoipa::path(put, path = "/api/v1/pets/{id}", tag = "pets", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = PetRequest,
    responses((status = 200, description = "absent, \"\" or 0 leaves a field unchanged", body = Envelope<PetDto>),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<PetRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let id = parse_id(&id, "pet")?;
    let fields = fields(body.into_inner())?;
    Ok(envelope::ok(PetDto::from(service::update(&state.services, user.id, id, fields).await?)))
}

#[utoipa::path(delete, path = "/api/v1/pets/{id}", tag = "pets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "archived (soft delete)", body = Envelope<Message>),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn archive(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let id = parse_id(&id, "pet")?;
    service::archive(&state.services, user.id, id).await?;
    Ok(envelope::message("pet profile archived"))
}
