//! Dispatch leases and candidate search (dispatcher issue). Contention is
//! settled here in SQL: a booking is dispatched by the one node holding a
//! live lease; candidates come from one KNN query over runners.

use super::DbError;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Untyped;
use diesel::sql_types::{Array, BigInt, Double, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::bookings::POOL_FILTER;
use super::prepared::Prepared;
use super::runners::Runner;

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    booking_id: Uuid,
}

/// With dispatch trigger `escrow_held`: the booking's money is held.
const ESCROW_HELD: &str = "EXISTS (SELECT 1 FROM payments p WHERE p.booking_id = b.id AND p.escrow_status = 'held')";

fn escrow_filter(require_held: bool) -> String {
    if require_held { format!("AND {ESCROW_HELD}") } else { String::new() }
}

/// A scheduled booking is dispatched from `scheduled_at − lead` (the lead,
/// in seconds, bound as parameter `$param`): the schedule lives in the
/// booking row, so whichever node sweeps first after that time takes it.
fn schedule_gate(param: u8) -> String {
    format!("AND (b.scheduled_at IS NULL OR b.scheduled_at <= now() + make_interval(secs => ${param}))")
}

/// What decides that a booking may be dispatched now, besides its status.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    /// Only bookings paid into escrow (dispatch trigger `escrow_held`).
    pub require_held: bool,
    /// A scheduled booking waits until this many seconds before its time.
    pub schedule_lead_secs: f64,
}

#[derive(QueryableByName)]
struct Swept {
    #[diesel(sql_type = SqlUuid)]
    booking_id: Uuid,
    /// the lease row was inserted, not taken over (`xmax = 0`)
    #[diesel(sql_type = diesel::sql_types::Bool)]
    first: bool,
}

/// Claims up to `limit` requested, unassigned bookings that nobody is
/// dispatching (never dispatched, or the lease lapsed and the retry time
/// has come) and whose time has come, for `node`; each with whether this
/// is its first dispatch (a scheduled trip reaching its lead time), not a
/// retry or a takeover.
pub async fn claim_due(
    conn: &mut Conn,
    node: &str,
    lease_secs: f64,
    limit: i64,
    gate: Gate,
) -> Result<Vec<(Uuid, bool)>, DbError> {
    let rows: Vec<Swept> = Prepared::new(format!(
        "WITH due AS ( \
             SELECT b.id FROM bookings b LEFT JOIN booking_dispatch d ON d.booking_id = b.id \
             WHERE b.status = 'requested' AND b.runner_id IS NULL {} {} \
               AND (d.booking_id IS NULL OR (d.lease_until < now() AND (d.next_at IS NULL OR d.next_at <= now()))) \
             ORDER BY b.created_at LIMIT $3 FOR UPDATE OF b SKIP LOCKED) \
         INSERT INTO booking_dispatch (booking_id, node, lease_until) \
         SELECT id, $1, now() + make_interval(secs => $2) FROM due \
         ON CONFLICT (booking_id) DO UPDATE SET node = EXCLUDED.node, lease_until = EXCLUDED.lease_until, next_at = NULL \
             WHERE booking_dispatch.lease_until < now() \
         RETURNING booking_id, (xmax = 0) AS first",
        escrow_filter(gate.require_held),
        schedule_gate(4)
    ))
    .bind::<Text, _>(node)
    .bind::<Double, _>(lease_secs)
    .bind::<BigInt, _>(limit)
    .bind::<Double, _>(gate.schedule_lead_secs)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.booking_id, r.first)).collect())
}

/// Claims one booking right away (declined, or paid into escrow), if its
/// time has come.
pub async fn claim(
    conn: &mut Conn,
    booking_id: Uuid,
    node: &str,
    lease_secs: f64,
    gate: Gate,
) -> Result<bool, DbError> {
    let rows: Vec<Claimed> = Prepared::new(format!(
        "INSERT INTO booking_dispatch (booking_id, node, lease_until) \
         SELECT b.id, $2, now() + make_interval(secs => $3) FROM bookings b \
         WHERE b.id = $1 AND b.status = 'requested' AND b.runner_id IS NULL {} {} \
         ON CONFLICT (booking_id) DO UPDATE SET node = EXCLUDED.node, lease_until = EXCLUDED.lease_until, next_at = NULL \
             WHERE booking_dispatch.lease_until < now() OR booking_dispatch.node = EXCLUDED.node \
         RETURNING booking_id",
        escrow_filter(gate.require_held),
        schedule_gate(4)
    ))
    .bind::<SqlUuid, _>(booking_id)
    .bind::<Text, _>(node)
    .bind::<Double, _>(lease_secs)
    .bind::<Double, _>(gate.schedule_lead_secs)
    .load(conn)
    .await?;
    Ok(!rows.is_empty())
}

