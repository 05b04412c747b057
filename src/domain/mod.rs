//! Pure types and rules: no actix, no diesel, no I/O. Parse, don't validate.

pub mod booking;
pub mod crates;
pub mod dispatch;
pub mod eligibility;
pub mod events;
pub mod frames;
pub mod geo;
pub mod identity;
pub mod notifications;
pub mod payment;
pub mod pet;
pub mod pricing;
pub mod time;

/// A rule was broken by the caller's input; the message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

impl ValidationError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
