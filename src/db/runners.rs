//! Runner profiles, their crates, presence and position.

use super::DbError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Double, Integer};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::schema::{runner_crates, runners};
use crate::domain::crates::{Crate, CrateSize};
use crate::domain::eligibility::{RunnerFacts, Shift};
use crate::domain::geo::Coordinates;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = runners, check_for_backend(diesel::pg::Pg))]
pub struct Runner {
    pub id: Uuid,
    pub user_id: Uuid,
    pub full_name: String,
    pub phone: String,
    pub vehicle_type: String,
    pub vehicle_plate: String,
    pub vehicle_model: String,
    pub vehicle_year: Option<i32>,
    pub air_conditioned: bool,
    pub session_status: Shift,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub location_updated_at: Option<DateTime<Utc>>,
    pub rating: f64,
    pub total_trips: i32,
    pub completion_rate: f64,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Runner {
    pub fn is_online(&self) -> bool {
        self.session_status == Shift::Active
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = runner_crates, check_for_backend(diesel::pg::Pg))]
pub struct CrateRow {
    pub id: Uuid,
    pub runner_id: Uuid,
    pub size: String,
    pub size_rank: i32,
    pub pet_types: Vec<Option<String>>,
    pub max_weight_kg: f64,
    pub width_cm: f64,
    pub height_cm: f64,
    pub depth_cm: f64,
    pub ventilated: bool,
    pub temperature_controlled: bool,
    pub created_at: DateTime<Utc>,
}

impl CrateRow {
    pub fn pet_types(&self) -> Vec<String> {
        self.pet_types.iter().flatten().cloned().collect()
    }

    pub fn to_domain(&self) -> Crate {
        Crate {
            size: self.size.clone(),
            pet_types: self.pet_types(),
            max_weight_kg: self.max_weight_kg,
            ventilated: self.ventilated,
            temperature_controlled: self.temperature_controlled,
        }
    }
}

pub fn facts(runner: &Runner, crates: &[CrateRow]) -> RunnerFacts {
    RunnerFacts {
        online: runner.is_online(),
        air_conditioned: runner.air_conditioned,
        rating: runner.rating,
        total_trips: runner.total_trips,
        completion_rate: runner.completion_rate,
        crates: crates.iter().map(CrateRow::to_domain).collect(),
    }
}

pub struct NewRunner {
    pub user_id: Uuid,
    pub full_name: String,
    pub phone: String,
    pub vehicle_type: String,
    pub vehicle_plate: String,
    pub vehicle_model: String,
    pub vehicle_year: Option<i32>,
    pub air_conditioned: bool,
}

pub async fn create(conn: &mut Conn, new: NewRunner) -> Result<Runner, DbError> {
    diesel::insert_into(runners::table)
        .values((
            runners::id.eq(super::new_id()),
            runners::user_id.eq(new.user_id),
            runners::full_name.eq(&new.full_name),
            runners::phone.eq(&new.phone),
            runners::vehicle_type.eq(&new.vehicle_type),
            runners::vehicle_plate.eq(&new.vehicle_plate),
            runners::vehicle_model.eq(&new.vehicle_model),
            runners::vehicle_year.eq(new.vehicle_year),
            runners::air_conditioned.eq(new.air_conditioned),
        ))
        .returning(Runner::as_returning())
        .get_result(conn)
        .await
        .map_err(|err| match err {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                DbError::Conflict(format!("runner with user_id '{}' already exists", new.user_id))
            }
            other => other.into(),
        })
}

pub async fn find_by_user(conn: &mut Conn, user_id: Uuid) -> Result<Option<Runner>, DbError> {
    Ok(runners::table.filter(runners::user_id.eq(user_id)).select(Runner::as_select()).first(conn).await.optional()?)
}

