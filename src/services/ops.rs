//! The operators' live view (docs/PROTOCOL.md#ops): an admin's `/ws`
//! subscribes to `ops` and gets a snapshot of the city, then once a second
//! what changed: runners (position, idle / offered / on a trip / offline)
//! and bookings (waiting, assigned, moving, finished). Read from Postgres
//! (the truth, whichever node wrote it) and the offers held in Redis; one
//! look a second per console, so each runner moves at most once a second.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::Services;
use crate::db::ops::{self, BookingRow, RunnerRow};
use crate::db::redis::RedisHandle;
use crate::error::AppError;

/// Rows a console is sent at most, per kind and look.
const MAX_ROWS: i64 = 20_000;
/// Each look reads back this far before the last one: a row committed by
/// a transaction that began before it is not missed.
const OVERLAP_SECS: i64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunnerState {
    Idle,
    Offered,
    OnTrip,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpsRunner {
    pub id: Uuid,
    pub name: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub state: RunnerState,
    /// the booking offered to it now
    pub offer: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpsBooking {
    pub id: Uuid,
    pub booking_number: String,
    pub status: String,
    pub runner_id: Option<Uuid>,
    pub pickup: [f64; 2],
    pub dropoff: Option<[f64; 2]>,
    #[serde(serialize_with = "crate::domain::time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::domain::time::serialize_opt")]
    pub scheduled_at: Option<DateTime<Utc>>,
    /// requested and nobody has it yet
    pub waiting: bool,
}

/// One message of the feed: the whole view (`snapshot`) or what changed.
#[derive(Debug, Clone, Serialize)]
pub struct OpsFrame {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(serialize_with = "crate::domain::time::serialize")]
    pub as_of: DateTime<Utc>,
    pub runners: Vec<OpsRunner>,
    pub bookings: Vec<OpsBooking>,
}

/// One console's feed: what it was last sent.
#[derive(Debug, Default)]
pub struct OpsFeed {
    since: Option<DateTime<Utc>>,
    runners: HashMap<Uuid, OpsRunner>,
    bookings: HashMap<Uuid, OpsBooking>,
}

fn runner(r: RunnerRow) -> OpsRunner {
    let state = if !r.online {
        RunnerState::Offline
    } else if r.on_trip {
        RunnerState::OnTrip
    } else {
        RunnerState::Idle
    };
    OpsRunner { id: r.user_id, name: r.full_name, lat: r.latitude, lng: r.longitude, state, offer: None }
}

fn booking(b: BookingRow) -> OpsBooking {
    let waiting = b.status == "requested" && b.runner_id.is_none();
    OpsBooking {
        id: b.id,
        booking_number: b.booking_number,
        status: b.status,
        runner_id: b.runner_id,
        pickup: [b.pickup_lat, b.pickup_lng],
        dropoff: b.dropoff_lat.zip(b.dropoff_lng).map(|(a, b)| [a, b]),
        created_at: b.created_at,
        scheduled_at: b.scheduled_at,
        waiting,
    }
}

fn finished(status: &str) -> bool {
    matches!(status, "completed" | "cancelled")
}

impl OpsFeed {
    /// The next message: the snapshot first, then only what changed (or
    /// `None` when nothing did).
    pub async fn next(&mut self, s: &Services, redis: &RedisHandle) -> Result<Option<OpsFrame>, AppError> {
        let first = self.since.is_none();
        let read_since = self.since.map(|t| t - Duration::seconds(OVERLAP_SECS));
        let (as_of, runner_rows, booking_rows) = {
            let mut conn = s.pool.get().await?;
            let as_of = ops::now(&mut conn).await?;
            let r = ops::runners(&mut conn, read_since, MAX_ROWS).await?;
            let b = ops::bookings(&mut conn, read_since, MAX_ROWS).await?;
            (as_of, r, b)
        };
        let mut changed_runners: HashMap<Uuid, OpsRunner> = HashMap::new();
        for r in runner_rows.into_iter().map(runner) {
            if r.state != RunnerState::Offline || self.runners.contains_key(&r.id) {
                changed_runners.insert(r.id, r);
            }
        }
        // offers live in Redis: look them up for every runner on shift
        let mut view: HashMap<Uuid, OpsRunner> = self.runners.clone();
        view.extend(changed_runners.iter().map(|(id, r)| (*id, r.clone())));
        view.retain(|_, r| r.state != RunnerState::Offline || changed_runners.contains_key(&r.id));
        let ids: Vec<Uuid> = view.values().filter(|r| r.state != RunnerState::Offline).map(|r| r.id).collect();
        let offers = redis.offers_held(&ids).await.map_err(|e| AppError::Unavailable(e.to_string()))?;
        for (id, offer) in ids.into_iter().zip(offers) {
            if let Some(r) = view.get_mut(&id) {
                r.offer = offer;
                if r.state != RunnerState::OnTrip {
                    r.state = if offer.is_some() { RunnerState::Offered } else { RunnerState::Idle };
                }
            }
        }
        let runners: Vec<OpsRunner> =
            view.values().filter(|r| first || self.runners.get(&r.id) != Some(*r)).cloned().collect();
        let mut bookings = Vec::new();
        for b in booking_rows.into_iter().map(booking) {
            let known = self.bookings.get(&b.id);
            if first || known != Some(&b) {
                if finished(&b.status) {
                    if self.bookings.remove(&b.id).is_some() {
                        bookings.push(b);
                    }
                } else {
                    self.bookings.insert(b.id, b.clone());
                    bookings.push(b);
                }
            }
        }
        for r in &runners {
            if r.state == RunnerState::Offline {
                self.runners.remove(&r.id);
            } else {
                self.runners.insert(r.id, r.clone());
            }
        }
        self.since = Some(as_of);
        if !first && runners.is_empty() && bookings.is_empty() {
            return Ok(None);
        }
        Ok(Some(OpsFrame { kind: if first { "ops.snapshot" } else { "ops.update" }, as_of, runners, bookings }))
    }
}
