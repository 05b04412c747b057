//! Runner applications (docs/API.md#runner-applications, contract §8.2):
//! anyone applies, admins list, approve and reject.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Paginated, Pagination, RawError};
use super::extract::{AuthUser, PageQuery};
use crate::db::applications::StoredApplication;
use crate::domain::application::{ApplicationInput, ApplicationStatus};
use crate::domain::booking::Actor;
use crate::domain::identity::Role;
use crate::domain::time::{self, rfc3339_opt};
use crate::error::AppError;
use crate::services::applications as service;

/// The apps' body (camelCase).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationRequest {
    pub name: Option<String>,
    /// `^\+?[0-9]{7,15}$`
    pub phone: Option<String>,
    /// optional: the decision is mailed here, and once approved this
    /// address may register as a runner
    pub email: Option<String>,
    /// Malaysian IC: 12 digits, dashes optional (`900101-14-5678`); unique
    pub ic_number: Option<String>,
    /// motorbike | car | bicycle
    pub vehicle_type: Option<String>,
    pub plate_number: Option<String>,
    /// at least one of dogs, cats, birds, fish, small_pets, vet_trips
    pub pet_experience: Option<Vec<String>>,
    pub comfortable_with_live_pets: Option<bool>,
    /// must be true
    pub consent_acknowledged: Option<bool>,
}

impl From<ApplicationRequest> for ApplicationInput {
    fn from(r: ApplicationRequest) -> Self {
        Self {
            name: r.name,
            phone: r.phone,
            email: r.email,
            ic_number: r.ic_number,
            vehicle_type: r.vehicle_type,
            plate_number: r.plate_number,
            pet_experience: r.pet_experience,
            comfortable_with_live_pets: r.comfortable_with_live_pets,
            consent_acknowledged: r.consent_acknowledged,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// `KR-<year>-<5 digits>`
    pub application_id: String,
}

#[utoipa::path(post, path = "/api/v1/runners/apply", tag = "runner-applications",
    request_body = ApplicationRequest,
    responses((status = 201, description = "stored as pending_review", body = Envelope<Applied>),
              (status = 400, description = "e.g. \"vehicleType must be one of: motorbike, car, bicycle\", \"consent must be acknowledged\"", body = ErrorBody),
              (status = 409, description = "RunnerApplication with ic_number '<x>' already exists", body = ErrorBody),
              (status = 429, description = "identity rate limit", body = ErrorBody)))]
pub async fn apply(state: web::Data<AppState>, body: web::Json<ApplicationRequest>) -> Result<HttpResponse, AppError> {
    let stored = service::apply(&state.services, body.into_inner().into()).await?;
    Ok(envelope::created(Applied { application_id: stored.application_number }))
}

/// What an admin sees of an application.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDto {
    pub id: Uuid,
    /// `KR-<year>-<5 digits>`
    pub application_id: String,
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub ic_number: String,
    pub vehicle_type: String,
    pub plate_number: String,
    pub pet_experience: Vec<String>,
    pub comfortable_with_live_pets: bool,
    /// pending_review | approved | rejected
    #[schema(value_type = String)]
    pub status: ApplicationStatus,
    /// "" unless rejected
    pub reject_reason: String,
    pub reviewed_by: Option<Uuid>,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub reviewed_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<StoredApplication> for ApplicationDto {
    fn from(a: StoredApplication) -> Self {
        Self {
            id: a.id,
            application_id: a.application_number,
            name: a.name,
            phone: a.phone,
            email: a.email,
            ic_number: a.ic_number,
            vehicle_type: a.vehicle_type,
            plate_number: a.plate_number,
            pet_experience: a.pet_experience.into_iter().flatten().collect(),
            comfortable_with_live_pets: a.comfortable_with_live_pets,
            status: a.status,
            reject_reason: a.reject_reason,
            reviewed_by: a.reviewed_by,
            reviewed_at: a.reviewed_at,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
    pub page: Option<i64>,
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/admin/runner-applications", tag = "runner-applications", security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "pending_review | approved | rejected"),
           ("page" = Option<i64>, Query, description = "default 1"), ("limit" = Option<i64>, Query, description = "1..100, default 20")),
    responses((status = 200, description = "newest first", body = Paginated<ApplicationDto>),
              (status = 400, description = "unknown status", body = ErrorBody), (status = 403, body = RawError)))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let (page, limit) = PageQuery { page: query.page, limit: query.limit }.admin();
    let (rows, total) = service::list(&state.services, query.status.as_deref(), page, limit).await?;
    let data = rows.into_iter().map(ApplicationDto::from).collect();
    Ok(envelope::paginated(data, Pagination::new(total, page, limit)))
}

#[utoipa::path(post, path = "/api/v1/admin/runner-applications/{id}/approve", tag = "runner-applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "the application's id or its KR-<year>-<n> number")),
    responses((status = 200, description = "approved; the applicant is mailed and may register as a runner with that email", body = Envelope<ApplicationDto>),
              (status = 404, body = ErrorBody),
              (status = 422, description = "already approved or rejected", body = ErrorBody)))]
pub async fn approve(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let admin = Actor { id: user.id, role: user.role };
    let decided = service::approve(&state.services, admin, id.trim()).await?;
    Ok(envelope::ok(ApplicationDto::from(decided)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectRequest {
    /// required, at most 500 characters; mailed to the applicant
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/admin/runner-applications/{id}/reject", tag = "runner-applications", security(("bearer" = [])),
    params(("id" = String, Path, description = "the application's id or its KR-<year>-<n> number")),
    request_body = RejectRequest,
    responses((status = 200, description = "rejected; the applicant is mailed the reason", body = Envelope<ApplicationDto>),
              (status = 400, description = "reason is required", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, description = "already approved or rejected", body = ErrorBody)))]
pub async fn reject(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<RejectRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let admin = Actor { id: user.id, role: user.role };
    let decided = service::reject(&state.services, admin, id.trim(), body.reason.as_deref()).await?;
    Ok(envelope::ok(ApplicationDto::from(decided)))
}
