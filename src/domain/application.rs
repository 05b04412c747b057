//! Runner applications (contract §8.2, docs/API.md#runner-applications):
//! what a person applying to be a runner sends, and the rules it must meet.

use super::ValidationError;
use super::identity::{Email, Phone};

pub const VEHICLE_TYPES: [&str; 3] = ["motorbike", "car", "bicycle"];
pub const PET_EXPERIENCE: [&str; 6] = ["dogs", "cats", "birds", "fish", "small_pets", "vet_trips"];
pub const MAX_NAME: usize = 100;
pub const MAX_PLATE: usize = 15;
pub const MAX_REASON: usize = 500;

text_enum! {
    /// Where an application stands.
    pub enum ApplicationStatus {
        PendingReview = "pending_review",
        Approved = "approved",
        Rejected = "rejected",
    }
}

/// The request body as the apps send it (camelCase, every key optional so
/// a missing one gets its own message).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationInput {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Ours, optional: where the decision is mailed, and the address that
    /// may then register as a runner.
    pub email: Option<String>,
    pub ic_number: Option<String>,
    pub vehicle_type: Option<String>,
    pub plate_number: Option<String>,
    pub pet_experience: Option<Vec<String>>,
    pub comfortable_with_live_pets: Option<bool>,
    pub consent_acknowledged: Option<bool>,
}

/// An application that meets every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    /// `YYMMDD-PB-NNNN`, however it was typed.
    pub ic_number: String,
    pub vehicle_type: &'static str,
    /// Upper-case, spaces collapsed.
    pub plate_number: String,
    pub pet_experience: Vec<&'static str>,
    pub comfortable_with_live_pets: bool,
}

fn required<'a>(value: &'a Option<String>, key: &str) -> Result<&'a str, ValidationError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ValidationError::new(format!("{key} is required")))
}

/// A Malaysian identity card number: 12 digits, dashes optional
/// (`900101-14-5678` or `900101145678`), written back with dashes.
pub fn parse_ic_number(raw: &str) -> Result<String, ValidationError> {
    let digits: String = raw.chars().filter(|c| *c != '-' && !c.is_whitespace()).collect();
    if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValidationError::new("icNumber must be 12 digits (YYMMDD-PB-NNNN)"));
    }
    Ok(format!("{}-{}-{}", &digits[..6], &digits[6..8], &digits[8..]))
}

impl ApplicationInput {
    pub fn parse(self) -> Result<Application, ValidationError> {
        let name = required(&self.name, "name")?;
        if name.chars().count() > MAX_NAME {
            return Err(ValidationError::new("name must be at most 100 characters"));
        }
        let phone = Phone::parse(required(&self.phone, "phone")?)?;
        let email = match self.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(raw) => Some(Email::parse(raw)?.as_str().to_owned()),
            None => None,
        };
        let ic_number = parse_ic_number(required(&self.ic_number, "icNumber")?)?;
        let vehicle = required(&self.vehicle_type, "vehicleType")?.to_ascii_lowercase();
        let vehicle_type = VEHICLE_TYPES
            .into_iter()
            .find(|v| *v == vehicle)
            .ok_or_else(|| ValidationError::new(format!("vehicleType must be one of: {}", VEHICLE_TYPES.join(", "))))?;
        let plate_number = required(&self.plate_number, "plateNumber")?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase();
        if plate_number.chars().count() > MAX_PLATE {
            return Err(ValidationError::new("plateNumber must be at most 15 characters"));
        }
        let mut pet_experience: Vec<&'static str> = Vec::new();
        for raw in self.pet_experience.unwrap_or_default() {
            let raw = raw.trim().to_ascii_lowercase();
            let known = PET_EXPERIENCE.into_iter().find(|p| *p == raw).ok_or_else(|| {
                ValidationError::new(format!("petExperience must be from: {}", PET_EXPERIENCE.join(", ")))
            })?;
            if !pet_experience.contains(&known) {
                pet_experience.push(known);
            }
        }
        if pet_experience.is_empty() {
            return Err(ValidationError::new(format!(
                "petExperience must list at least one of: {}",
                PET_EXPERIENCE.join(", ")
            )));
        }
        let comfortable_with_live_pets = self
            .comfortable_with_live_pets
            .ok_or_else(|| ValidationError::new("comfortableWithLivePets is required"))?;
        if self.consent_acknowledged != Some(true) {
            return Err(ValidationError::new("consent must be acknowledged"));
        }
        Ok(Application {
            name: name.to_owned(),
            phone: phone.as_str().to_owned(),
            email,
            ic_number,
            vehicle_type,
            plate_number,
            pet_experience,
            comfortable_with_live_pets,
        })
    }
}

