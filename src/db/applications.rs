//! Runner applications and their gap-free display numbers.

use chrono::{DateTime, Datelike, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{runner_application_counters as counters, runner_applications as apps};
use super::{Conn, DbError};
use crate::domain::Refusal;
use crate::domain::application::{Application, ApplicationStatus, application_number};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = apps, check_for_backend(diesel::pg::Pg))]
pub struct StoredApplication {
    pub id: Uuid,
    pub application_number: String,
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub ic_number: String,
    pub vehicle_type: String,
    pub plate_number: String,
    pub pet_experience: Vec<Option<String>>,
    pub comfortable_with_live_pets: bool,
    pub status: ApplicationStatus,
    pub reject_reason: String,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Stores an application as `pending_review` with the year's next number.
///
/// The number comes from the year's counter row, incremented under its row
/// lock in this transaction: concurrent applications queue on that row and
/// take consecutive numbers, and one that fails (a repeated IC number) rolls
/// its increment back, so the sequence has no gaps.
pub async fn create(conn: &mut Conn, a: &Application, now: DateTime<Utc>) -> Result<StoredApplication, DbError> {
    let inserted = conn
        .transaction::<StoredApplication, DieselError, _>(async |conn| {
            let year = now.year();
            let number: i32 = diesel::insert_into(counters::table)
                .values((counters::year.eq(year), counters::last_number.eq(1)))
                .on_conflict(counters::year)
                .do_update()
                .set(counters::last_number.eq(counters::last_number + 1))
                .returning(counters::last_number)
                .get_result(conn)
                .await?;
            diesel::insert_into(apps::table)
                .values((
                    apps::id.eq(super::new_id()),
                    apps::application_number.eq(application_number(year, number)),
                    apps::name.eq(&a.name),
                    apps::phone.eq(&a.phone),
                    apps::email.eq(&a.email),
                    apps::ic_number.eq(&a.ic_number),
                    apps::vehicle_type.eq(a.vehicle_type),
                    apps::plate_number.eq(&a.plate_number),
                    apps::pet_experience.eq(&a.pet_experience),
                    apps::comfortable_with_live_pets.eq(a.comfortable_with_live_pets),
                    apps::consent_acknowledged.eq(true),
                    apps::status.eq(ApplicationStatus::PendingReview),
                    apps::created_at.eq(now),
                    apps::updated_at.eq(now),
                ))
                .returning(StoredApplication::as_returning())
                .get_result(conn)
                .await
        })
        .await;
    match inserted {
        Ok(row) => Ok(row),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
            if info.constraint_name().is_some_and(|c| c.contains("ic_number")) =>
        {
            Err(DbError::Conflict(format!("RunnerApplication with ic_number '{}' already exists", a.ic_number)))
        }
        Err(err) => Err(err.into()),
    }
}

/// Applications, newest first, optionally of one status, with the total.
pub async fn list(
    conn: &mut Conn,
    status: Option<ApplicationStatus>,
    page: i64,
    limit: i64,
) -> Result<(Vec<StoredApplication>, i64), DbError> {
    let filtered = || {
        let mut q = apps::table.into_boxed();
        if let Some(status) = status {
            q = q.filter(apps::status.eq(status));
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn).await?;
    let rows = filtered()
        .order((apps::created_at.desc(), apps::application_number.desc()))
        .limit(limit)
        .offset((page - 1).saturating_mul(limit))
        .select(StoredApplication::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// Which application a path names: its id or its `KR-…` number.
#[derive(Debug, Clone, Copy)]
pub enum AppRef<'a> {
    Id(Uuid),
    Number(&'a str),
}

/// An admin's decision on a pending application: `approved`, or `rejected`
/// with a reason. A decided application cannot be decided again (422).
pub async fn decide(
    conn: &mut Conn,
    which: AppRef<'_>,
    admin: Uuid,
    to: ApplicationStatus,
    reason: &str,
) -> Result<StoredApplication, DbError> {
    conn.transaction::<StoredApplication, DbError, _>(async |conn| {
        let (id, number) = match which {
            AppRef::Id(id) => (id, ""),
            AppRef::Number(n) => (Uuid::nil(), n),
        };
        let found: StoredApplication = apps::table
            .filter(apps::id.eq(id).or(apps::application_number.eq(number)))
            .select(StoredApplication::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(DbError::Missing("runner application not found"))?;
        if found.status != ApplicationStatus::PendingReview {
            return Err(Refusal::Unprocessable {
                error: format!("application {} was already {}", found.application_number, found.status),
                detail: format!("status is '{}'", found.status),
            }
            .into());
        }
        let now = Utc::now();
        Ok(diesel::update(apps::table.find(found.id))
            .set((
                apps::status.eq(to),
                apps::reject_reason.eq(reason),
                apps::reviewed_by.eq(Some(admin)),
                apps::reviewed_at.eq(Some(now)),
                apps::updated_at.eq(now),
            ))
            .returning(StoredApplication::as_returning())
            .get_result(conn)
            .await?)
    })
    .await
}

/// Whether `email` (trimmed, lower-case) belongs to an approved application.
pub async fn approved_email(conn: &mut Conn, email: &str) -> Result<bool, DbError> {
    let found: Option<Uuid> = apps::table
        .filter(apps::status.eq(ApplicationStatus::Approved).and(apps::email.eq(email)))
        .select(apps::id)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}
