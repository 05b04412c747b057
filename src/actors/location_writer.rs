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
use uuid::Uuid;

use super::messages::{Flush, RecordPosition};
use crate::db::PgPool;
use crate::db::tracking::{self, KeptWaypoint, LatestPosition};
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
            let latest: Vec<LatestPosition> = positions
                .iter()
                .map(|(id, (lat, lng, at))| LatestPosition { runner_id: *id, latitude: *lat, longitude: *lng, at: *at })
                .collect();
            tracking::write_positions(&mut conn, &latest).await.map_err(|e| e.to_string())?;
            let points: Vec<KeptWaypoint> = waypoints
                .iter()
                .filter_map(|w| {
                    Some(KeptWaypoint {
                        track_id: w.track_id?,
                        latitude: w.at.latitude,
                        longitude: w.at.longitude,
                        speed_kmh: w.speed_kmh,
                        heading_degrees: w.heading_degrees,
                        recorded_at: w.recorded_at,
                    })
                })
                .collect();
            tracking::write_waypoints(&mut conn, &points).await.map_err(|e| e.to_string())?;
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
