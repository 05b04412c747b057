//! Who is told what (docs/API.md#who-is-told): recipients and texts for each event.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;
use uuid::Uuid;

/// Whom a text is written for: the same event reads differently to the
/// owner who paid and to the runner who is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Owner,
    Runner,
}

/// Recipients of an event on a booking, each with the wording they get:
/// the owner for progress events; on a cancel, every participant but the
/// one who cancelled; on a chat message, every participant but the sender.
pub fn recipients(event_type: &str, owner: Uuid, runner: Option<Uuid>, actor: Option<Uuid>) -> Vec<(Uuid, Audience)> {
    let audience = |user: Uuid| (user, if Some(user) == runner { Audience::Runner } else { Audience::Owner });
    recipient_ids(event_type, owner, runner, actor).into_iter().map(audience).collect()
}

fn recipient_ids(event_type: &str, owner: Uuid, runner: Option<Uuid>, actor: Option<Uuid>) -> Vec<Uuid> {
    match event_type {
        "booking.requested"
        | "booking.accepted"
        | "booking.pet_picked_up"
        | "booking.delivery_confirmed"
        | "booking.completed"
        | "tracking.started"
        | "tracking.completed"
        | "payment.escrow_held"
        | "payment.escrow_refunded"
        | "payment.failed" => vec![owner],
        "payment.escrow_released" => [Some(owner), runner].into_iter().flatten().collect(),
        // where dispatch stands, for the owner
        "booking.searching" | "booking.no_runner_yet" => vec![owner],
        "review.created" => runner.into_iter().collect(),
        // a scheduled trip: the reminder to both sides, the alarm to the owner
        "booking.reminder" => [Some(owner), runner].into_iter().flatten().collect(),
        "booking.schedule_missed" => vec![owner],
        "booking.cancelled" | "chat.message_sent" => {
            [Some(owner), runner].into_iter().flatten().filter(|u| Some(*u) != actor).collect()
        }
        _ => Vec::new(),
    }
}

/// The inbox's `event_type` for a stream event (chat keeps the apps' name).
pub fn inbox_type(event_type: &str) -> &str {
    match event_type {
        "chat.message_sent" => "chat_message",
        other => other,
    }
}

/// Kuala Lumpur time (UTC+8, no daylight saving) as the apps' users read
/// it: `Fri 4 Dec, 17:00`.
pub fn schedule_text(at: DateTime<Utc>) -> String {
    let myt = FixedOffset::east_opt(8 * 3600).map(|tz| at.with_timezone(&tz));
    match myt {
        Some(local) => local.format("%a %-d %b, %H:%M").to_string(),
        None => at.format("%a %-d %b, %H:%M UTC").to_string(),
    }
}

/// Operators' wording of an event they are alerted to.
pub fn render_for_admins(event_type: &str, booking_number: &str, data: &Value) -> (String, String) {
    let at = data["at_local"].as_str().unwrap_or_default();
    match event_type {
        "booking.schedule_missed" => (
            "Scheduled Trip Unassigned".into(),
            format!("Booking {booking_number} was due at {at} and still has no runner"),
        ),
        other => (other.to_owned(), format!("Booking {booking_number}: {other}")),
    }
}

/// `RM %.2f`
pub fn ringgit(cents: i64) -> String {
    format!("RM {}.{:02}", cents / 100, (cents % 100).abs())
}

/// Title and body for an event as `audience` reads it (`None`: nobody is
/// notified of it).
pub fn render(event_type: &str, booking_number: &str, data: &Value, audience: Audience) -> Option<(String, String)> {
    let n = booking_number;
    Some(match event_type {
        "payment.escrow_released" if audience == Audience::Runner => {
            let amount = data["runner_payout_cents"].as_i64().map(ringgit);
            let body = match amount {
                Some(amount) => format!("You have been paid {amount} for booking {n}"),
                None => format!("The payment for booking {n} has been released to you"),
            };
            ("Payment Received".into(), body)
        }
        "booking.requested" => ("Booking Received".into(), format!("We are finding a runner for your booking {n}")),
        "booking.reminder" => {
            let at = data["at_local"].as_str().unwrap_or_default();
            let body = match audience {
                Audience::Owner => format!("Your pet's trip (booking {n}) is scheduled for {at}"),
                Audience::Runner => format!("You have a pickup for booking {n} at {at}"),
            };
            ("Trip Reminder".into(), body)
        }
        "booking.schedule_missed" => {
            let at = data["at_local"].as_str().unwrap_or_default();
            let body = format!("No runner has taken booking {n} for {at} yet; we keep trying, or you may cancel");
            ("No Runner for Your Scheduled Trip".into(), body)
        }
        "review.created" => {
            let stars = data["rating"].as_i64().unwrap_or_default();
            ("New Review".into(), format!("You received a {stars}-star review for booking {n}"))
        }
        "booking.accepted" => ("Runner Assigned!".into(), format!("A runner has accepted your booking {n}")),
        "booking.pet_picked_up" => ("Pet Picked Up".into(), format!("Your pet is on the way (booking {n})")),
        "booking.delivery_confirmed" => {
            ("Pet Delivered".into(), format!("Your pet has arrived. Please confirm delivery of booking {n}"))
        }
        "booking.completed" => {
            let amount = data["final_price_cents"].as_i64().map(ringgit).unwrap_or_default();
            ("Booking Completed".into(), format!("Booking {n} is complete. Total {amount}").trim().to_owned())
        }
        "booking.cancelled" => {
            let reason = data["reason"].as_str().filter(|r| !r.is_empty());
            let body = match reason {
                Some(r) => format!("Booking {n} was cancelled: {r}"),
                None => format!("Booking {n} was cancelled"),
            };
            ("Booking Cancelled".into(), body)
        }
        "booking.searching" => {
            ("Finding a Runner".into(), format!("We are offering booking {n} to runners near the pickup"))
        }
        "booking.no_runner_yet" => {
            ("No Runner Yet".into(), format!("No runner is free near the pickup of booking {n} yet; we keep trying"))
        }
        "tracking.started" => ("Tracking Started".into(), format!("Live tracking for booking {n} has started")),
        "tracking.completed" => {
            let km = data["total_distance_km"].as_f64().unwrap_or(0.0);
            ("Trip Completed".into(), format!("The trip for booking {n} has finished ({km:.1} km)"))
        }
        "payment.escrow_held" => {
            let amount = data["amount_cents"].as_i64().map(ringgit).unwrap_or_default();
            ("Payment Secured".into(), format!("{amount} for booking {n} is held safely until you confirm delivery"))
        }
        "payment.escrow_released" => {
            ("Payment Released".into(), format!("The payment for booking {n} has been released to the runner"))
        }
        "payment.escrow_refunded" => {
            let amount = data["amount_cents"].as_i64().map(ringgit).unwrap_or_default();
            ("Payment Refunded".into(), format!("{amount} for booking {n} has been refunded"))
        }
        "payment.failed" => {
            let reason = data["reason"].as_str().filter(|r| !r.is_empty()).unwrap_or("unknown reason");
            ("Payment Failed".into(), format!("Payment for booking {n} failed: {reason}"))
        }
        "chat.message_sent" => {
            let content = data["content"].as_str().unwrap_or("");
            let preview: String = content.chars().take(100).collect();
            ("New Message".into(), preview)
        }
        _ => return None,
    })
}

