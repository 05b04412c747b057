//! Timestamps on the wire: RFC 3339, UTC, whole seconds, `Z` (docs/API.md#time).
//! The iOS apps reject fractional seconds, so every emitted time goes
//! through here.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// Where "now" comes from for rules that count time in whole windows (the
/// rate limiter): the system clock in a node, a clock a test moves.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn unix_secs(&self) -> u64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_secs(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

pub fn format(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Accepts RFC 3339 with or without fractional seconds, `Z` or an offset.
pub fn parse(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw.trim()).ok().map(|t| t.with_timezone(&Utc))
}

/// `#[serde(serialize_with = "crate::domain::time::serialize")]`
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(at))
}

/// Same, for optional timestamps: `null` when absent (docs/API.md#time).
pub fn serialize_opt<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_str(&format(at)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn emits_whole_seconds_with_z() {
        let at = Utc.with_ymd_and_hms(2026, 5, 18, 4, 30, 0).unwrap() + chrono::Duration::microseconds(123_456);
        assert_eq!(format(&at), "2026-05-18T04:30:00Z");
    }

    #[test]
    fn accepts_fractions_and_offsets() {
        let a = parse("2026-02-06T10:30:00.123456Z").unwrap();
        let b = parse("2026-02-06T18:30:00+08:00").unwrap();
        assert_eq!(format(&a), "2026-02-06T10:30:00Z");
        assert_eq!(format(&b), "2026-02-06T10:30:00Z");
        assert!(parse("yesterday").is_none());
    }
}

/// `#[serde(with = "crate::domain::time::rfc3339")]`: whole-second output,
/// lenient input.
pub mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        super::serialize(at, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = String::deserialize(d)?;
        super::parse(&raw).ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 timestamp: {raw}")))
    }
}

/// The same for `Option<DateTime<Utc>>` (`null` when absent).
pub mod rfc3339_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        super::serialize_opt(at, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(raw) if raw.trim().is_empty() => Ok(None),
            Some(raw) => super::parse(&raw)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 timestamp: {raw}"))),
        }
    }
}