/// Renews this node's leases; returns the bookings still ours and still
/// waiting for a runner (the others' rounds must stop).
pub async fn renew(conn: &mut Conn, node: &str, ids: &[Uuid], lease_secs: f64) -> Result<Vec<Uuid>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Claimed> = Prepared::new(
        "UPDATE booking_dispatch d SET lease_until = now() + make_interval(secs => $3) \
         FROM bookings b \
         WHERE d.booking_id = ANY($1) AND d.node = $2 AND b.id = d.booking_id \
           AND b.status = 'requested' AND b.runner_id IS NULL \
         RETURNING d.booking_id",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Text, _>(node)
    .bind::<Double, _>(lease_secs)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.booking_id).collect())
}

#[derive(QueryableByName)]
struct Passes {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    passes: i32,
}

/// A pass found nobody: release the lease until `retry_secs` from now.
/// Returns how many passes the booking has had.
pub async fn finish_pass(conn: &mut Conn, booking_id: Uuid, node: &str, retry_secs: f64) -> Result<i32, DbError> {
    let rows: Vec<Passes> = Prepared::new(
        "UPDATE booking_dispatch SET lease_until = now(), next_at = now() + make_interval(secs => $3), \
             passes = passes + 1 \
         WHERE booking_id = $1 AND node = $2 RETURNING passes",
    )
    .bind::<SqlUuid, _>(booking_id)
    .bind::<Text, _>(node)
    .bind::<Double, _>(retry_secs)
    .load(conn)
    .await?;
    Ok(rows.iter().map(|r| r.passes).next().unwrap_or(0))
}

/// An operator asks for a booking still waiting for a runner to be searched
/// again now: its retry pause is lifted (a round running on some node
/// carries on). False when the booking is not waiting for a runner.
pub async fn retry_now(conn: &mut Conn, booking_id: Uuid) -> Result<bool, DbError> {
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        waiting: bool,
    }
    let row: Waiting = Prepared::new(
        "WITH waiting AS (SELECT id FROM bookings WHERE id = $1 AND status = 'requested' AND runner_id IS NULL), \
              lifted AS (UPDATE booking_dispatch SET next_at = NULL \
                         WHERE booking_id IN (SELECT id FROM waiting) AND lease_until < now() RETURNING 1) \
         SELECT EXISTS (SELECT 1 FROM waiting) AS waiting",
    )
    .bind::<SqlUuid, _>(booking_id)
    .get_result(conn)
    .await?;
    Ok(row.waiting)
}

/// The round ended (assigned or cancelled): give the lease back.
pub async fn release(conn: &mut Conn, booking_id: Uuid, node: &str) -> Result<(), DbError> {
    Prepared::new("UPDATE booking_dispatch SET lease_until = now() WHERE booking_id = $1 AND node = $2")
        .bind::<SqlUuid, _>(booking_id)
        .bind::<Text, _>(node)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, QueryableByName)]
pub struct Candidate {
    #[diesel(embed)]
    pub runner: Runner,
    #[diesel(sql_type = Double)]
    pub distance_km: f64,
}

/// Kilometres per degree of latitude, rounded down so the search box
/// always covers the radius.
const KM_PER_DEGREE: f64 = 110.5;

/// Online, idle runners within `radius_km` of the pickup whose crates fit
/// (the open pool's SQL rule), skipping `exclude`: at most `limit`, the
/// nearest first, with their great-circle distance.
///
/// One index-ordered scan: the 2-D GiST index of `location::geometry`
/// walks runners outward from the pickup (`<->`), bounded by the radius's
/// box (`&&`), and stops at the `limit`-th runner that passes the filters;
/// in a dense city that is a few dozen index entries, not every runner in
/// the radius. Planar degrees order the walk; the exact distance is
/// `ST_Distance` on the sphere (they agree near the equator, Kuala Lumpur
/// included, and the ranking re-sorts what is returned).
pub async fn candidates(
    conn: &mut Conn,
    booking_id: Uuid,
    pickup: (f64, f64),
    radius_km: f64,
    exclude: &[Uuid],
    limit: i64,
) -> Result<Vec<Candidate>, DbError> {
    let (lat, lng) = pickup;
    let half_height = radius_km / KM_PER_DEGREE;
    let half_width = half_height / lat.to_radians().cos().abs().max(0.01);
    let query =
        CandidateQuery { booking_id, exclude, limit, lat, lng, radius_m: radius_km * 1000.0, half_width, half_height };
    Ok(query.load(conn).await?)
}

