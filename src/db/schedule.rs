//! Scheduled trips' notices (docs/API.md#scheduled-trips): the reminder
//! before pickup, and the alarm when a scheduled booking reaches its time
//! with no runner. Each is given once: the booking rows are taken with
//! `FOR UPDATE SKIP LOCKED` and marked in the transaction that appends the
//! event, so any number of nodes may sweep at once.

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::json;

use super::bookings::Booking;
use super::schema::{bookings, users};
use super::{Conn, DbError, notifications, stream};
use crate::domain::events::booking_event;
use crate::domain::identity::Role;
use crate::domain::notifications::{render_for_admins, schedule_text};

/// Owners (and the assigned runner) of bookings scheduled within
/// `lead_secs` from now, booked at least that far ahead and not reminded
/// yet, get `booking.reminder`. Returns how many bookings were reminded.
pub async fn remind_due(conn: &mut Conn, lead_secs: f64, limit: i64) -> Result<usize, DbError> {
    conn.transaction::<usize, DbError, _>(async |conn| {
        let due: Vec<Booking> = diesel::sql_query(
            "SELECT * FROM bookings \
             WHERE scheduled_at IS NOT NULL AND status IN ('requested', 'accepted') AND reminded_at IS NULL \
               AND scheduled_at > now() AND scheduled_at <= now() + make_interval(secs => $1) \
               AND created_at < scheduled_at - make_interval(secs => $1) \
             ORDER BY scheduled_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind::<Double, _>(lead_secs)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
        let now = Utc::now();
        for booking in &due {
            diesel::update(bookings::table.find(booking.id)).set(bookings::reminded_at.eq(now)).execute(conn).await?;
            let at = booking.scheduled_at.unwrap_or(now);
            let extra = json!({"scheduled_at": crate::domain::time::format(&at), "at_local": schedule_text(at)});
            let event = booking_event("reminder", &booking.facts(), now, extra);
            stream::append(conn, &booking.facts(), &event, None).await?;
        }
        Ok(due.len())
    })
    .await
}

/// Scheduled bookings whose time has come with no runner: the owner gets
/// `booking.schedule_missed` and every admin an alarm in their inbox (the
/// booking stays in the open pool; dispatch keeps trying). Returns how many.
pub async fn missed_due(conn: &mut Conn, limit: i64) -> Result<usize, DbError> {
    conn.transaction::<usize, DbError, _>(async |conn| {
        let due: Vec<Booking> = diesel::sql_query(
            "SELECT * FROM bookings \
             WHERE scheduled_at IS NOT NULL AND status = 'requested' AND runner_id IS NULL \
               AND schedule_missed_at IS NULL AND scheduled_at <= now() \
             ORDER BY scheduled_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let admins: Vec<uuid::Uuid> = users::table
            .filter(users::role.eq(Role::Admin.as_str()).and(users::is_banned.eq(false)))
            .select(users::id)
            .load(conn)
            .await?;
        let now = Utc::now();
        for booking in &due {
            diesel::update(bookings::table.find(booking.id))
                .set(bookings::schedule_missed_at.eq(now))
                .execute(conn)
                .await?;
            let at = booking.scheduled_at.unwrap_or(now);
            let extra = json!({"scheduled_at": crate::domain::time::format(&at), "at_local": schedule_text(at)});
            let facts = booking.facts();
            let event = booking_event("schedule_missed", &facts, now, extra);
            stream::append(conn, &facts, &event, None).await?;
            let (title, body) = render_for_admins(&event.event_type, facts.booking_number, &event.data);
            let metadata = json!({"booking_number": facts.booking_number, "event_id": event.id});
            for admin in &admins {
                notifications::create(
                    conn,
                    *admin,
                    Some(booking.id),
                    &event.event_type,
                    &title,
                    &body,
                    metadata.clone(),
                )
                .await?;
            }
        }
        Ok(due.len())
    })
    .await
}
