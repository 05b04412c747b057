//! Subscriptions: one live plan per user (active, or cancelled and not yet
//! expired), its charge in the ledger, and the discount it gives bookings.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::ledger::{self, Refs};
use super::schema::{booking_discounts, subscriptions as subs, users};
use super::{Conn, DbError};
use crate::domain::ledger::subscription_charged;
use crate::domain::promo::Plan;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subs, check_for_backend(diesel::pg::Pg))]
pub struct Subscription {
    pub id: Uuid,
    pub user_id: Uuid,
    pub plan: String,
    pub price_cents: i64,
    pub discount_percent: i32,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: String,
    pub auto_renew: bool,
    pub payment_reference: String,
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    /// `expired` once past `expires_at`, whatever is stored.
    pub fn status_at(&self, now: DateTime<Utc>) -> &str {
        if self.expires_at <= now { "expired" } else { &self.status }
    }
}

/// The user's subscription still in force (active, or cancelled but not
/// yet expired).
pub async fn live(conn: &mut Conn, user: Uuid) -> Result<Option<Subscription>, DbError> {
    Ok(subs::table
        .filter(subs::user_id.eq(user))
        .filter(subs::status.eq_any(["active", "cancelled"]))
        .filter(subs::expires_at.gt(Utc::now()))
        .order(subs::expires_at.desc())
        .select(Subscription::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Locks the user's row: subscribing is serialised per user.
async fn lock_user(conn: &mut Conn, user: Uuid) -> Result<(), DbError> {
    users::table.find(user).select(users::id).for_update().first::<Uuid>(conn).await.optional()?;
    Ok(())
}

/// 409 when a plan is still in force.
pub async fn check_free(conn: &mut Conn, user: Uuid) -> Result<(), DbError> {
    if live(conn, user).await?.is_some() {
        return Err(DbError::Conflict("subscription already active".into()));
    }
    Ok(())
}

/// Records a paid subscription (the charge already captured under
/// `reference`) with its ledger movement; 409 if another one won meanwhile.
pub async fn start(conn: &mut Conn, user: Uuid, plan: &Plan, reference: &str) -> Result<Subscription, DbError> {
    conn.transaction::<Subscription, DbError, _>(async |conn| {
        lock_user(conn, user).await?;
        check_free(conn, user).await?;
        let now = Utc::now();
        let row: Subscription = diesel::insert_into(subs::table)
            .values((
                subs::id.eq(super::new_id()),
                subs::user_id.eq(user),
                subs::plan.eq(plan.plan),
                subs::price_cents.eq(plan.price_cents),
                subs::discount_percent.eq(plan.discount_percent as i32),
                subs::started_at.eq(now),
                subs::expires_at.eq(now + Duration::days(plan.duration_days)),
                subs::status.eq("active"),
                subs::auto_renew.eq(true),
                subs::payment_reference.eq(reference),
            ))
            .returning(Subscription::as_returning())
            .get_result(conn)
            .await?;
        ledger::post(conn, &subscription_charged(user, plan.price_cents), Refs::default()).await?;
        let body = format!(
            "{} for 30 days: {}% off every trip until {}",
            plan.plan,
            plan.discount_percent,
            row.expires_at.format("%-d %b %Y")
        );
        let metadata =
            serde_json::json!({"subscription_id": row.id, "plan": plan.plan, "price_cents": plan.price_cents});
        super::notifications::create(conn, user, None, "subscription.started", "Subscription Active", &body, metadata)
            .await?;
        Ok(row)
    })
    .await
}

/// No renewal; the plan stays in force until `expires_at`. 404 without one.
pub async fn cancel(conn: &mut Conn, user: Uuid) -> Result<Subscription, DbError> {
    let current = live(conn, user).await?.ok_or(DbError::Missing("no active subscription"))?;
    Ok(diesel::update(subs::table.find(current.id))
        .set((subs::status.eq("cancelled"), subs::auto_renew.eq(false)))
        .returning(Subscription::as_returning())
        .get_result(conn)
        .await?)
}

/// Fixes a subscriber's discount on a booking just created.
pub async fn record_booking_discount(conn: &mut Conn, booking: Uuid, cents: i64, reason: &str) -> Result<(), DbError> {
    if cents <= 0 {
        return Ok(());
    }
    diesel::insert_into(booking_discounts::table)
        .values((
            booking_discounts::booking_id.eq(booking),
            booking_discounts::discount_cents.eq(cents),
            booking_discounts::reason.eq(reason),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Bookings' discounts (cents, reason), for the ones that have one.
pub async fn booking_discounts(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<(Uuid, i64, String)>, DbError> {
    Ok(booking_discounts::table
        .filter(booking_discounts::booking_id.eq_any(ids))
        .select((booking_discounts::booking_id, booking_discounts::discount_cents, booking_discounts::reason))
        .load(conn)
        .await?)
}
