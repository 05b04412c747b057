//! Sends stored notifications on their push/SMS/email channels after the
//! transaction that made them has committed. Claims work with
//! `FOR UPDATE SKIP LOCKED` and a lease (`claimed_until`), so several nodes
//! share the queue and a crashed node's claims are retried.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::db::{PgPool, notifications};
use crate::push::PushSender;

const BATCH: i64 = 100;

pub struct Notifier {
    pool: PgPool,
    sender: Arc<dyn PushSender>,
    every: Duration,
    busy: bool,
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
            let claimed = notifications::claim_due(&mut conn, BATCH).await.map_err(|e| e.to_string())?;
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
                notifications::record_delivery(&mut conn, item.id, &sent, &failed).await.map_err(|e| e.to_string())?;
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