/// The runner's profile, or the contract's 404 `runner not found`.
pub async fn require_by_user(conn: &mut Conn, user_id: Uuid) -> Result<Runner, DbError> {
    find_by_user(conn, user_id).await?.ok_or_else(|| DbError::Missing("runner not found"))
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = runners)]
pub struct RunnerChanges {
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub vehicle_type: Option<String>,
    pub vehicle_plate: Option<String>,
    pub vehicle_model: Option<String>,
    pub vehicle_year: Option<Option<i32>>,
    pub air_conditioned: Option<bool>,
}

pub async fn update(conn: &mut Conn, user_id: Uuid, changes: RunnerChanges) -> Result<Option<Runner>, DbError> {
    Ok(diesel::update(runners::table.filter(runners::user_id.eq(user_id)))
        .set((changes, runners::version.eq(runners::version + 1), runners::updated_at.eq(Utc::now())))
        .returning(Runner::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

pub async fn crates_of(conn: &mut Conn, runner_id: Uuid) -> Result<Vec<CrateRow>, DbError> {
    Ok(runner_crates::table
        .filter(runner_crates::runner_id.eq(runner_id))
        .order(runner_crates::created_at.asc())
        .select(CrateRow::as_select())
        .load(conn)
        .await?)
}

pub async fn crates_of_many(conn: &mut Conn, runner_ids: &[Uuid]) -> Result<Vec<CrateRow>, DbError> {
    Ok(runner_crates::table
        .filter(runner_crates::runner_id.eq_any(runner_ids))
        .order(runner_crates::created_at.asc())
        .select(CrateRow::as_select())
        .load(conn)
        .await?)
}

pub struct NewCrate {
    pub size: String,
    pub pet_types: Vec<String>,
    pub max_weight_kg: f64,
    pub width_cm: f64,
    pub height_cm: f64,
    pub depth_cm: f64,
    pub ventilated: bool,
    pub temperature_controlled: bool,
}

pub async fn add_crate(conn: &mut Conn, runner_id: Uuid, new: NewCrate) -> Result<CrateRow, DbError> {
    Ok(diesel::insert_into(runner_crates::table)
        .values((
            runner_crates::id.eq(super::new_id()),
            runner_crates::runner_id.eq(runner_id),
            runner_crates::size_rank.eq(CrateSize::rank_of(&new.size)),
            runner_crates::size.eq(&new.size),
            runner_crates::pet_types.eq(new.pet_types.iter().map(|t| Some(t.clone())).collect::<Vec<_>>()),
            runner_crates::max_weight_kg.eq(new.max_weight_kg),
            runner_crates::width_cm.eq(new.width_cm),
            runner_crates::height_cm.eq(new.height_cm),
            runner_crates::depth_cm.eq(new.depth_cm),
            runner_crates::ventilated.eq(new.ventilated),
            runner_crates::temperature_controlled.eq(new.temperature_controlled),
        ))
        .returning(CrateRow::as_returning())
        .get_result(conn)
        .await?)
}

/// Online with a position. False when the user has no runner profile.
pub async fn set_online(conn: &mut Conn, user_id: Uuid, at: Coordinates) -> Result<bool, DbError> {
    let now = Utc::now();
    let n = diesel::update(runners::table.filter(runners::user_id.eq(user_id)))
        .set((
            runners::session_status.eq(Shift::Active),
            runners::latitude.eq(Some(at.latitude)),
            runners::longitude.eq(Some(at.longitude)),
            runners::location_updated_at.eq(Some(now)),
            runners::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Offline, position cleared. False when there is no runner profile.
pub async fn set_offline(conn: &mut Conn, user_id: Uuid) -> Result<bool, DbError> {
    let n = diesel::update(runners::table.filter(runners::user_id.eq(user_id)))
        .set((
            runners::session_status.eq(Shift::Inactive),
            runners::latitude.eq(None::<f64>),
            runners::longitude.eq(None::<f64>),
            runners::location_updated_at.eq(None::<DateTime<Utc>>),
            runners::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

#[derive(Debug, QueryableByName)]
pub struct NearbyRunner {
    #[diesel(embed)]
    pub runner: Runner,
    #[diesel(sql_type = Double)]
    pub distance_km: f64,
}

/// Online runners with a position within `radius_km`, nearest first: a KNN
/// (`<->`) over the GiST index on `runners.location`.
pub async fn nearby(
    conn: &mut Conn,
    at: Coordinates,
    radius_km: f64,
    limit: i32,
) -> Result<Vec<NearbyRunner>, DbError> {
    Ok(diesel::sql_query(
        "WITH here AS (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS g) \
         SELECT r.*, ST_Distance(r.location, here.g) / 1000.0 AS distance_km \
         FROM runners r, here \
         WHERE r.session_status = 'active' AND r.location IS NOT NULL \
           AND ST_DWithin(r.location, here.g, $3 * 1000.0) \
         ORDER BY r.location <-> here.g \
         LIMIT $4",
    )
    .bind::<Double, _>(at.latitude)
    .bind::<Double, _>(at.longitude)
    .bind::<Double, _>(radius_km)
    .bind::<Integer, _>(limit)
    .load(conn)
    .await?)
}

#[derive(diesel::QueryableByName)]
struct RunnerId {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    user_id: Uuid,
}

/// Runners on shift who have not pinged for `grace_secs` and are not on a
/// trip (a runner on an accepted or in-progress trip is never swept).
pub async fn silent_on_shift(conn: &mut Conn, grace_secs: f64) -> QueryResult<Vec<Uuid>> {
    let rows: Vec<RunnerId> = diesel::sql_query(
        "SELECT user_id FROM runners WHERE session_status = 'active' \
         AND (location_updated_at IS NULL OR location_updated_at < now() - make_interval(secs => $1)) \
         AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.runner_id = runners.user_id \
                         AND b.status IN ('accepted', 'in_progress')) \
         LIMIT 5000",
    )
    .bind::<diesel::sql_types::Double, _>(grace_secs)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.user_id).collect())
}

/// Takes those of `ids` still silent (and still not on a trip) offline;
/// returns who went.
pub async fn set_silent_offline(conn: &mut Conn, ids: &[Uuid], grace_secs: f64) -> QueryResult<Vec<Uuid>> {
    let rows: Vec<RunnerId> = diesel::sql_query(
        "UPDATE runners SET session_status = 'inactive', latitude = NULL, longitude = NULL, \
             location_updated_at = NULL, updated_at = now() \
         WHERE user_id = ANY($1) AND session_status = 'active' \
           AND (location_updated_at IS NULL OR location_updated_at < now() - make_interval(secs => $2)) \
           AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.runner_id = runners.user_id \
                           AND b.status IN ('accepted', 'in_progress')) \
         RETURNING user_id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
    .bind::<diesel::sql_types::Double, _>(grace_secs)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.user_id).collect())
}

/// A trip the runner had accepted is over: completed (`total_trips` + 1)
/// or given up (declined or cancelled by the runner: `abandoned_trips` +
/// 1); `completion_rate` becomes completed over finished, in the caller's
/// transaction.
pub async fn trip_finished(conn: &mut Conn, runner_id: Uuid, completed: bool) -> QueryResult<()> {
    let (done, gave_up) = if completed { (1, 0) } else { (0, 1) };
    diesel::sql_query(
        "UPDATE runners SET total_trips = total_trips + $2, abandoned_trips = abandoned_trips + $3, \
             completion_rate = round((total_trips + $2)::numeric / (total_trips + abandoned_trips + 1), 4)::float8, \
             updated_at = now() \
         WHERE user_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(runner_id)
    .bind::<diesel::sql_types::Integer, _>(done)
    .bind::<diesel::sql_types::Integer, _>(gave_up)
    .execute(conn)
    .await
    .map(|_| ())
}
