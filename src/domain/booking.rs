//! The booking state machine (docs/API.md#booking-states), booking numbers (docs/API.md#booking-numbers),
//! addresses, decline and cancel reasons.

use rand::Rng;
use serde::{Deserialize, Serialize};

use uuid::Uuid;

use super::ValidationError;
use super::geo::Coordinates;
use super::identity::Role;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Requested,
    Accepted,
    InProgress,
    Delivered,
    Completed,
    Cancelled,
}

/// 422 `cannot transition from '<from>' to '<to>'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: BookingStatus,
    pub to: BookingStatus,
}

impl BookingStatus {
    pub const ALL: [BookingStatus; 6] = [
        BookingStatus::Requested,
        BookingStatus::Accepted,
        BookingStatus::InProgress,
        BookingStatus::Delivered,
        BookingStatus::Completed,
        BookingStatus::Cancelled,
    ];

    /// Non-terminal: the owner's `status=active` filter.
    pub const ACTIVE: [BookingStatus; 4] =
        [BookingStatus::Requested, BookingStatus::Accepted, BookingStatus::InProgress, BookingStatus::Delivered];

    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Requested => "requested",
            BookingStatus::Accepted => "accepted",
            BookingStatus::InProgress => "in_progress",
            BookingStatus::Delivered => "delivered",
            BookingStatus::Completed => "completed",
            BookingStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        BookingStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn can_become(self, to: BookingStatus) -> bool {
        use BookingStatus::*;
        matches!(
            (self, to),
            (Requested, Accepted)
                | (Requested, Cancelled)
                | (Accepted, InProgress)
                | (Accepted, Cancelled)
                | (Accepted, Requested)
                | (InProgress, Delivered)
                | (InProgress, Cancelled)
                | (Delivered, Completed)
        )
    }

    pub fn transition(self, to: BookingStatus) -> Result<BookingStatus, IllegalTransition> {
        if self.can_become(to) { Ok(to) } else { Err(IllegalTransition { from: self, to }) }
    }
}

impl std::fmt::Display for BookingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `BK-` + 6 symbols from an alphabet without I, O, 0 and 1.
pub const BOOKING_NUMBER_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

pub fn new_booking_number() -> String {
    let mut rng = rand::rng();
    let suffix: String =
        (0..6).map(|_| BOOKING_NUMBER_ALPHABET[rng.random_range(0..BOOKING_NUMBER_ALPHABET.len())] as char).collect();
    format!("BK-{suffix}")
}

/// An address as the apps send and read it (every key always present).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AddressInput {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl AddressInput {
    /// `which` is `pickup` or `dropoff`, used in every message.
    pub fn parse(input: Option<AddressInput>, which: &str) -> Result<Address, ValidationError> {
        let input = input.ok_or_else(|| ValidationError::new(format!("{which} address is required")))?;
        let required = |v: Option<String>, field: &str| {
            let v = v.map(|s| s.trim().to_owned()).unwrap_or_default();
            if v.is_empty() { Err(ValidationError::new(format!("{which} address {field} is required"))) } else { Ok(v) }
        };
        let line1 = required(input.line1, "line1")?;
        let city = required(input.city, "city")?;
        let state = required(input.state, "state")?;
        let country = required(input.country, "country")?;
        let at = Coordinates::parse(input.latitude, input.longitude)
            .map_err(|e| ValidationError::new(format!("{which} address: {}", e.0)))?;
        Ok(Address {
            line1,
            line2: input.line2.map(|s| s.trim().to_owned()).unwrap_or_default(),
            city,
            state,
            postal_code: input.postal_code.map(|s| s.trim().to_owned()).unwrap_or_default(),
            country,
            latitude: at.latitude,
            longitude: at.longitude,
        })
    }
}

impl Address {
    pub fn coordinates(&self) -> Coordinates {
        Coordinates { latitude: self.latitude, longitude: self.longitude }
    }
}

pub const DECLINE_REASONS: [&str; 5] = ["too_far", "cannot_transport", "already_busy", "pickup_issue", "other"];

pub fn parse_decline_reason(raw: Option<&str>) -> Result<&'static str, ValidationError> {
    let raw = raw.map(str::trim).unwrap_or("");
    DECLINE_REASONS.into_iter().find(|r| *r == raw).ok_or_else(|| {
        ValidationError::new("reason must be one of: too_far, cannot_transport, already_busy, pickup_issue, other")
    })
}

pub const MAX_CANCEL_NOTE: usize = 500;
pub const MAX_NOTES: usize = 1000;

pub fn parse_cancel_note(raw: Option<&str>) -> Result<String, ValidationError> {
    let note = raw.map(str::trim).unwrap_or("").to_owned();
    if note.chars().count() > MAX_CANCEL_NOTE {
        return Err(ValidationError::new("reason must be at most 500 characters"));
    }
    Ok(note)
}