/// The candidate search as a statement the connection prepares once and
/// keeps (diesel never caches `sql_query`; `prepared` is the general form):
/// its plan is built once per connection instead of on every search, a
/// millisecond saved each time.
struct CandidateQuery<'a> {
    booking_id: Uuid,
    exclude: &'a [Uuid],
    limit: i64,
    lat: f64,
    lng: f64,
    radius_m: f64,
    half_width: f64,
    half_height: f64,
}

impl CandidateQuery<'_> {
    fn point<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("ST_SetSRID(ST_MakePoint(");
        out.push_bind_param::<Double, _>(&self.lng)?;
        out.push_sql(", ");
        out.push_bind_param::<Double, _>(&self.lat)?;
        out.push_sql("), 4326)");
        Ok(())
    }
}

impl QueryId for CandidateQuery<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for CandidateQuery<'_> {
    type SqlType = Untyped;
}

impl QueryFragment<Pg> for CandidateQuery<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH b AS MATERIALIZED (SELECT * FROM bookings WHERE id = ");
        out.push_bind_param::<SqlUuid, _>(&self.booking_id)?;
        out.push_sql(") SELECT r.*, ST_Distance(r.location, ");
        self.point(&mut out)?;
        out.push_sql(
            "::geography, false) / 1000.0 AS distance_km FROM b CROSS JOIN runners r \
                      WHERE r.session_status = 'active' AND r.location IS NOT NULL \
                      AND r.location::geometry && ST_Expand(",
        );
        self.point(&mut out)?;
        out.push_sql(", ");
        out.push_bind_param::<Double, _>(&self.half_width)?;
        out.push_sql(", ");
        out.push_bind_param::<Double, _>(&self.half_height)?;
        out.push_sql(") AND ST_DWithin(r.location, ");
        self.point(&mut out)?;
        out.push_sql("::geography, ");
        out.push_bind_param::<Double, _>(&self.radius_m)?;
        out.push_sql(", false) AND NOT (r.user_id = ANY(");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.exclude)?;
        out.push_sql(")) AND ");
        out.push_sql(POOL_FILTER);
        out.push_sql(
            " AND NOT EXISTS (SELECT 1 FROM bookings busy WHERE busy.runner_id = r.user_id \
                              AND busy.status IN ('accepted', 'in_progress')) \
              ORDER BY r.location::geometry <-> ",
        );
        self.point(&mut out)?;
        out.push_sql(" LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        Ok(())
    }
}

/// Appends a dispatch event about the offered runner (`booking.offered`,
/// `booking.offer_declined`, …) to the booking's stream under the booking's
/// row lock (so its sequence stays ordered); `extra` joins the event data.
pub async fn record_event(
    conn: &mut Conn,
    booking_id: Uuid,
    runner_id: Uuid,
    kind: &str,
    at: chrono::DateTime<chrono::Utc>,
    extra: serde_json::Value,
) -> Result<(), DbError> {
    use diesel_async::AsyncConnection;
    conn.transaction::<(), DbError, _>(async |conn| {
        let Some(booking) = locked(conn, booking_id).await? else {
            return Ok(());
        };
        let facts = crate::domain::events::BookingFacts { runner_id: Some(runner_id), ..booking.facts() };
        let event = crate::domain::events::booking_event(kind, &facts, at, extra);
        super::stream::append(conn, &facts, &event, None).await?;
        Ok(())
    })
    .await
}

/// The booking, its row locked to the end of the transaction (one statement).
async fn locked(conn: &mut Conn, booking_id: Uuid) -> Result<Option<super::bookings::Booking>, DbError> {
    use super::schema::bookings;
    Ok(bookings::table
        .find(booking_id)
        .select(super::bookings::Booking::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

/// Tells the owner where dispatch stands (`booking.searching`,
/// `booking.no_runner_yet`) while the booking still waits for a runner.
pub async fn notify_owner(conn: &mut Conn, booking_id: Uuid, kind: &str) -> Result<(), DbError> {
    use diesel_async::AsyncConnection;
    conn.transaction::<(), DbError, _>(async |conn| {
        let Some(booking) = locked(conn, booking_id).await? else {
            return Ok(());
        };
        if booking.status != crate::domain::booking::BookingStatus::Requested || booking.runner_id.is_some() {
            return Ok(()); // taken or cancelled meanwhile: nothing to tell
        }
        let facts = booking.facts();
        let event = crate::domain::events::booking_event(kind, &facts, chrono::Utc::now(), serde_json::json!({}));
        super::stream::append(conn, &facts, &event, None).await?;
        Ok(())
    })
    .await
}
