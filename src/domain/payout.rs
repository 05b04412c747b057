//! Runners' cash-outs (contract §8.6, docs/API.md#cash-out): what a
//! request must say, and how a destination's account number is kept.

use serde_json::Value;
use uuid::Uuid;

use super::ValidationError;

text_enum! {
    /// Where a cash-out is: `pending → processing → completed | failed`.
    pub enum CashOutStatus {
        Pending = "pending",
        Processing = "processing",
        Completed = "completed",
        Failed = "failed",
    }
}

/// `amountMyrCents` (a whole number of sen above zero) and `destinationId`.
pub fn parse_cash_out(amount: Option<&Value>, destination: Option<&str>) -> Result<(i64, Uuid), ValidationError> {
    let amount = amount
        .and_then(Value::as_i64)
        .filter(|a| *a > 0)
        .ok_or_else(|| ValidationError::new("amountMyrCents must be a whole number of sen above 0"))?;
    let destination = destination
        .map(str::trim)
        .and_then(|d| Uuid::parse_str(d).ok())
        .ok_or_else(|| ValidationError::new("destinationId must be a UUID"))?;
    Ok((amount, destination))
}

/// `etaMinutes`: the rail delay in whole minutes, rounded up.
pub fn eta_minutes(rail_delay_secs: u64) -> u64 {
    rail_delay_secs.div_ceil(60)
}

/// A destination as a runner gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub bank_name: String,
    pub account_holder: String,
    /// `•••• 6789`: the last four digits only.
    pub account_masked: String,
    /// The rail's id of the account (a Stripe connected account, `acct_…`).
    pub rail_account: String,
}

fn text(raw: Option<&str>, key: &str, max: usize) -> Result<String, ValidationError> {
    let v = raw.map(str::trim).unwrap_or_default();
    if v.is_empty() {
        return Err(ValidationError::new(format!("{key} is required")));
    }
    if v.chars().count() > max {
        return Err(ValidationError::new(format!("{key} must be at most {max} characters")));
    }
    Ok(v.to_owned())
}

impl Destination {
    /// `account_number`: 6 to 20 digits (spaces and dashes ignored), kept
    /// masked. `rail_account`: `acct_…` when the rail needs one; without it
    /// a simulated rail uses `sim_<last four>`.
    pub fn parse(
        bank_name: Option<&str>,
        account_holder: Option<&str>,
        account_number: Option<&str>,
        rail_account: Option<&str>,
        rail_needs_account: bool,
    ) -> Result<Self, ValidationError> {
        let bank_name = text(bank_name, "bank_name", 100)?;
        let account_holder = text(account_holder, "account_holder", 100)?;
        let digits: String =
            account_number.unwrap_or_default().chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if !(6..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new("account_number must be 6 to 20 digits"));
        }
        let last4 = &digits[digits.len() - 4..];
        let rail_account = match rail_account.map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) if a.starts_with("acct_") && a.len() <= 64 => a.to_owned(),
            Some(_) => return Err(ValidationError::new("rail_account must be a connected account id (acct_…)")),
            None if rail_needs_account => {
                return Err(ValidationError::new("rail_account (a connected account id, acct_…) is required"));
            }
            None => format!("sim_{last4}"),
        };
        Ok(Self { bank_name, account_holder, account_masked: format!("•••• {last4}"), rail_account })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cash_out_names_a_positive_amount_and_a_destination() {
        let id = Uuid::from_u128(7).to_string();
        assert_eq!(parse_cash_out(Some(&json!(2000)), Some(&id)).unwrap(), (2000, Uuid::from_u128(7)));
        for bad in [json!(0), json!(-5), json!(12.5), json!("2000"), json!(null)] {
            assert!(parse_cash_out(Some(&bad), Some(&id)).is_err(), "{bad}");
        }
        assert_eq!(parse_cash_out(Some(&json!(1)), Some("x")).unwrap_err().0, "destinationId must be a UUID");
        assert_eq!((eta_minutes(30), eta_minutes(60), eta_minutes(61), eta_minutes(0)), (1, 1, 2, 0));
    }

    #[test]
    fn only_the_last_four_digits_are_kept() {
        let d = Destination::parse(Some("Maybank"), Some("Hafiz"), Some("1140-2233-6789"), None, false).unwrap();
        assert_eq!((d.account_masked.as_str(), d.rail_account.as_str()), ("•••• 6789", "sim_6789"));
        let e = Destination::parse(Some("Maybank"), Some("Hafiz"), Some("12345678"), None, true).unwrap_err();
        assert_eq!(e.0, "rail_account (a connected account id, acct_…) is required");
        assert!(Destination::parse(Some("Maybank"), Some("Hafiz"), Some("12ab5678"), None, false).is_err());
    }
}
