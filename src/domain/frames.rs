//! Frames pushed to sockets (docs/PROTOCOL.md), built from plain
//! values so every node renders them the same way.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::booking::BookingStatus;
use super::identity::Role;
use super::time;

/// A frame a client sends on `/ws` (docs/PROTOCOL.md), parsed once. Ids
/// stay text here: a malformed one gets its own error code from the
/// session, not a parse failure of the whole frame.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type")]
pub enum ClientFrame {
    #[serde(rename = "ping")]
    Ping,
    #[serde(rename = "location")]
    Location {
        latitude: Option<f64>,
        longitude: Option<f64>,
        speed_kmh: Option<f64>,
        heading_degrees: Option<f64>,
        timestamp: Option<String>,
    },
    #[serde(rename = "subscribe")]
    Subscribe { booking_id: Option<String>, last_seq: Option<i64> },
    #[serde(rename = "unsubscribe")]
    Unsubscribe { booking_id: Option<String> },
    /// By the offer frame's `offer_id` (only the offer still open for this
    /// runner), or by `booking_id` (the ordinary accept).
    #[serde(rename = "offer.accept")]
    OfferAccept { offer_id: Option<String>, booking_id: Option<String> },
    #[serde(rename = "offer.decline")]
    OfferDecline { offer_id: Option<String>, booking_id: Option<String> },
    /// An admin's live view of the city (docs/PROTOCOL.md#ops).
    #[serde(rename = "ops.subscribe")]
    OpsSubscribe,
    #[serde(rename = "ops.unsubscribe")]
    OpsUnsubscribe,
}

/// Why a text frame is not a [`ClientFrame`]: the `error` frame's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
}

impl ClientFrame {
    /// One parse on the hot path; only a failure looks again, to say why.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let err = match serde_json::from_str::<Self>(text) {
            Ok(frame) => return Ok(frame),
            Err(err) => err,
        };
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            kind: Option<Value>,
        }
        let bad_json = |err: serde_json::Error| FrameError {
            code: "bad_json",
            message: format!("frame is not a JSON object: {err}"),
        };
        match serde_json::from_str::<Tag>(text) {
            Err(tag_err) => Err(bad_json(tag_err)),
            Ok(Tag { kind: None }) => Err(FrameError { code: "unknown_type", message: "frame has no \"type\"".into() }),
            Ok(Tag { kind: Some(Value::String(kind)) }) if !Self::KINDS.contains(&kind.as_str()) => {
                Err(FrameError { code: "unknown_type", message: format!("unknown frame type '{kind}'") })
            }
            Ok(_) => Err(bad_json(err)),
        }
    }

    pub const KINDS: [&'static str; 8] = [
        "ping",
        "location",
        "subscribe",
        "unsubscribe",
        "offer.accept",
        "offer.decline",
        "ops.subscribe",
        "ops.unsubscribe",
    ];
}

/// One runner position on a trip, as a location frame carries it.
pub struct Fix {
    pub booking_id: Uuid,
    pub runner_id: Uuid,
    pub latitude: f64,
    pub longitude: f64,
    pub speed_kmh: f64,
    pub heading_degrees: f64,
    pub at: DateTime<Utc>,
}

#[derive(Serialize)]
struct Flat<'a> {
    booking_id: Uuid,
    runner_id: Uuid,
    latitude: f64,
    longitude: f64,
    speed_kmh: f64,
    heading_degrees: f64,
    timestamp: &'a str,
}

/// A runner position as the apps read it: the seven flat keys at the top
/// level (Flutter and iOS parse those), `type`, and a `data` copy.
#[derive(Serialize)]
struct Frame<'a> {
    #[serde(flatten)]
    flat: &'a Flat<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
    data: &'a Flat<'a>,
}