/// Who is acting on a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: Uuid,
    pub role: Role,
}

/// The people a booking belongs to (docs/API.md#parties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parties {
    pub owner_id: Uuid,
    pub runner_id: Option<Uuid>,
}

impl Parties {
    pub fn is_owner(&self, actor: Actor) -> bool {
        actor.id == self.owner_id
    }

    pub fn is_assigned_runner(&self, actor: Actor) -> bool {
        self.runner_id == Some(actor.id)
    }

    /// The owner, the assigned runner, or an admin.
    pub fn is_participant(&self, actor: Actor) -> bool {
        actor.role == Role::Admin || self.is_owner(actor) || self.is_assigned_runner(actor)
    }

    /// Participants, and any runner while the booking is in the open pool.
    pub fn may_read(&self, actor: Actor, status: BookingStatus) -> bool {
        self.is_participant(actor)
            || (actor.role == Role::Runner && status == BookingStatus::Requested && self.runner_id.is_none())
    }
}

text_enum! {
    /// A trip's recorded route: open while the runner carries the pet.
    pub enum TrackStatus {
        Active = "active",
        Completed = "completed",
        Cancelled = "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BookingStatus::*;

    #[test]
    fn who_may_read_a_booking() {
        let (owner, runner, other, admin) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let open = Parties { owner_id: owner, runner_id: None };
        let taken = Parties { owner_id: owner, runner_id: Some(runner) };
        let a = |id, role| Actor { id, role };
        assert!(open.may_read(a(owner, Role::Owner), Requested));
        assert!(open.may_read(a(other, Role::Runner), Requested));
        assert!(!open.may_read(a(other, Role::Owner), Requested));
        assert!(!open.may_read(a(other, Role::Shop), Requested));
        assert!(!open.may_read(a(other, Role::Runner), Cancelled));
        assert!(taken.may_read(a(runner, Role::Runner), Accepted));
        assert!(!taken.may_read(a(other, Role::Runner), Accepted));
        assert!(taken.may_read(a(admin, Role::Admin), Accepted));
    }

    #[test]
    fn every_pair_of_the_state_machine() {
        let legal = [
            (Requested, Accepted),
            (Requested, Cancelled),
            (Accepted, InProgress),
            (Accepted, Cancelled),
            (Accepted, Requested),
            (InProgress, Delivered),
            (InProgress, Cancelled),
            (Delivered, Completed),
        ];
        for from in BookingStatus::ALL {
            for to in BookingStatus::ALL {
                let expected = legal.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                match from.transition(to) {
                    Ok(next) => assert_eq!(next, to),
                    Err(e) => assert_eq!(e, IllegalTransition { from, to }),
                }
            }
        }
    }

    #[test]
    fn statuses_round_trip_their_wire_names() {
        for s in BookingStatus::ALL {
            assert_eq!(BookingStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(BookingStatus::parse("picked_up"), None);
    }

    #[test]
    fn booking_numbers_use_the_alphabet() {
        for _ in 0..200 {
            let n = new_booking_number();
            assert_eq!(n.len(), 9);
            assert!(n.starts_with("BK-"));
            assert!(n[3..].bytes().all(|b| BOOKING_NUMBER_ALPHABET.contains(&b)), "{n}");
        }
    }

    #[test]
    fn address_rules() {
        let ok = AddressInput {
            line1: Some("1 Jalan Ampang".into()),
            city: Some("Kuala Lumpur".into()),
            state: Some("WP".into()),
            country: Some("Malaysia".into()),
            latitude: Some(3.1579),
            longitude: Some(101.7116),
            ..Default::default()
        };
        let a = AddressInput::parse(Some(ok.clone()), "pickup").unwrap();
        assert_eq!((a.line2.as_str(), a.postal_code.as_str()), ("", ""));
        assert_eq!(AddressInput::parse(None, "pickup").unwrap_err().0, "pickup address is required");
        let mut bad = ok.clone();
        bad.latitude = Some(0.0);
        assert_eq!(AddressInput::parse(Some(bad), "dropoff").unwrap_err().0, "dropoff address: invalid latitude");
        let mut bad = ok;
        bad.city = None;
        assert_eq!(AddressInput::parse(Some(bad), "pickup").unwrap_err().0, "pickup address city is required");
    }

    #[test]
    fn decline_reasons() {
        assert_eq!(parse_decline_reason(Some("too_far")).unwrap(), "too_far");
        assert!(parse_decline_reason(Some("bored")).is_err());
        assert!(parse_decline_reason(None).is_err());
    }
}