/// `KR-<year>-<5 digits>`: the `number`-th application of `year`.
pub fn application_number(year: i32, number: i32) -> String {
    format!("KR-{year}-{number:05}")
}

/// A rejection's reason: required, at most 500 characters.
pub fn parse_reason(raw: Option<&str>) -> Result<String, ValidationError> {
    let reason = raw.map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        return Err(ValidationError::new("reason is required"));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(ValidationError::new("reason must be at most 500 characters"));
    }
    Ok(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ApplicationInput {
        ApplicationInput {
            name: Some(" Aisyah Rahman ".into()),
            phone: Some("+60123456789".into()),
            email: Some(" Aisyah@Example.my ".into()),
            ic_number: Some("900101145678".into()),
            vehicle_type: Some("car".into()),
            plate_number: Some(" wxy  1234 ".into()),
            pet_experience: Some(vec!["dogs".into(), "Cats".into(), "dogs".into()]),
            comfortable_with_live_pets: Some(true),
            consent_acknowledged: Some(true),
        }
    }

    #[test]
    fn a_valid_application_is_normalised() {
        let a = valid().parse().unwrap();
        assert_eq!(a.name, "Aisyah Rahman");
        assert_eq!(a.email.as_deref(), Some("aisyah@example.my"));
        assert_eq!(a.ic_number, "900101-14-5678");
        assert_eq!(a.plate_number, "WXY 1234");
        assert_eq!(a.pet_experience, vec!["dogs", "cats"]);
        assert_eq!(parse_ic_number("900101-14-5678").unwrap(), a.ic_number, "dashes or not, one IC number");
    }

    #[test]
    fn each_broken_rule_is_named() {
        type Breaks = fn(&mut ApplicationInput);
        let cases: Vec<(Breaks, &str)> = vec![
            (|a| a.vehicle_type = Some("van".into()), "vehicleType must be one of: motorbike, car, bicycle"),
            (|a| a.consent_acknowledged = Some(false), "consent must be acknowledged"),
            (|a| a.consent_acknowledged = None, "consent must be acknowledged"),
            (|a| a.name = Some("  ".into()), "name is required"),
            (|a| a.ic_number = Some("12345".into()), "icNumber must be 12 digits (YYMMDD-PB-NNNN)"),
            (
                |a| a.pet_experience = Some(vec![]),
                "petExperience must list at least one of: dogs, cats, birds, fish, small_pets, vet_trips",
            ),
            (
                |a| a.pet_experience = Some(vec!["horses".into()]),
                "petExperience must be from: dogs, cats, birds, fish, small_pets, vet_trips",
            ),
            (|a| a.comfortable_with_live_pets = None, "comfortableWithLivePets is required"),
            (|a| a.phone = Some("abc".into()), "invalid phone format: abc"),
        ];
        for (breaks, message) in cases {
            let mut input = valid();
            breaks(&mut input);
            assert_eq!(input.parse().unwrap_err().0, message);
        }
    }

    #[test]
    fn numbers_are_five_digits_per_year() {
        assert_eq!(application_number(2026, 1), "KR-2026-00001");
        assert_eq!(application_number(2027, 12345), "KR-2027-12345");
    }
}