impl Fix {
    fn render<T>(&self, with: impl FnOnce(&Frame<'_>) -> T) -> T {
        let timestamp = time::format(&self.at);
        let flat = Flat {
            booking_id: self.booking_id,
            runner_id: self.runner_id,
            latitude: self.latitude,
            longitude: self.longitude,
            speed_kmh: self.speed_kmh,
            heading_degrees: self.heading_degrees,
            timestamp: &timestamp,
        };
        with(&Frame { flat: &flat, kind: "location_update", data: &flat })
    }
}

/// The location frame rendered straight to JSON text after `prefix` (the
/// hot path: one allocation, no intermediate `Value`).
pub fn location_text(fix: &Fix, prefix: &str) -> String {
    fix.render(|frame| {
        let mut out = Vec::with_capacity(prefix.len() + 480);
        out.extend_from_slice(prefix.as_bytes());
        // serialising plain numbers, uuids and strings cannot fail
        let _ = serde_json::to_writer(&mut out, frame);
        String::from_utf8(out).unwrap_or_default()
    })
}

/// The location frame as a JSON value.
pub fn location(fix: &Fix) -> Value {
    fix.render(|frame| serde_json::to_value(frame).unwrap_or(Value::Null))
}

/// `booking.status` from a booking event (a CloudEvent as stored in the
/// outbox); `None` for events that change no status.
pub fn status(event: &Value, seq: i64) -> Option<Value> {
    let data = event.get("data")?;
    let new_status = data.get("new_status")?.as_str()?;
    Some(json!({
        "type": "booking.status",
        "booking_id": data.get("booking_id")?,
        "old_status": data.get("old_status").cloned().unwrap_or(Value::Null),
        "new_status": new_status,
        "timestamp": event.get("time")?,
        "event": event.get("type")?,
        "seq": seq,
    }))
}

/// A frame the server sends on `/ws` (docs/PROTOCOL.md), built typed and
/// rendered once. (Status, location and offer frames have their builders
/// above: they are rendered from stored events and relayed as text.)
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum ServerFrame<'a> {
    #[serde(rename = "hello")]
    Hello { user_id: Uuid, role: Role, server_time: String, heartbeat_secs: u64 },
    #[serde(rename = "pong")]
    Pong,
    #[serde(rename = "subscribed")]
    Subscribed { booking_id: Uuid, seq: i64, recovered: bool },
    #[serde(rename = "unsubscribed")]
    Unsubscribed { booking_id: Uuid },
    #[serde(rename = "offer.accepted")]
    OfferAccepted { booking_id: Uuid, status: BookingStatus, version: i32 },
    #[serde(rename = "offer.declined")]
    OfferDeclined { booking_id: Uuid },
    #[serde(rename = "offer.expired")]
    OfferExpired { booking_id: Uuid },
    #[serde(rename = "offer.withdrawn")]
    OfferWithdrawn { booking_id: Uuid },
    #[serde(rename = "notification")]
    Notification { data: &'a Value },
    #[serde(rename = "reconnect")]
    Reconnect { reason: &'a str },
    /// `booking_id` when it is about one booking (a subscription).
    #[serde(rename = "error")]
    Error {
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        booking_id: Option<Uuid>,
    },
}

impl ServerFrame<'_> {
    /// The frame as JSON text (serialising these plain values cannot fail).
    pub fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Speed and heading as the contract stores them: negative speed → 0,
/// heading outside 0..360 → 0.
pub fn normalise_motion(speed_kmh: Option<f64>, heading_degrees: Option<f64>) -> (f64, f64) {
    let speed = speed_kmh.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(0.0);
    let heading = heading_degrees.filter(|h| h.is_finite() && (0.0..=360.0).contains(h)).unwrap_or(0.0);
    (speed, heading)
}

/// A job offer for a runner (docs/PROTOCOL.md, `offer`).
pub struct OfferView<'a> {
    pub offer_id: Uuid,
    pub booking_id: Uuid,
    pub booking_number: &'a str,
    pub pet_spec: &'a Value,
    pub crate_requirement: &'a Value,
    pub pickup: &'a Value,
    pub dropoff: &'a Value,
    pub pickup_distance_km: f64,
    pub estimated_price_cents: i64,
    pub runner_payout_cents: i64,
    pub expires_at: DateTime<Utc>,
}

pub fn offer(o: &OfferView<'_>) -> Value {
    json!({
        "type": "offer",
        "offer_id": o.offer_id,
        "booking_id": o.booking_id,
        "booking_number": o.booking_number,
        "pet_spec": o.pet_spec,
        "crate_requirement": o.crate_requirement,
        "pickup_address": o.pickup,
        "dropoff_address": o.dropoff,
        "pickup_distance_km": (o.pickup_distance_km * 1000.0).round() / 1000.0,
        "estimated_price_cents": o.estimated_price_cents,
        "runner_payout_cents": o.runner_payout_cents,
        "currency": "MYR",
        "expires_at": time::format(&o.expires_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_frames_are_flat_with_a_copy() {
        let at = time::parse("2026-05-18T04:20:00.5Z").unwrap();
        let f = location(&Fix {
            booking_id: Uuid::nil(),
            runner_id: Uuid::nil(),
            latitude: 3.1412,
            longitude: 101.6865,
            speed_kmh: 32.5,
            heading_degrees: 180.0,
            at,
        });
        for key in ["booking_id", "runner_id", "latitude", "longitude", "speed_kmh", "heading_degrees", "timestamp"] {
            assert!(f.get(key).is_some(), "{key}");
            assert_eq!(f[key], f["data"][key]);
        }
        assert_eq!(f["type"], "location_update");
        assert_eq!(f["timestamp"], "2026-05-18T04:20:00Z");
    }

    #[test]
    fn the_text_frame_is_the_value_frame() {
        let at = time::parse("2026-05-18T04:20:00Z").unwrap();
        let (b, r) = (Uuid::new_v4(), Uuid::new_v4());
        let fix = Fix {
            booking_id: b,
            runner_id: r,
            latitude: 3.141_234_567_8,
            longitude: 101.686_5,
            speed_kmh: 32.5,
            heading_degrees: 180.0,
            at,
        };
        let text = location_text(&fix, "L");
        let parsed: Value = serde_json::from_str(text.strip_prefix('L').unwrap()).unwrap();
        assert_eq!(parsed, location(&fix));
        assert_eq!(parsed["latitude"], 3.141_234_567_8);
        assert_eq!(parsed["data"]["runner_id"], r.to_string());
    }

    #[test]
    fn status_frames_come_from_status_changes_only() {
        let event = json!({"type": "booking.accepted", "time": "2026-05-18T04:00:00Z",
            "data": {"booking_id": "b", "old_status": "requested", "new_status": "accepted"}});
        let f = status(&event, 7).unwrap();
        assert_eq!(f["new_status"], "accepted");
        assert_eq!(f["seq"], 7);
        let tracking = json!({"type": "tracking.started", "time": "t", "data": {"booking_id": "b"}});
        assert!(status(&tracking, 8).is_none());
    }

    #[test]
    fn client_frames_parse_once_and_say_what_is_wrong() {
        let f = ClientFrame::parse(r#"{"type":"location","latitude":3.1,"longitude":101.6}"#).unwrap();
        assert!(matches!(f, ClientFrame::Location { latitude: Some(_), speed_kmh: None, .. }));
        let f = ClientFrame::parse(r#"{"type":"offer.accept","offer_id":"x"}"#).unwrap();
        assert_eq!(f, ClientFrame::OfferAccept { offer_id: Some("x".into()), booking_id: None });
        assert_eq!(ClientFrame::parse(r#"{"type":"ping","extra":1}"#).unwrap(), ClientFrame::Ping);
        let code = |text: &str| ClientFrame::parse(text).unwrap_err().code;
        assert_eq!(code("not json"), "bad_json");
        assert_eq!(code("[1,2]"), "bad_json");
        assert_eq!(code(r#"{"type":"location","latitude":"north"}"#), "bad_json");
        assert_eq!(code(r#"{"latitude":3}"#), "unknown_type");
        assert_eq!(code(r#"{"type":"teleport"}"#), "unknown_type");
        assert!(ClientFrame::parse(r#"{"type":"teleport"}"#).unwrap_err().message.contains("'teleport'"));
    }

    #[test]
    fn server_frames_carry_their_type_and_fields() {
        let b = Uuid::nil();
        let text = ServerFrame::OfferAccepted { booking_id: b, status: BookingStatus::Accepted, version: 2 }.text();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, json!({"type": "offer.accepted", "booking_id": b, "status": "accepted", "version": 2}));
        let v: Value = serde_json::from_str(&ServerFrame::Pong.text()).unwrap();
        assert_eq!(v, json!({"type": "pong"}));
        let plain = ServerFrame::Error { code: "bad_json", message: "m", booking_id: None }.text();
        assert_eq!(
            serde_json::from_str::<Value>(&plain).unwrap(),
            json!({"type": "error", "code": "bad_json", "message": "m"})
        );
        let about = ServerFrame::Error { code: "not_found", message: "m", booking_id: Some(b) }.text();
        assert_eq!(serde_json::from_str::<Value>(&about).unwrap()["booking_id"], json!(b));
        let hello = ServerFrame::Hello { user_id: b, role: Role::Runner, server_time: "t".into(), heartbeat_secs: 20 };
        assert_eq!(serde_json::from_str::<Value>(&hello.text()).unwrap()["role"], "runner");
    }

    #[test]
    fn motion_is_normalised() {
        assert_eq!(normalise_motion(Some(-3.0), Some(400.0)), (0.0, 0.0));
        assert_eq!(normalise_motion(Some(30.0), Some(90.0)), (30.0, 90.0));
        assert_eq!(normalise_motion(None, None), (0.0, 0.0));
    }
}
