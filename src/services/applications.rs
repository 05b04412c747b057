//! Runner applications (docs/API.md#runner-applications): anyone applies
//! (no account yet), an admin approves or rejects, the applicant hears by
//! email, and an approved applicant's email may register as a runner.

use chrono::Utc;
use uuid::Uuid;

use super::Services;
use crate::db::applications::{self, AppRef, StoredApplication};
use crate::domain::ValidationError;
use crate::domain::application::{ApplicationInput, ApplicationStatus, parse_reason};
use crate::domain::booking::Actor;
use crate::error::AppError;

pub async fn apply(s: &Services, input: ApplicationInput) -> Result<StoredApplication, AppError> {
    let application = input.parse()?;
    let mut conn = s.pool.get().await?;
    let stored = applications::create(&mut conn, &application, Utc::now()).await?;
    tracing::info!(application = %stored.application_number, "runner application received");
    Ok(stored)
}

pub async fn list(
    s: &Services,
    status: Option<&str>,
    page: i64,
    limit: i64,
) -> Result<(Vec<StoredApplication>, i64), AppError> {
    let status = match status.map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(raw) => Some(
            ApplicationStatus::parse(raw)
                .ok_or_else(|| ValidationError::new("status must be one of: pending_review, approved, rejected"))?,
        ),
    };
    let mut conn = s.pool.get().await?;
    Ok(applications::list(&mut conn, status, page, limit).await?)
}

/// The path's `{id}`: an application's id or its `KR-<year>-<n>` number.
fn reference(raw: &str) -> AppRef<'_> {
    match Uuid::parse_str(raw) {
        Ok(id) => AppRef::Id(id),
        Err(_) => AppRef::Number(raw),
    }
}

/// Approves or rejects (with a reason), then mails the applicant when
/// they left an email (the decision stands if the mail cannot be sent).
async fn decide(
    s: &Services,
    admin: Actor,
    id: &str,
    to: ApplicationStatus,
    reason: String,
) -> Result<StoredApplication, AppError> {
    let decided = {
        let mut conn = s.pool.get().await?;
        applications::decide(&mut conn, reference(id), admin.id, to, &reason).await?
    };
    tracing::info!(application = %decided.application_number, status = %decided.status, admin = %admin.id,
                   "runner application decided");
    if let Some(email) = &decided.email {
        let approved = decided.status == ApplicationStatus::Approved;
        s.credentials.mailer.send_application_decision(email, &decided.application_number, approved, &reason);
    }
    Ok(decided)
}

pub async fn approve(s: &Services, admin: Actor, id: &str) -> Result<StoredApplication, AppError> {
    decide(s, admin, id, ApplicationStatus::Approved, String::new()).await
}

pub async fn reject(s: &Services, admin: Actor, id: &str, reason: Option<&str>) -> Result<StoredApplication, AppError> {
    let reason = parse_reason(reason)?;
    decide(s, admin, id, ApplicationStatus::Rejected, reason).await
}

/// With `marketplace.runner_signup_requires_approval`, only an email with an
/// approved application may register as a runner.
pub async fn check_runner_signup(s: &Services, email: &str) -> Result<(), AppError> {
    if !s.settings.marketplace.runner_signup_requires_approval {
        return Ok(());
    }
    let mut conn = s.pool.get().await?;
    if applications::approved_email(&mut conn, email).await? {
        return Ok(());
    }
    Err(AppError::Forbidden("runner sign-up needs an approved runner application for this email".into()))
}
