//! Domain events as CloudEvents (docs/API.md#events), written to the outbox in the
//! same transaction as the change. Every booking event carries `owner_id`
//! and `runner_id` (null when none) besides the contract's keys.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::time;

#[derive(Debug, Clone, Serialize)]
pub struct CloudEvent {
    pub id: Uuid,
    pub source: &'static str,
    #[serde(rename = "type")]
    pub event_type: String,
    pub time: String,
    pub datacontenttype: &'static str,
    pub data: Value,
}

impl CloudEvent {
    pub fn new(source: &'static str, event_type: &str, at: DateTime<Utc>, data: Value) -> Self {
        Self {
            // time-ordered, like row ids (`db::new_id`)
            id: Uuid::now_v7(),
            source,
            event_type: event_type.to_owned(),
            time: time::format(&at),
            datacontenttype: "application/json",
            data,
        }
    }
}

/// What every booking event needs to know about its booking.
pub struct BookingFacts<'a> {
    pub booking_id: Uuid,
    pub booking_number: &'a str,
    pub owner_id: Uuid,
    pub runner_id: Option<Uuid>,
}

/// `booking.<kind>` with the common keys plus `extra`.
pub fn booking_event(kind: &str, facts: &BookingFacts<'_>, at: DateTime<Utc>, extra: Value) -> CloudEvent {
    let mut data = Map::new();
    data.insert("booking_id".into(), json!(facts.booking_id));
    data.insert("booking_number".into(), json!(facts.booking_number));
    data.insert("owner_id".into(), json!(facts.owner_id));
    data.insert("runner_id".into(), json!(facts.runner_id));
    if let Value::Object(extra) = extra {
        data.extend(extra);
    }
    data.insert("occurred_at".into(), json!(time::format(&at)));
    CloudEvent::new("kilat-booking", &format!("booking.{kind}"), at, Value::Object(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_events_carry_owner_and_runner() {
        let facts = BookingFacts {
            booking_id: Uuid::nil(),
            booking_number: "BK-7KQ2ZP",
            owner_id: Uuid::nil(),
            runner_id: None,
        };
        let at = Utc::now();
        let e = booking_event("cancelled", &facts, at, json!({"cancelled_by": "x", "reason": ""}));
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "booking.cancelled");
        assert_eq!(v["datacontenttype"], "application/json");
        assert_eq!(v["data"]["runner_id"], Value::Null);
        assert_eq!(v["data"]["cancelled_by"], "x");
        assert_eq!(v["data"]["occurred_at"], v["time"]);
    }
}
