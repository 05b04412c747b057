//! Scheduled trips (docs/API.md#scheduled-trips): when a booking booked
//! ahead may be offered to runners, and when its owner is reminded.
//!
//! A booking with `scheduled_at` stays out of dispatch (and cannot be
//! taken from the open pool) until `scheduled_at − lead`; before that it is
//! listed in the pool with its time, so runners see what is coming.

use chrono::{DateTime, Duration, Utc};

use super::ValidationError;

/// How far ahead a trip may be booked.
pub const MAX_AHEAD_DAYS: i64 = 30;

/// A time this close behind the server's clock is taken as "now" (a phone's
/// clock a little behind ours), not refused as past.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// When dispatch begins for a booking scheduled at `at`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Minutes before `scheduled_at` that runners are sought.
    pub lead_minutes: f64,
    /// Minutes before `scheduled_at` that the owner is reminded.
    pub reminder_minutes: f64,
}

fn minutes(m: f64) -> Duration {
    Duration::milliseconds((m * 60_000.0).round() as i64)
}

impl Schedule {
    /// `at` is allowed: not in the past, at most 30 days ahead.
    pub fn check(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ValidationError> {
        if at < now - Duration::seconds(CLOCK_SKEW_SECS) {
            return Err(ValidationError::new("scheduled_at must not be in the past"));
        }
        if at > now + Duration::days(MAX_AHEAD_DAYS) {
            return Err(ValidationError::new(format!("scheduled_at must be at most {MAX_AHEAD_DAYS} days ahead")));
        }
        Ok(())
    }

    /// When runners may first be offered (or take) a booking scheduled at
    /// `at`; `None` (unscheduled) means at once.
    pub fn opens_at(&self, at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        at.map(|at| at - minutes(self.lead_minutes))
    }

    /// Whether a booking scheduled at `at` may be dispatched at `now`.
    pub fn is_open(&self, at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        self.opens_at(at).is_none_or(|opens| opens <= now)
    }

    /// The lead in seconds, as the SQL gates take it.
    pub fn lead_secs(&self) -> f64 {
        self.lead_minutes * 60.0
    }

    /// The reminder's lead in seconds.
    pub fn reminder_secs(&self) -> f64 {
        self.reminder_minutes * 60.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn past_and_far_future_are_refused() {
        let now = at("2026-12-01T10:00:00Z");
        assert!(Schedule::check(at("2026-12-01T09:58:00Z"), now).is_err());
        assert!(Schedule::check(at("2026-12-01T09:59:30Z"), now).is_ok(), "a phone clock slightly behind");
        assert!(Schedule::check(at("2026-12-31T10:00:00Z"), now).is_ok());
        let far = Schedule::check(at("2026-12-31T10:00:01Z"), now).unwrap_err();
        assert_eq!(far.0, "scheduled_at must be at most 30 days ahead");
    }

    #[test]
    fn dispatch_opens_lead_minutes_before_the_time() {
        let s = Schedule { lead_minutes: 45.0, reminder_minutes: 60.0 };
        let trip = Some(at("2026-12-04T09:00:00Z"));
        assert_eq!(s.opens_at(trip), Some(at("2026-12-04T08:15:00Z")));
        assert!(!s.is_open(trip, at("2026-12-04T08:14:59Z")));
        assert!(s.is_open(trip, at("2026-12-04T08:15:00Z")));
        assert!(s.is_open(None, at("2026-12-01T00:00:00Z")), "an unscheduled booking is open at once");
    }
}
