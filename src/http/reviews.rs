//! Reviews (docs/API.md#reviews): an owner reviews a completed trip, the
//! runner answers, anyone signed in reads a runner's reviews.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::envelope::{self, Envelope, ErrorBody, Pagination};
use super::extract::{AuthUser, PageQuery, parse_id};
use crate::db::reviews::Review;
use crate::domain::booking::Actor;
use crate::domain::identity::Role;
use crate::domain::review::ReviewInput;
use crate::domain::time::{self, rfc3339_opt};
use crate::error::AppError;
use crate::services::reviews as service;

/// ReviewDTO: every key always present.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewDto {
    pub id: Uuid,
    pub booking_id: Uuid,
    /// the runner's user id
    pub runner_id: Uuid,
    pub owner_id: Uuid,
    /// 1..5
    pub rating: i16,
    pub comment: String,
    pub tags: Vec<String>,
    /// the runner's answer, if any
    pub reply: Option<String>,
    #[serde(with = "rfc3339_opt")]
    #[schema(value_type = Option<String>)]
    pub replied_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::serialize")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<Review> for ReviewDto {
    fn from(r: Review) -> Self {
        Self {
            id: r.id,
            booking_id: r.booking_id,
            runner_id: r.runner_id,
            owner_id: r.owner_id,
            rating: r.rating,
            comment: r.comment,
            tags: r.tags.into_iter().flatten().collect(),
            reply: r.reply,
            replied_at: r.replied_at,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewRequest {
    /// a whole number from 1 to 5
    #[schema(value_type = i64)]
    pub rating: Option<Value>,
    /// at most 1000 characters
    pub comment: Option<String>,
    /// from: gentle, on_time, clean_crate, friendly, careful, late, rough, dirty_crate
    pub tags: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/review", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ReviewRequest,
    responses((status = 201, description = "the runner's rating is now the mean of their reviews; the runner is notified", body = Envelope<ReviewDto>),
              (status = 400, description = "rating outside 1..5, comment too long, unknown tag", body = ErrorBody),
              (status = 403, description = "booking does not belong to this user", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "booking was already reviewed", body = ErrorBody),
              (status = 422, description = "only a completed booking can be reviewed", body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<ReviewRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Owner)?;
    let id = parse_id(&id, "booking")?;
    let body = body.into_inner();
    let input = ReviewInput::parse(body.rating.as_ref(), body.comment, body.tags)?;
    let review = service::create(&state.services, Actor { id: user.id, role: user.role }, id, input).await?;
    Ok(envelope::created(ReviewDto::from(review)))
}

/// A page of a runner's reviews with the runner's standing.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunnerReviewsPage {
    pub success: bool,
    pub data: Vec<ReviewDto>,
    pub pagination: Pagination,
    /// the runner's user id
    pub runner_id: Uuid,
    /// mean of the reviews, 2 decimals; 0 before the first
    pub rating: f64,
    pub total_reviews: i32,
}

#[utoipa::path(get, path = "/api/v1/runners/{id}/reviews", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, description = "the runner's user id or profile id"), ("page" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "newest first", body = RunnerReviewsPage), (status = 404, body = ErrorBody)))]
pub async fn for_runner(
    state: web::Data<AppState>,
    _user: AuthUser,
    id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id, "runner")?;
    let (page, limit) = query.admin();
    let found = service::for_runner(&state.services, id, page, limit).await?;
    Ok(HttpResponse::Ok().json(RunnerReviewsPage {
        success: true,
        data: found.reviews.into_iter().map(ReviewDto::from).collect(),
        pagination: Pagination::new(found.total, page, limit),
        runner_id: found.runner_id,
        rating: found.rating,
        total_reviews: found.total_reviews,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplyRequest {
    /// at most 1000 characters
    pub text: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/reviews/{id}/reply", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ReplyRequest,
    responses((status = 200, body = Envelope<ReviewDto>), (status = 400, body = ErrorBody),
              (status = 403, description = "this review is not about you", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "review was already answered", body = ErrorBody)))]
pub async fn reply(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: web::Json<ReplyRequest>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Runner)?;
    let id = parse_id(&id, "review")?;
    let runner = Actor { id: user.id, role: user.role };
    let review = service::reply(&state.services, runner, id, body.text.as_deref()).await?;
    Ok(envelope::ok(ReviewDto::from(review)))
}
