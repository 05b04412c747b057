//! Trip tracks (one per booking, created on accept), their waypoints, and
//! share links (docs/API.md#tracking, docs/API.md#share-links).

use super::DbError;
use crate::domain::booking::TrackStatus;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Double, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::schema::{bookings, tracking_shares, trip_tracks, trip_waypoints};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = trip_tracks, check_for_backend(diesel::pg::Pg))]
pub struct Track {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub runner_id: Uuid,
    pub status: TrackStatus,
    pub total_distance_km: f64,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i32,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = trip_waypoints, check_for_backend(diesel::pg::Pg))]
pub struct Waypoint {
    pub id: Uuid,
    pub track_id: Uuid,
    pub latitude: f64,
    pub longitude: f64,
    pub speed_kmh: f64,
    pub heading_degrees: f64,
    pub recorded_at: DateTime<Utc>,
}

/// A waypoint on its way to the database (batched by the location writer).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = trip_waypoints)]
pub struct NewWaypoint {
    pub id: Uuid,
    pub track_id: Uuid,
    pub latitude: f64,
    pub longitude: f64,
    pub speed_kmh: f64,
    pub heading_degrees: f64,
    pub recorded_at: DateTime<Utc>,
}

/// On accept: the booking's track becomes active for this runner. After a
/// decline the same track is reused with the new runner and no waypoints.
pub async fn start(
    conn: &mut Conn,
    booking_id: Uuid,
    runner_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Track, diesel::result::Error> {
    let track: Track = diesel::insert_into(trip_tracks::table)
        .values((
            trip_tracks::id.eq(super::new_id()),
            trip_tracks::booking_id.eq(booking_id),
            trip_tracks::runner_id.eq(runner_id),
            trip_tracks::status.eq(TrackStatus::Active),
            trip_tracks::started_at.eq(now),
        ))
        .on_conflict(trip_tracks::booking_id)
        .do_update()
        .set((
            trip_tracks::runner_id.eq(runner_id),
            trip_tracks::status.eq(TrackStatus::Active),
            trip_tracks::total_distance_km.eq(0.0),
            trip_tracks::started_at.eq(now),
            trip_tracks::completed_at.eq(None::<DateTime<Utc>>),
            trip_tracks::version.eq(trip_tracks::version + 1),
        ))
        .returning(Track::as_returning())
        .get_result(conn)
        .await?;
    diesel::delete(trip_waypoints::table.filter(trip_waypoints::track_id.eq(track.id))).execute(conn).await?;
    Ok(track)
}

#[derive(QueryableByName)]
struct Distance {
    #[diesel(sql_type = Double)]
    km: f64,
}

/// On delivery: completed, with the total distance = Σ haversine over the
/// waypoints in time order, rounded to 3 decimals.
pub async fn complete(
    conn: &mut Conn,
    booking_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Track>, diesel::result::Error> {
    let Some(track) = find(conn, booking_id).await? else {
        return Ok(None);
    };
    let km = diesel::sql_query(
        "SELECT coalesce(round(sum(2 * 6371 * asin(sqrt(\
             power(sin(radians(lat2 - lat1) / 2), 2) + \
             cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lng2 - lng1) / 2), 2))))::numeric, 3), 0)::float8 AS km \
         FROM (SELECT latitude AS lat2, longitude AS lng2, \
                      lag(latitude) OVER w AS lat1, lag(longitude) OVER w AS lng1 \
               FROM trip_waypoints WHERE track_id = $1 WINDOW w AS (ORDER BY recorded_at, id)) legs \
         WHERE lat1 IS NOT NULL",
    )
    .bind::<SqlUuid, _>(track.id)
    .get_result::<Distance>(conn)
    .await?
    .km;
    let done = diesel::update(trip_tracks::table.find(track.id))
        .set((
            trip_tracks::status.eq(TrackStatus::Completed),
            trip_tracks::completed_at.eq(Some(now)),
            trip_tracks::total_distance_km.eq(km),
            trip_tracks::version.eq(trip_tracks::version + 1),
        ))
        .returning(Track::as_returning())
        .get_result(conn)
        .await?;
    Ok(Some(done))
}

/// On cancel: the track (if any) stops collecting positions.
pub async fn cancel(conn: &mut Conn, booking_id: Uuid) -> Result<Option<Track>, diesel::result::Error> {
    diesel::update(
        trip_tracks::table
            .filter(trip_tracks::booking_id.eq(booking_id))
            .filter(trip_tracks::status.eq(TrackStatus::Active)),
    )
    .set((trip_tracks::status.eq(TrackStatus::Cancelled), trip_tracks::version.eq(trip_tracks::version + 1)))
    .returning(Track::as_returning())
    .get_result(conn)
    .await
    .optional()
}

pub async fn find(conn: &mut Conn, booking_id: Uuid) -> Result<Option<Track>, diesel::result::Error> {
    trip_tracks::table
        .filter(trip_tracks::booking_id.eq(booking_id))
        .select(Track::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn waypoints(conn: &mut Conn, track_id: Uuid) -> Result<Vec<Waypoint>, DbError> {
    Ok(trip_waypoints::table
        .filter(trip_waypoints::track_id.eq(track_id))
        .order((trip_waypoints::recorded_at.asc(), trip_waypoints::id.asc()))
        .select(Waypoint::as_select())
        .load(conn)
        .await?)
}

/// The runner's current trip: (booking, track) of an `accepted` or
/// `in_progress` booking assigned to them with an active track.
pub async fn active_trip(conn: &mut Conn, runner_id: Uuid) -> Result<Option<(Uuid, Uuid)>, DbError> {
    Ok(trip_tracks::table
        .inner_join(bookings::table.on(bookings::id.eq(trip_tracks::booking_id)))
        .filter(trip_tracks::runner_id.eq(runner_id))
        .filter(trip_tracks::status.eq(TrackStatus::Active))
        .filter(bookings::runner_id.eq(runner_id))
        .filter(bookings::status.eq_any(["accepted", "in_progress"]))
        .order(trip_tracks::started_at.desc())
        .select((trip_tracks::booking_id, trip_tracks::id))
        .first(conn)
        .await
        .optional()?)
}

/// Appends waypoints in one multi-row INSERT. Waypoints whose track is no
/// longer active are dropped by the caller's filter, not here.
pub async fn insert_waypoints(conn: &mut Conn, rows: &[NewWaypoint]) -> Result<usize, DbError> {
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(diesel::insert_into(trip_waypoints::table).values(rows).execute(conn).await?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tracking_shares, check_for_backend(diesel::pg::Pg))]
pub struct Share {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub async fn create_share(
    conn: &mut Conn,
    booking_id: Uuid,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Result<Share, DbError> {
    Ok(diesel::insert_into(tracking_shares::table)
        .values((
            tracking_shares::id.eq(super::new_id()),
            tracking_shares::booking_id.eq(booking_id),
            tracking_shares::token.eq(token),
            tracking_shares::expires_at.eq(expires_at),
        ))
        .returning(Share::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find_share(conn: &mut Conn, token: &str) -> Result<Option<Share>, DbError> {
    Ok(tracking_shares::table
        .filter(tracking_shares::token.eq(token))
        .select(Share::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// A runner's newest position from a batch of pings.
pub struct LatestPosition {
    pub runner_id: Uuid,
    pub latitude: f64,
    pub longitude: f64,
    pub at: DateTime<Utc>,
}

/// Moves each runner to its newest position in one statement; an older
/// position than the stored one, or a runner off shift, changes nothing.
pub async fn write_positions(conn: &mut Conn, batch: &[LatestPosition]) -> QueryResult<usize> {
    if batch.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = batch.iter().map(|p| p.runner_id).collect();
    let lats: Vec<f64> = batch.iter().map(|p| p.latitude).collect();
    let lngs: Vec<f64> = batch.iter().map(|p| p.longitude).collect();
    let ats: Vec<DateTime<Utc>> = batch.iter().map(|p| p.at).collect();
    super::prepared::Prepared::new(
        "UPDATE runners AS r SET latitude = v.lat, longitude = v.lng, location_updated_at = v.at, updated_at = now() \
         FROM unnest($1, $2, $3, $4) AS v(user_id, lat, lng, at) \
         WHERE r.user_id = v.user_id AND r.session_status = 'active' \
           AND (r.location_updated_at IS NULL OR r.location_updated_at <= v.at)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Double>, _>(lats)
    .bind::<Array<Double>, _>(lngs)
    .bind::<Array<Timestamptz>, _>(ats)
    .execute(conn)
    .await
}

/// One kept point of a trip's route.
pub struct KeptWaypoint {
    pub track_id: Uuid,
    pub latitude: f64,
    pub longitude: f64,
    pub speed_kmh: f64,
    pub heading_degrees: f64,
    pub recorded_at: DateTime<Utc>,
}

/// Appends waypoints in one statement, only to tracks still active (a late
/// ping after delivery is dropped).
pub async fn write_waypoints(conn: &mut Conn, batch: &[KeptWaypoint]) -> QueryResult<usize> {
    if batch.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = batch.iter().map(|_| super::new_id()).collect();
    super::prepared::Prepared::new(
        "INSERT INTO trip_waypoints (id, track_id, latitude, longitude, speed_kmh, heading_degrees, recorded_at) \
         SELECT v.* FROM unnest($1, $2, $3, $4, $5, $6, $7) \
             AS v(id, track_id, latitude, longitude, speed_kmh, heading_degrees, recorded_at) \
         JOIN trip_tracks t ON t.id = v.track_id AND t.status = 'active'",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<SqlUuid>, _>(batch.iter().map(|w| w.track_id).collect::<Vec<_>>())
    .bind::<Array<Double>, _>(batch.iter().map(|w| w.latitude).collect::<Vec<_>>())
    .bind::<Array<Double>, _>(batch.iter().map(|w| w.longitude).collect::<Vec<_>>())
    .bind::<Array<Double>, _>(batch.iter().map(|w| w.speed_kmh).collect::<Vec<_>>())
    .bind::<Array<Double>, _>(batch.iter().map(|w| w.heading_degrees).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(batch.iter().map(|w| w.recorded_at).collect::<Vec<_>>())
    .execute(conn)
    .await
}
