//! The notification inbox, preferences and device tokens. Notifications are
//! written in the transaction of the change they tell about (so none is lost
//! or doubled), with a `notification.created` outbox event that pushes them
//! to the user's sockets; delivery on push/SMS/email channels happens after
//! commit (`actors::notifier`).

use super::DbError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use uuid::Uuid;

use super::schema::{device_tokens, notification_preferences, notifications};
use super::{Conn, outbox};
use crate::domain::events::CloudEvent;
use crate::domain::notifications::DeliveryStatus;
use crate::domain::time;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct Notification {
    pub id: Uuid,
    pub user_id: Uuid,
    pub booking_id: Option<Uuid>,
    pub event_type: String,
    pub title: String,
    pub body: String,
    pub channels: Vec<Option<String>>,
    pub channels_sent: Vec<Option<String>>,
    pub channels_failed: Vec<Option<String>>,
    pub retry_count: i32,
    pub status: DeliveryStatus,
    pub read_at: Option<DateTime<Utc>>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn strings(v: &[Option<String>]) -> Vec<String> {
    v.iter().flatten().cloned().collect()
}

impl Notification {
    /// NotificationItem (docs/API.md#notifications).
    pub fn item(&self) -> Value {
        json!({
            "id": self.id,
            "user_id": self.user_id,
            "booking_id": self.booking_id,
            "event_type": self.event_type,
            "type": self.event_type,
            "title": self.title,
            "body": self.body,
            "status": self.status,
            "is_read": self.read_at.is_some(),
            "read_at": self.read_at.map(|t| time::format(&t)),
            "channels_sent": strings(&self.channels_sent),
            "channels_failed": strings(&self.channels_failed),
            "metadata": self.metadata,
            "created_at": time::format(&self.created_at),
            "updated_at": time::format(&self.updated_at),
        })
    }

    /// CursorItem (docs/API.md#notifications): both spellings of each time.
    pub fn cursor_item(&self) -> Value {
        let created = time::format(&self.created_at);
        let read = self.read_at.map(|t| time::format(&t));
        json!({
            "id": self.id, "type": self.event_type, "title": self.title, "body": self.body,
            "booking_id": self.booking_id,
            "created_at": created, "createdAt": created, "read_at": read, "readAt": read,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notification_preferences, check_for_backend(diesel::pg::Pg))]
pub struct Preferences {
    pub id: Uuid,
    pub user_id: Uuid,
    pub enable_push: bool,
    pub enable_sms: bool,
    pub enable_email: bool,
    pub fcm_token: Option<String>,
    pub phone_number: Option<String>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn preferences(conn: &mut Conn, user_id: Uuid) -> Result<Option<Preferences>, diesel::result::Error> {
    notification_preferences::table
        .filter(notification_preferences::user_id.eq(user_id))
        .select(Preferences::as_select())
        .first(conn)
        .await
        .optional()
}

/// Stores a notification for `user_id` (always, whatever the channels) and
/// queues its push to the user's sockets. Call inside the transaction of
/// the change it reports.
///
/// Two round trips: the insert reads the user's preferences itself. The
/// channels are those both enabled and with a contact detail (push needs
/// an FCM token, SMS a phone number, email an address); with none the
/// notification is `sent` at once (the inbox and the sockets only),
/// otherwise `pending` for the notifier.
pub async fn create(
    conn: &mut Conn,
    user_id: Uuid,
    booking_id: Option<Uuid>,
    event_type: &str,
    title: &str,
    body: &str,
    metadata: Value,
) -> Result<(), diesel::result::Error> {
    let row: Notification = super::prepared::Prepared::new(
        "INSERT INTO notifications (id, user_id, booking_id, event_type, title, body, channels, status, metadata) \
         SELECT $1, $2, $3, $4, $5, $6, c.channels, \
                CASE WHEN cardinality(c.channels) = 0 THEN $8 ELSE $9 END, $7 \
         FROM (SELECT coalesce((SELECT array_remove(ARRAY[ \
                   CASE WHEN p.enable_push AND coalesce(p.fcm_token, '') <> '' THEN 'push' END, \
                   CASE WHEN p.enable_sms AND coalesce(p.phone_number, '') <> '' THEN 'sms' END, \
                   CASE WHEN p.enable_email AND coalesce(p.email, '') <> '' THEN 'email' END], NULL) \
                FROM notification_preferences p WHERE p.user_id = $2), '{}') AS channels) c \
         RETURNING id, user_id, booking_id, event_type, title, body, channels, channels_sent, channels_failed, \
                   retry_count, status, read_at, metadata, created_at, updated_at",
    )
    .bind::<diesel::sql_types::Uuid, _>(super::new_id())
    .bind::<diesel::sql_types::Uuid, _>(user_id)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(booking_id)
    .bind::<diesel::sql_types::Text, _>(event_type)
    .bind::<diesel::sql_types::Text, _>(title)
    .bind::<diesel::sql_types::Text, _>(body)
    .bind::<diesel::sql_types::Jsonb, _>(metadata)
    .bind::<diesel::sql_types::Text, _>(DeliveryStatus::Sent)
    .bind::<diesel::sql_types::Text, _>(DeliveryStatus::Pending)
    .get_result(conn)
    .await?;
    let event = CloudEvent::new(
        "kilat-notification",
        "notification.created",
        row.created_at,
        json!({"user_id": user_id, "notification": row.item()}),
    );
    outbox::insert(conn, "user", user_id, &event).await
}

pub enum Page {
    Numbered { page: i64, limit: i64 },
    After { cursor: Option<(DateTime<Utc>, Uuid)>, limit: i64 },
}

/// Newest first; `total` only for numbered pages.
pub async fn list(conn: &mut Conn, user_id: Uuid, page: Page) -> Result<(Vec<Notification>, i64), DbError> {
    let base = || notifications::table.filter(notifications::user_id.eq(user_id)).into_boxed();
    match page {
        Page::Numbered { page, limit } => {
            let total = base().count().get_result(conn).await?;
            let rows = base()
                .order((notifications::created_at.desc(), notifications::id.desc()))
                .limit(limit)
                .offset((page - 1).saturating_mul(limit))
                .select(Notification::as_select())
                .load(conn)
                .await?;
            Ok((rows, total))
        }
        Page::After { cursor, limit } => {
            let mut q = base();
            if let Some((at, id)) = cursor {
                q = q.filter(
                    notifications::created_at.lt(at).or(notifications::created_at.eq(at).and(notifications::id.lt(id))),
                );
            }
            let rows = q
                .order((notifications::created_at.desc(), notifications::id.desc()))
                .limit(limit)
                .select(Notification::as_select())
                .load(conn)
                .await?;
            Ok((rows, 0))
        }
    }
}

pub async fn find_own(conn: &mut Conn, user_id: Uuid, id: Uuid) -> Result<Option<Notification>, DbError> {
    Ok(notifications::table
        .filter(notifications::id.eq(id))
        .filter(notifications::user_id.eq(user_id))
        .select(Notification::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Idempotent: a notification already read keeps its first read time.
pub async fn mark_read(conn: &mut Conn, user_id: Uuid, id: Uuid, at: DateTime<Utc>) -> Result<bool, DbError> {
    if find_own(conn, user_id, id).await?.is_none() {
        return Ok(false);
    }
    diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::user_id.eq(user_id))
            .filter(notifications::read_at.is_null()),
    )
    .set((notifications::read_at.eq(Some(at)), notifications::updated_at.eq(Utc::now())))
    .execute(conn)
    .await?;
    Ok(true)
}

/// Creates the row when missing; `None` leaves a field as it is.
pub async fn upsert_preferences(
    conn: &mut Conn,
    user_id: Uuid,
    flags: Option<(bool, bool, bool)>,
    fcm_token: Option<&str>,
) -> Result<(), DbError> {
    let now = Utc::now();
    diesel::insert_into(notification_preferences::table)
        .values((notification_preferences::id.eq(super::new_id()), notification_preferences::user_id.eq(user_id)))
        .on_conflict(notification_preferences::user_id)
        .do_nothing()
        .execute(conn)
        .await?;
    let target = notification_preferences::table.filter(notification_preferences::user_id.eq(user_id));
    if let Some((push, sms, email)) = flags {
        diesel::update(target)
            .set((
                notification_preferences::enable_push.eq(push),
                notification_preferences::enable_sms.eq(sms),
                notification_preferences::enable_email.eq(email),
                notification_preferences::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
    }
    if let Some(token) = fcm_token {
        diesel::update(target)
            .set((notification_preferences::fcm_token.eq(Some(token)), notification_preferences::updated_at.eq(now)))
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn upsert_device_token(
    conn: &mut Conn,
    user_id: Uuid,
    token: &str,
    platform: &str,
    scope_type: &str,
    scope_id: Option<Uuid>,
) -> Result<(), DbError> {
    diesel::insert_into(device_tokens::table)
        .values((
            device_tokens::id.eq(super::new_id()),
            device_tokens::user_id.eq(user_id),
            device_tokens::token.eq(token),
            device_tokens::platform.eq(platform),
            device_tokens::scope_type.eq(scope_type),
            device_tokens::scope_id.eq(scope_id),
        ))
        .on_conflict((device_tokens::user_id, device_tokens::token))
        .do_update()
        .set((
            device_tokens::platform.eq(platform),
            device_tokens::scope_type.eq(scope_type),
            device_tokens::scope_id.eq(scope_id),
            device_tokens::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A notification claimed for sending.
#[derive(QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub user_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Nullable<diesel::sql_types::Text>>)]
    pub channels: Vec<Option<String>>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub title: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub body: String,
}

/// Claims up to `limit` notifications to send (`FOR UPDATE SKIP LOCKED`,
/// a 60 s lease): pending ones, and ones whose sender's lease lapsed (a
/// retry, counted).
pub async fn claim_due(conn: &mut Conn, limit: i64) -> QueryResult<Vec<Claimed>> {
    diesel::sql_query(
        "UPDATE notifications SET status = $2, claimed_until = now() + interval '60 seconds', \
             retry_count = retry_count + CASE WHEN status = $2 THEN 1 ELSE 0 END, updated_at = now() \
         WHERE id IN (SELECT id FROM notifications \
                      WHERE status = $3 OR (status = $2 AND claimed_until < now()) \
                      ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, user_id, channels, title, body",
    )
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .bind::<diesel::sql_types::Text, _>(DeliveryStatus::Sending)
    .bind::<diesel::sql_types::Text, _>(DeliveryStatus::Pending)
    .load(conn)
    .await
}

/// What came of sending one notification: per channel, sent or failed.
pub async fn record_delivery(conn: &mut Conn, id: Uuid, sent: &[String], failed: &[String]) -> QueryResult<()> {
    use diesel::sql_types::{Array, Nullable, Text, Timestamptz};
    let status = match (sent.is_empty(), failed.is_empty()) {
        (_, true) => DeliveryStatus::Sent,
        (true, false) => DeliveryStatus::Failed,
        (false, false) => DeliveryStatus::PartiallySent,
    };
    let at = |c: &str| sent.iter().any(|s| s == c).then(Utc::now);
    diesel::sql_query(
        "UPDATE notifications SET status = $2, channels_sent = $3, channels_failed = $4, \
             claimed_until = NULL, fcm_sent_at = $5, sms_sent_at = $6, email_sent_at = $7, updated_at = now() \
         WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<Text, _>(status)
    .bind::<Array<Text>, _>(sent)
    .bind::<Array<Text>, _>(failed)
    .bind::<Nullable<Timestamptz>, _>(at("push"))
    .bind::<Nullable<Timestamptz>, _>(at("sms"))
    .bind::<Nullable<Timestamptz>, _>(at("email"))
    .execute(conn)
    .await
    .map(|_| ())
}
