//! The operators' live view (docs/PROTOCOL.md#ops): runners and bookings
//! that changed since a moment, read by `updated_at` (indexed).

use chrono::{DateTime, Utc};
use diesel::sql_types::{Bool, Double, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, DbError};

#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct RunnerRow {
    #[diesel(sql_type = SqlUuid)]
    pub user_id: Uuid,
    #[diesel(sql_type = Text)]
    pub full_name: String,
    #[diesel(sql_type = Nullable<Double>)]
    pub latitude: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    pub longitude: Option<f64>,
    /// on shift with a position
    #[diesel(sql_type = Bool)]
    pub online: bool,
    /// carrying an accepted or in-progress trip
    #[diesel(sql_type = Bool)]
    pub on_trip: bool,
}

#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct BookingRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub booking_number: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub runner_id: Option<Uuid>,
    #[diesel(sql_type = Double)]
    pub pickup_lat: f64,
    #[diesel(sql_type = Double)]
    pub pickup_lng: f64,
    #[diesel(sql_type = Nullable<Double>)]
    pub dropoff_lat: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    pub dropoff_lng: Option<f64>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub scheduled_at: Option<DateTime<Utc>>,
}

#[derive(diesel::QueryableByName)]
struct Now {
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

/// The database's clock: the next `since` comes from it, not from ours.
pub async fn now(conn: &mut Conn) -> Result<DateTime<Utc>, DbError> {
    let row: Now = diesel::sql_query("SELECT now() AS now").get_result(conn).await?;
    Ok(row.now)
}

/// Runners on shift (all of them), or every runner changed since `since`
/// (positions, shifts; `online` false for those who left).
pub async fn runners(conn: &mut Conn, since: Option<DateTime<Utc>>, limit: i64) -> Result<Vec<RunnerRow>, DbError> {
    Ok(diesel::sql_query(
        "SELECT r.user_id, r.full_name, r.latitude, r.longitude, \
                (r.session_status = 'active' AND r.latitude IS NOT NULL) AS online, \
                EXISTS (SELECT 1 FROM bookings b WHERE b.runner_id = r.user_id \
                        AND b.status IN ('accepted', 'in_progress')) AS on_trip \
         FROM runners r \
         WHERE CASE WHEN $1::timestamptz IS NULL THEN r.session_status = 'active' AND r.latitude IS NOT NULL \
                    ELSE r.updated_at > $1 END \
         ORDER BY r.updated_at DESC LIMIT $2",
    )
    .bind::<Nullable<Timestamptz>, _>(since)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await?)
}

/// Bookings not finished (all of them), or every booking changed since
/// `since` (those that finished included, so a view can drop them).
pub async fn bookings(conn: &mut Conn, since: Option<DateTime<Utc>>, limit: i64) -> Result<Vec<BookingRow>, DbError> {
    Ok(diesel::sql_query(
        "SELECT b.id, b.booking_number, b.status, b.runner_id, b.pickup_lat, b.pickup_lng, \
                (b.dropoff_address->>'latitude')::float8 AS dropoff_lat, \
                (b.dropoff_address->>'longitude')::float8 AS dropoff_lng, b.created_at, b.scheduled_at \
         FROM bookings b \
         WHERE CASE WHEN $1::timestamptz IS NULL THEN b.status IN ('requested', 'accepted', 'in_progress', 'delivered') \
                    ELSE b.updated_at > $1 END \
         ORDER BY b.created_at LIMIT $2",
    )
    .bind::<Nullable<Timestamptz>, _>(since)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await?)
}
