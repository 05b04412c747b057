//! Sends stored notifications on their push/SMS/email channels after the
//! transaction that made them has committed. Claims work with
//! `FOR UPDATE SKIP LOCKED` and a lease (`claimed_until`), so several nodes
//! share the queue and a crashed node's claims are retried.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use diesel::sql_types::{Array, Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::db::{PgPool, notifications};
use crate::push::PushSender;

const BATCH: i64 = 100;

pub struct Notifier {
    pool: PgPool,
    sender: Arc<dyn PushSender>,
    every: Duration,
    busy: bool,
}

#[derive(diesel::QueryableByName)]
struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    channels: Vec<Option<String>>,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    body: String,
}

impl Notifier {
    pub fn new(pool: PgPool, sender: Arc<dyn PushSender>, every: Duration) -> Self {
        Self { pool, sender, every, busy: false }
    }

    fn run(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let (pool, sender) = (self.pool.clone(), self.sender.clone());
        let work = async move {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            let claimed: Vec<Claimed> = diesel::sql_query(
                "UPDATE notifications SET status = 'sending', claimed_until = now() + interval '60 seconds', \
                     retry_count = retry_count + CASE WHEN status = 'sending' THEN 1 ELSE 0 END, updated_at = now() \
                 WHERE id IN (SELECT id FROM notifications \
                              WHERE status = 'pending' OR (status = 'sending' AND claimed_until < now()) \
                              ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, user_id, channels, title, body",
            )
            .bind::<diesel::sql_types::BigInt, _>(BATCH)
            .load(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
            for item in &claimed {
                let prefs = notifications::preferences(&mut conn, item.user_id).await.map_err(|e| e.to_string())?;
                let (mut sent, mut failed) = (Vec::new(), Vec::new());
                for channel in item.channels.iter().flatten() {
                    let to = prefs.as_ref().and_then(|p| match channel.as_str() {
                        "push" => p.fcm_token.clone(),
                        "sms" => p.phone_number.clone(),
                        "email" => p.email.clone(),
                        _ => None,
                    });
                    let outcome = match to {
                        Some(to) => sender.send(channel, &to, &item.title, &item.body),
                        None => Err("no contact detail".into()),
                    };
                    match outcome {
                        Ok(()) => sent.push(channel.clone()),
                        Err(err) => {
                            tracing::warn!(notification_id = %item.id, %channel, error = %err, "notification channel failed");
                            failed.push(channel.clone());
                        }
                    }
                }
                let status = match (sent.is_empty(), failed.is_empty()) {
                    (_, true) => "sent",
                    (true, false) => "failed",
                    (false, false) => "partially_sent",
                };
                let at = |c: &str| sent.iter().any(|s| s == c).then(Utc::now);
                diesel::sql_query(
                    "UPDATE notifications SET status = $2, channels_sent = $3, channels_failed = $4, \
                         claimed_until = NULL, fcm_sent_at = $5, sms_sent_at = $6, email_sent_at = $7, updated_at = now() \
                     WHERE id = $1",
                )
                .bind::<SqlUuid, _>(item.id)
                .bind::<Text, _>(status)
                .bind::<Array<Text>, _>(&sent)
                .bind::<Array<Text>, _>(&failed)
                .bind::<Nullable<diesel::sql_types::Timestamptz>, _>(at("push"))
                .bind::<Nullable<diesel::sql_types::Timestamptz>, _>(at("sms"))
                .bind::<Nullable<diesel::sql_types::Timestamptz>, _>(at("email"))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(claimed.len())
        };
        ctx.spawn(work.into_actor(self).map(|result, act, _| {
            act.busy = false;
            if let Err(err) = result {
                tracing::warn!(error = %err, "notifier round failed");
            }
        }));
    }
}

impl Actor for Notifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.every, |act, ctx| act.run(ctx));
    }
}