text_enum! {
    /// Where a stored notification is on its way out (push, SMS, email).
    pub enum DeliveryStatus {
        Pending = "pending",
        /// claimed by one node's notifier (with a lease)
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
        PartiallySent = "partially_sent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cancel_notifies_the_other_participants() {
        let (owner, runner) = (Uuid::new_v4(), Uuid::new_v4());
        let (o, r) = ((owner, Audience::Owner), (runner, Audience::Runner));
        assert_eq!(recipients("booking.cancelled", owner, Some(runner), Some(owner)), vec![r]);
        assert_eq!(recipients("booking.cancelled", owner, Some(runner), Some(runner)), vec![o]);
        let admin = Uuid::new_v4();
        assert_eq!(recipients("booking.cancelled", owner, Some(runner), Some(admin)), vec![o, r]);
        assert!(recipients("booking.cancelled", owner, None, Some(owner)).is_empty());
        assert_eq!(recipients("booking.accepted", owner, Some(runner), Some(runner)), vec![o]);
        assert!(recipients("booking.declined", owner, None, None).is_empty());
    }

    #[test]
    fn scheduled_trips_are_told_in_kuala_lumpur_time() {
        let at = DateTime::parse_from_rfc3339("2026-12-04T09:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(schedule_text(at), "Fri 4 Dec, 17:00");
        let data = json!({"at_local": schedule_text(at)});
        let (title, body) = render("booking.reminder", "BK-1", &data, Audience::Owner).unwrap();
        assert_eq!(
            (title.as_str(), body.as_str()),
            ("Trip Reminder", "Your pet's trip (booking BK-1) is scheduled for Fri 4 Dec, 17:00")
        );
        let (owner, runner) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(recipients("booking.reminder", owner, Some(runner), None).len(), 2);
        assert_eq!(recipients("booking.schedule_missed", owner, None, None), vec![(owner, Audience::Owner)]);
        let (_, alarm) = render_for_admins("booking.schedule_missed", "BK-1", &data);
        assert_eq!(alarm, "Booking BK-1 was due at Fri 4 Dec, 17:00 and still has no runner");
    }

    #[test]
    fn texts_follow_the_reference_templates() {
        let (title, body) = render("booking.accepted", "BK-7KQ2ZP", &json!({}), Audience::Owner).unwrap();
        assert_eq!(title, "Runner Assigned!");
        assert_eq!(body, "A runner has accepted your booking BK-7KQ2ZP");
        assert_eq!(ringgit(2960), "RM 29.60");
        let (_, body) =
            render("booking.completed", "BK-1", &json!({"final_price_cents": 2960}), Audience::Owner).unwrap();
        assert_eq!(body, "Booking BK-1 is complete. Total RM 29.60");
    }

    #[test]
    fn a_released_payment_reads_right_to_each_side() {
        let data = json!({"runner_payout_cents": 2516, "platform_fee_cents": 444});
        let (title, body) = render("payment.escrow_released", "BK-9", &data, Audience::Owner).unwrap();
        assert_eq!(
            (title.as_str(), body.as_str()),
            ("Payment Released", "The payment for booking BK-9 has been released to the runner")
        );
        let (title, body) = render("payment.escrow_released", "BK-9", &data, Audience::Runner).unwrap();
        assert_eq!(
            (title.as_str(), body.as_str()),
            ("Payment Received", "You have been paid RM 25.16 for booking BK-9")
        );
        let (owner, runner) = (Uuid::new_v4(), Uuid::new_v4());
        let to = recipients("payment.escrow_released", owner, Some(runner), None);
        assert_eq!(to, vec![(owner, Audience::Owner), (runner, Audience::Runner)]);
    }
}
