//! Reviews, and the runner's rating kept equal to their mean.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::schema::{bookings, reviews, runners};
use super::{Conn, DbError, stream};
use crate::domain::Refusal;
use crate::domain::booking::{Actor, BookingStatus};
use crate::domain::events::{BookingFacts, CloudEvent};
use crate::domain::review::ReviewInput;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reviews, check_for_backend(diesel::pg::Pg))]
pub struct Review {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub runner_id: Uuid,
    pub owner_id: Uuid,
    pub rating: i16,
    pub comment: String,
    pub tags: Vec<Option<String>>,
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = bookings, check_for_backend(diesel::pg::Pg))]
struct Reviewed {
    id: Uuid,
    booking_number: String,
    owner_id: Uuid,
    runner_id: Option<Uuid>,
    status: BookingStatus,
}

/// The owner reviews a completed booking, once; in the same transaction the
/// runner's `rating` becomes the mean of their reviews (2 decimals) and
/// `review.created` joins the booking's stream (the runner is notified).
pub async fn create(conn: &mut Conn, booking_id: Uuid, owner: Actor, input: ReviewInput) -> Result<Review, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let booking: Reviewed = bookings::table
            .find(booking_id)
            .select(Reviewed::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| DbError::not_found("booking", booking_id))?;
        if booking.owner_id != owner.id {
            return Err(Refusal::NotYours("booking does not belong to this user").into());
        }
        let runner_id = match (booking.status, booking.runner_id) {
            (BookingStatus::Completed, Some(runner)) => runner,
            (status, _) => {
                return Err(Refusal::Unprocessable {
                    error: "only a completed booking can be reviewed".into(),
                    detail: format!("booking is '{status}'"),
                }
                .into());
            }
        };
        let inserted = diesel::insert_into(reviews::table)
            .values((
                reviews::id.eq(super::new_id()),
                reviews::booking_id.eq(booking.id),
                reviews::runner_id.eq(runner_id),
                reviews::owner_id.eq(owner.id),
                reviews::rating.eq(input.rating),
                reviews::comment.eq(&input.comment),
                reviews::tags.eq(&input.tags),
            ))
            .returning(Review::as_returning())
            .get_result(conn)
            .await;
        let review = match inserted {
            Ok(review) => review,
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                return Err(DbError::Conflict("booking was already reviewed".into()));
            }
            Err(err) => return Err(err.into()),
        };
        diesel::sql_query(
            "UPDATE runners SET \
                 rating = (SELECT round(avg(rating)::numeric, 2)::float8 FROM reviews WHERE runner_id = $1), \
                 total_reviews = (SELECT count(*) FROM reviews WHERE runner_id = $1)::int, \
                 updated_at = now() \
             WHERE user_id = $1",
        )
        .bind::<diesel::sql_types::Uuid, _>(runner_id)
        .execute(conn)
        .await?;
        let facts = BookingFacts {
            booking_id: booking.id,
            booking_number: &booking.booking_number,
            owner_id: booking.owner_id,
            runner_id: Some(runner_id),
        };
        let data = json!({"review_id": review.id, "booking_id": booking.id, "booking_number": booking.booking_number,
                          "owner_id": booking.owner_id, "runner_id": runner_id, "rating": review.rating,
                          "occurred_at": crate::domain::time::format(&review.created_at)});
        let event = CloudEvent::new("kilat-review", "review.created", review.created_at, data);
        stream::append(conn, &facts, &event, Some(owner.id)).await?;
        Ok(review)
    })
    .await
}

/// A runner's reviews, newest first, with the total.
pub async fn for_runner(
    conn: &mut Conn,
    runner_id: Uuid,
    page: i64,
    limit: i64,
) -> Result<(Vec<Review>, i64), DbError> {
    let total: i64 = reviews::table.filter(reviews::runner_id.eq(runner_id)).count().get_result(conn).await?;
    let rows = reviews::table
        .filter(reviews::runner_id.eq(runner_id))
        .order((reviews::created_at.desc(), reviews::id.desc()))
        .limit(limit)
        .offset((page - 1).saturating_mul(limit))
        .select(Review::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// The runner (by user id or profile id) and their rating and review count.
pub async fn runner_standing(conn: &mut Conn, id: Uuid) -> Result<(Uuid, f64, i32), DbError> {
    runners::table
        .filter(runners::user_id.eq(id).or(runners::id.eq(id)))
        .select((runners::user_id, runners::rating, runners::total_reviews))
        .first(conn)
        .await
        .optional()?
        .ok_or(DbError::Missing("runner not found"))
}

/// The reviewed runner answers, once.
pub async fn reply(conn: &mut Conn, review_id: Uuid, runner: Actor, text: &str) -> Result<Review, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let review: Review = reviews::table
            .find(review_id)
            .select(Review::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| DbError::not_found("review", review_id))?;
        if review.runner_id != runner.id {
            return Err(Refusal::NotYours("this review is not about you").into());
        }
        if review.reply.is_some() {
            return Err(DbError::Conflict("review was already answered".into()));
        }
        Ok(diesel::update(reviews::table.find(review_id))
            .set((reviews::reply.eq(text), reviews::replied_at.eq(Utc::now())))
            .returning(Review::as_returning())
            .get_result(conn)
            .await?)
    })
    .await
}
