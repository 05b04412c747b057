//! Batches runner positions and trip waypoints into PostGIS: at most one
//! UPDATE of `runners` (latest position per runner) and one INSERT of
//! waypoints per flush, so no ping costs its own write. A trip keeps at
//! most one waypoint a second (more only for a jump of 200 m or more):
//! the route the apps draw needs no more, and a fast pinger does not turn
//! into a write load.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, Double, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::messages::{Flush, RecordPosition};
use crate::db::PgPool;
use crate::domain::geo::Coordinates;

pub struct LocationWriter {
    pool: PgPool,
    every: Duration,
    positions: HashMap<Uuid, (f64, f64, DateTime<Utc>)>,
    waypoints: VecDeque<RecordPosition>,
    /// The last waypoint kept per trip track: (recorded at, position).
    last_kept: HashMap<Uuid, (DateTime<Utc>, Coordinates)>,
}

/// Waypoints closer together than this (in time) are thinned…
const WAYPOINT_GAP: chrono::TimeDelta = chrono::TimeDelta::seconds(1);
/// …unless the runner moved at least this far.
const WAYPOINT_JUMP_KM: f64 = 0.2;

/// A waypoint buffer beyond this is dropped oldest-first (the database is
/// down for long): positions are live data, memory must stay bounded.
const MAX_BUFFERED_WAYPOINTS: usize = 200_000;

impl LocationWriter {
    pub fn new(pool: PgPool, every: Duration) -> Self {
        Self { pool, every, positions: HashMap::new(), waypoints: VecDeque::new(), last_kept: HashMap::new() }
    }

    /// One waypoint a second per trip, or a jump.
    fn keep_waypoint(&mut self, track_id: Uuid, msg: &RecordPosition) -> bool {
        let keep = match self.last_kept.get(&track_id) {
            None => true,
            Some((at, where_)) => {
                msg.recorded_at - *at >= WAYPOINT_GAP
                    || msg.recorded_at < *at
                    || where_.distance_km(&msg.at) >= WAYPOINT_JUMP_KM
            }
        };
        if keep {
            self.last_kept.insert(track_id, (msg.recorded_at, msg.at));
        }
        keep
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.positions.is_empty() && self.waypoints.is_empty() {
            return;
        }
        let positions = std::mem::take(&mut self.positions);
        let waypoints = std::mem::take(&mut self.waypoints);
        // trips not heard from for a while are over: forget their last waypoint
        let stale = Utc::now() - chrono::TimeDelta::minutes(10);
        self.last_kept.retain(|_, (at, _)| *at > stale);
        let pool = self.pool.clone();
        let write = async move {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            if !positions.is_empty() {
                let (mut ids, mut lats, mut lngs, mut ats) = (vec![], vec![], vec![], vec![]);
                for (id, (lat, lng, at)) in &positions {
                    ids.push(*id);
                    lats.push(*lat);
                    lngs.push(*lng);
                    ats.push(*at);
                }
                diesel::sql_query(
                    "UPDATE runners AS r SET latitude = v.lat, longitude = v.lng, location_updated_at = v.at \
                     FROM unnest($1, $2, $3, $4) AS v(user_id, lat, lng, at) \
                     WHERE r.user_id = v.user_id AND r.session_status = 'active' \
                       AND (r.location_updated_at IS NULL OR r.location_updated_at <= v.at)",
                )
                .bind::<Array<SqlUuid>, _>(ids)
                .bind::<Array<Double>, _>(lats)
                .bind::<Array<Double>, _>(lngs)
                .bind::<Array<Timestamptz>, _>(ats)
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            }
            let trip_points: Vec<&RecordPosition> = waypoints.iter().filter(|w| w.track_id.is_some()).collect();
            if !trip_points.is_empty() {
                let mut cols = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
                for w in trip_points {
                    cols.0.push(Uuid::new_v4());
                    cols.1.push(w.track_id.unwrap_or_default());
                    cols.2.push(w.at.latitude);
                    cols.3.push(w.at.longitude);
                    cols.4.push(w.speed_kmh);
                    cols.5.push(w.heading_degrees);
                    cols.6.push(w.recorded_at);
                }
                // Only into tracks still active: a late ping after delivery is dropped.
                diesel::sql_query(
                    "INSERT INTO trip_waypoints (id, track_id, latitude, longitude, speed_kmh, heading_degrees, recorded_at) \
                     SELECT v.* FROM unnest($1, $2, $3, $4, $5, $6, $7) \
                         AS v(id, track_id, latitude, longitude, speed_kmh, heading_degrees, recorded_at) \
                     JOIN trip_tracks t ON t.id = v.track_id AND t.status = 'active'",
                )
                .bind::<Array<SqlUuid>, _>(cols.0)
                .bind::<Array<SqlUuid>, _>(cols.1)
                .bind::<Array<Double>, _>(cols.2)
                .bind::<Array<Double>, _>(cols.3)
                .bind::<Array<Double>, _>(cols.4)
                .bind::<Array<Double>, _>(cols.5)
                .bind::<Array<Timestamptz>, _>(cols.6)
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        };
        ctx.wait(write.into_actor(self).map(|result, _, _| {
            if let Err(err) = result {
                tracing::warn!(error = %err, "location flush failed; those positions are dropped");
            }
        }));
    }
}

impl Actor for LocationWriter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(100_000);
        ctx.run_interval(self.every, |act, ctx| act.flush(ctx));
    }
}

impl Handler<RecordPosition> for LocationWriter {
    type Result = ();

    fn handle(&mut self, msg: RecordPosition, _: &mut Self::Context) {
        let newer = self.positions.get(&msg.runner_id).is_none_or(|(_, _, at)| *at <= msg.recorded_at);
        if newer {
            self.positions.insert(msg.runner_id, (msg.at.latitude, msg.at.longitude, msg.recorded_at));
        }
        if let Some(track_id) = msg.track_id
            && self.keep_waypoint(track_id, &msg)
        {
            if self.waypoints.len() >= MAX_BUFFERED_WAYPOINTS {
                self.waypoints.pop_front();
            }
            self.waypoints.push_back(msg);
        }
    }
}

impl Handler<Flush> for LocationWriter {
    type Result = ();

    fn handle(&mut self, _: Flush, ctx: &mut Self::Context) {
        self.flush(ctx);
    }
}
