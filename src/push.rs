//! Delivery channels for notifications (push, SMS, email). Real providers
//! (FCM, an SMS gateway, SMTP) plug in behind `PushSender`; the default
//! writes a log line, so every notification is still stored and shown in
//! the inbox and on the user's sockets.

pub trait PushSender: Send + Sync {
    /// `channel` is `push`, `sms` or `email`; `to` the token, number or address.
    fn send(&self, channel: &str, to: &str, title: &str, body: &str) -> Result<(), String>;
}

pub struct LogPushSender;

impl PushSender for LogPushSender {
    fn send(&self, channel: &str, to: &str, title: &str, _body: &str) -> Result<(), String> {
        let shown: String = to.chars().take(8).collect();
        tracing::info!(%channel, to = %shown, %title, "notification sent (log channel)");
        Ok(())
    }
}
