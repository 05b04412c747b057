//! Outgoing mail. Sending real email is Later (docs/API.md#not-yet); until then
//! the default mailer writes the reset link to the log, and tests capture it.

pub trait Mailer: Send + Sync {
    fn send_password_reset(&self, email: &str, token: &str);
    /// A runner application was approved (the applicant may now register
    /// as a runner with this email) or rejected with `reason`.
    fn send_application_decision(&self, email: &str, application_number: &str, approved: bool, reason: &str);
}

/// Logs instead of sending. Fine for development; in production the log
/// line is the only way support can hand out a reset token for now.
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send_password_reset(&self, email: &str, token: &str) {
        tracing::info!(%email, reset_token = %token, "password reset requested (email delivery is not wired yet)");
    }

    fn send_application_decision(&self, email: &str, application_number: &str, approved: bool, reason: &str) {
        tracing::info!(%email, application = %application_number, approved, %reason,
                       "runner application decided (email delivery is not wired yet)");
    }
}
