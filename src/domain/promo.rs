//! Promos, subscriptions and referrals (contract §8.3–8.5,
//! docs/API.md#promos): the rules that decide what an owner is charged.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ValidationError;
use super::time;

/// Stripe's smallest MYR charge: discounts and credit stop short of it.
pub const MIN_CHARGE_CENTS: i64 = 200;

/// A referral's reward to each side, sen.
pub const REFERRAL_REWARD_CENTS: i64 = 500;

text_enum! {
    pub enum DiscountType {
        Percentage = "percentage",
        Fixed = "fixed",
    }
}

/// A promo as an admin creates it, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPromo {
    pub code: String,
    pub discount_type: DiscountType,
    pub discount_value: i64,
    pub min_amount_cents: i64,
    pub max_discount_cents: i64,
    pub max_uses: i32,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

/// Trimmed and upper-cased: codes match whatever case they are typed in.
pub fn normalise_code(raw: &str) -> String {
    raw.trim().to_uppercase()
}

fn whole(v: Option<&Value>, key: &str, required: bool) -> Result<i64, ValidationError> {
    match v {
        None | Some(Value::Null) if !required => Ok(0),
        Some(v) => v
            .as_i64()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ValidationError::new(format!("{key} must be a whole number, 0 or more"))),
        None => Err(ValidationError::new(format!("{key} is required"))),
    }
}

impl NewPromo {
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        code: Option<&str>,
        discount_type: Option<&str>,
        discount_value: Option<&Value>,
        min_amount_cents: Option<&Value>,
        max_discount_cents: Option<&Value>,
        max_uses: Option<&Value>,
        valid_from: Option<&str>,
        valid_until: Option<&str>,
    ) -> Result<Self, ValidationError> {
        let code = normalise_code(code.unwrap_or_default());
        if code.is_empty() {
            return Err(ValidationError::new("code is required"));
        }
        if code.len() > 32 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ValidationError::new("code must be up to 32 letters, digits, '-' or '_'"));
        }
        let discount_type = discount_type
            .and_then(|t| DiscountType::parse(t.trim()))
            .ok_or_else(|| ValidationError::new("discount_type must be percentage or fixed"))?;
        let discount_value = whole(discount_value, "discount_value", true)?;
        match discount_type {
            DiscountType::Percentage if !(1..=100).contains(&discount_value) => {
                return Err(ValidationError::new("a percentage discount_value must be from 1 to 100"));
            }
            DiscountType::Fixed if discount_value < 1 => {
                return Err(ValidationError::new("a fixed discount_value must be at least 1 sen"));
            }
            _ => {}
        }
        let max_uses = whole(max_uses, "max_uses", false)?;
        let max_uses = i32::try_from(max_uses).map_err(|_| ValidationError::new("max_uses is too large"))?;
        let date = |raw: Option<&str>, key: &str| {
            raw.and_then(|r| time::parse(r.trim()))
                .ok_or_else(|| ValidationError::new(format!("{key} is required, RFC 3339")))
        };
        let valid_from = date(valid_from, "valid_from")?;
        let valid_until = date(valid_until, "valid_until")?;
        if valid_until <= valid_from {
            return Err(ValidationError::new("valid_until must be after valid_from"));
        }
        Ok(Self {
            code,
            discount_type,
            discount_value,
            min_amount_cents: whole(min_amount_cents, "min_amount_cents", false)?,
            max_discount_cents: whole(max_discount_cents, "max_discount_cents", false)?,
            max_uses,
            valid_from,
            valid_until,
        })
    }
}

/// What a promo takes off `amount_cents` (its cap applied, never more
/// than the amount).
pub fn promo_discount(kind: DiscountType, value: i64, max_discount_cents: i64, amount_cents: i64) -> i64 {
    let raw = match kind {
        DiscountType::Percentage => amount_cents.saturating_mul(value) / 100,
        DiscountType::Fixed => value,
    };
    let capped = if max_discount_cents > 0 { raw.min(max_discount_cents) } else { raw };
    capped.clamp(0, amount_cents.max(0))
}

/// Why a promo cannot be used (the validate endpoint's `message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromoRefusal {
    NotFound,
    ExpiredOrUsedUp,
    AlreadyUsed,
    BelowMinimum(i64),
}

