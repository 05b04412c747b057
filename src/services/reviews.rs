//! Reviews: the owner rates the runner of a completed trip (once), the
//! runner may answer (once); anyone signed in reads a runner's reviews.

use uuid::Uuid;

use super::{Followup, Services};
use crate::db::reviews::{self, Review};
use crate::domain::booking::Actor;
use crate::domain::review::{ReviewInput, parse_reply};
use crate::error::AppError;

pub async fn create(s: &Services, owner: Actor, booking_id: Uuid, input: ReviewInput) -> Result<Review, AppError> {
    let review = {
        let mut conn = s.pool.get().await?;
        reviews::create(&mut conn, booking_id, owner, input).await?
    };
    s.live.follow(Followup::published()).await;
    Ok(review)
}

/// A page of a runner's reviews (the runner named by user or profile id),
/// with the runner's user id, rating and review count, and the total.
pub struct RunnerReviews {
    pub runner_id: Uuid,
    pub rating: f64,
    pub total_reviews: i32,
    pub reviews: Vec<Review>,
    pub total: i64,
}

pub async fn for_runner(s: &Services, id: Uuid, page: i64, limit: i64) -> Result<RunnerReviews, AppError> {
    let mut conn = s.pool.get().await?;
    let (runner_id, rating, total_reviews) = reviews::runner_standing(&mut conn, id).await?;
    let (reviews, total) = reviews::for_runner(&mut conn, runner_id, page, limit).await?;
    Ok(RunnerReviews { runner_id, rating, total_reviews, reviews, total })
}

pub async fn reply(s: &Services, runner: Actor, review_id: Uuid, text: Option<&str>) -> Result<Review, AppError> {
    let text = parse_reply(text)?;
    let mut conn = s.pool.get().await?;
    Ok(reviews::reply(&mut conn, review_id, runner, &text).await?)
}
