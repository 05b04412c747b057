//! Escrow rules (docs/API.md#escrow): the payment state machine, the fee split,
//! the saga's backoff and the provider idempotency keys. Money is integer
//! sen end to end.

use std::fmt;

use uuid::Uuid;

use super::booking::BookingStatus;
use super::pricing::platform_fee_cents;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum EscrowStatus {
    Pending,
    Held,
    Released,
    Refunded,
    Failed,
}

impl EscrowStatus {
    pub const ALL: [EscrowStatus; 5] = [Self::Pending, Self::Held, Self::Released, Self::Refunded, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Held => "held",
            Self::Released => "released",
            Self::Refunded => "refunded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// (docs/API.md#escrow) pending → held → released | refunded; any non-terminal
    /// → failed. A captured payment may still be refunded.
    pub fn can_become(self, to: EscrowStatus) -> bool {
        use EscrowStatus::*;
        matches!(
            (self, to),
            (Pending, Held) | (Held, Released) | (Held, Refunded) | (Released, Refunded) | (Pending | Held, Failed)
        )
    }
}

impl fmt::Display for EscrowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the platform keeps and what the runner is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub platform_fee_cents: i64,
    pub runner_payout_cents: i64,
}

/// fee = truncate(amount × pct / 100); payout = amount − fee.
pub fn split(amount_cents: i64, fee_percent: i64) -> Split {
    let fee = platform_fee_cents(amount_cents, fee_percent);
    Split { platform_fee_cents: fee, runner_payout_cents: amount_cents - fee }
}

/// A booking may be paid for until it is finished one way or the other.
pub fn payable(status: BookingStatus) -> bool {
    !matches!(status, BookingStatus::Completed | BookingStatus::Cancelled)
}

/// (docs/API.md#escrow) `"booking cancelled: <reason>"`.
pub fn cancel_refund_reason(note: &str) -> String {
    let note = note.trim();
    if note.is_empty() { "booking cancelled".to_owned() } else { format!("booking cancelled: {note}") }
}

/// A saga step still to do for a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Step {
    /// Take the held money (the owner confirmed delivery).
    Capture,
    /// Give the money back: cancel an uncaptured PaymentIntent, refund a
    /// captured one (the booking was cancelled, or an admin refunded).
    Void,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Capture => "capture",
            Step::Void => "void",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "capture" => Some(Step::Capture),
            "void" => Some(Step::Void),
            _ => None,
        }
    }
}

/// One idempotency key per booking attempt for the hold, and per payment
/// and step for the rest: a retried request can never move money twice.
pub fn hold_key(booking_id: Uuid, attempt: i32) -> String {
    format!("kilat-hold-{booking_id}-{attempt}")
}

pub fn step_key(payment_id: Uuid, step: &str) -> String {
    format!("kilat-{step}-{payment_id}")
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_split() {
        assert_eq!(split(2960, 15), Split { platform_fee_cents: 444, runner_payout_cents: 2516 });
    }

    #[test]
    fn fee_truncates() {
        // 999 × 15 / 100 = 149.85 → 149
        assert_eq!(split(999, 15).platform_fee_cents, 149);
        assert_eq!(split(999, 15).runner_payout_cents, 850);
        assert_eq!(split(1, 15).platform_fee_cents, 0);
        assert_eq!(split(500, 0).runner_payout_cents, 500);
    }

    #[test]
    fn state_machine() {
        use EscrowStatus::*;
        assert!(Pending.can_become(Held));
        assert!(Held.can_become(Released));
        assert!(Held.can_become(Refunded));
        assert!(Pending.can_become(Failed));
        assert!(!Released.can_become(Held));
        assert!(!Failed.can_become(Held));
        assert!(!Refunded.can_become(Released));
        assert!(!Pending.can_become(Released));
        for s in EscrowStatus::ALL {
            assert_eq!(EscrowStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn refund_reason_names_the_cancel() {
        assert_eq!(cancel_refund_reason("pet is sick"), "booking cancelled: pet is sick");
        assert_eq!(cancel_refund_reason("  "), "booking cancelled");
    }

    #[test]
    fn only_unfinished_bookings_are_payable() {
        assert!(payable(BookingStatus::Requested));
        assert!(payable(BookingStatus::Delivered));
        assert!(!payable(BookingStatus::Cancelled));
        assert!(!payable(BookingStatus::Completed));
    }

    #[test]
    fn keys_fit_the_provider_limit() {
        let k = hold_key(Uuid::new_v4(), 12);
        assert!(k.len() <= 255 && k.ends_with("-12"));
        assert!(step_key(Uuid::nil(), "capture").starts_with("kilat-capture-"));
    }
}