impl PromoRefusal {
    pub fn message(&self) -> String {
        match self {
            PromoRefusal::NotFound => "promo code not found".into(),
            PromoRefusal::ExpiredOrUsedUp => "promo code is expired or fully used".into(),
            PromoRefusal::AlreadyUsed => "you have already used this promo code".into(),
            PromoRefusal::BelowMinimum(n) => format!("minimum amount of {n} cents required"),
        }
    }
}

/// A subscription plan (contract §8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub plan: &'static str,
    pub price_cents: i64,
    pub duration_days: i64,
    pub discount_percent: i64,
    pub description: &'static str,
}

pub const PLANS: [Plan; 2] = [
    Plan {
        plan: "basic",
        price_cents: 1990,
        duration_days: 30,
        discount_percent: 5,
        description: "5% off every trip for 30 days",
    },
    Plan {
        plan: "premium",
        price_cents: 4990,
        duration_days: 30,
        discount_percent: 15,
        description: "15% off every trip for 30 days",
    },
];

pub fn plan(name: &str) -> Result<Plan, ValidationError> {
    let name = name.trim().to_ascii_lowercase();
    PLANS.into_iter().find(|p| p.plan == name).ok_or_else(|| ValidationError::new("plan must be basic or premium"))
}

/// A subscriber's discount on a booking priced `price_cents`.
pub fn subscription_discount(price_cents: i64, percent: i64) -> i64 {
    price_cents.saturating_mul(percent) / 100
}

/// How much of `remaining` (what is left to charge) discounts and credit
/// may still take: never below the smallest charge.
pub fn room_for_discount(remaining: i64) -> i64 {
    (remaining - MIN_CHARGE_CENTS).max(0)
}

/// A referral code as typed, in its stored form (`REF-` + lower-case hex).
pub fn normalise_referral_code(raw: &str) -> String {
    let raw = raw.trim();
    match raw.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("REF-") => format!("REF-{}", raw[4..].to_ascii_lowercase()),
        _ => raw.to_owned(),
    }
}

/// `REF-` + 8 hex characters.
pub fn new_referral_code() -> String {
    format!("REF-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn promos_are_validated_and_upper_cased() {
        let p = NewPromo::parse(
            Some(" kilat10 "),
            Some("percentage"),
            Some(&json!(10)),
            None,
            Some(&json!(500)),
            Some(&json!(3)),
            Some("2026-12-01T00:00:00Z"),
            Some("2026-12-31T00:00:00Z"),
        )
        .unwrap();
        assert_eq!((p.code.as_str(), p.max_uses), ("KILAT10", 3));
        let bad = |t: &str, v: Value, from: &str, until: &str| {
            NewPromo::parse(Some("X"), Some(t), Some(&v), None, None, None, Some(from), Some(until)).unwrap_err().0
        };
        let (a, b) = ("2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z");
        assert_eq!(bad("percentage", json!(101), a, b), "a percentage discount_value must be from 1 to 100");
        assert_eq!(bad("bogo", json!(1), a, b), "discount_type must be percentage or fixed");
        assert_eq!(bad("fixed", json!(100), b, a), "valid_until must be after valid_from");
        assert_eq!(bad("fixed", json!(100), "soon", b), "valid_from is required, RFC 3339");
    }

    #[test]
    fn discounts_are_capped_and_never_exceed_the_amount() {
        assert_eq!(promo_discount(DiscountType::Percentage, 10, 0, 2960), 296);
        assert_eq!(promo_discount(DiscountType::Percentage, 50, 500, 2960), 500);
        assert_eq!(promo_discount(DiscountType::Fixed, 5000, 0, 2960), 2960);
        assert_eq!(subscription_discount(2960, 15), 444);
        assert_eq!(room_for_discount(2960), 2760);
        assert_eq!(room_for_discount(150), 0);
        assert_eq!(plan(" Premium ").unwrap().price_cents, 4990);
        assert!(plan("gold").is_err());
        let code = new_referral_code();
        assert!(code.starts_with("REF-") && code.len() == 12, "{code}");
        assert_eq!(normalise_referral_code(&format!(" {} ", code.to_uppercase())), code);
    }
}
