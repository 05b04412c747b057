//! Pets (docs/API.md#pets, docs/API.md#pets-and-vaccinations): the six pet types, the pet specification a
//! booking carries, and the vaccination validity rule.

use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};

use super::ValidationError;
use super::time::{rfc3339, rfc3339_opt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PetType {
    Cat,
    Dog,
    Bird,
    Rabbit,
    Reptile,
    Other,
}

impl PetType {
    pub const ALL: [PetType; 6] =
        [PetType::Cat, PetType::Dog, PetType::Bird, PetType::Rabbit, PetType::Reptile, PetType::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            PetType::Cat => "cat",
            PetType::Dog => "dog",
            PetType::Bird => "bird",
            PetType::Rabbit => "rabbit",
            PetType::Reptile => "reptile",
            PetType::Other => "other",
        }
    }

    /// Case-insensitive.
    pub fn parse(raw: &str) -> Option<Self> {
        let norm = raw.trim().to_ascii_lowercase();
        PetType::ALL.into_iter().find(|t| t.as_str() == norm)
    }

    /// For pet profiles: 400 naming the allowed values.
    pub fn parse_profile(raw: &str) -> Result<Self, ValidationError> {
        PetType::parse(raw)
            .ok_or_else(|| ValidationError::new("pet_type must be one of: cat, dog, bird, rabbit, reptile, other"))
    }
}

pub const MAX_PET_WEIGHT_KG: f64 = 500.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vaccination {
    pub vaccine_name: String,
    #[serde(with = "rfc3339")]
    pub date_given: DateTime<Utc>,
    #[serde(with = "rfc3339_opt", default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub vet_name: String,
    #[serde(default)]
    pub verified: bool,
}

/// The pet a booking carries, validated. Stored as JSON and emitted as the
/// contract's `pet_spec` (every key present).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PetSpec {
    pub pet_type: PetType,
    pub breed: String,
    pub name: String,
    pub weight_kg: f64,
    pub age_months: i64,
    pub vaccinations: Vec<Vaccination>,
    pub special_needs: String,
    pub photo_url: String,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct VaccinationInput {
    pub vaccine_name: Option<String>,
    /// RFC 3339
    pub date_given: Option<String>,
    /// RFC 3339
    pub expires_at: Option<String>,
    pub vet_name: Option<String>,
    pub verified: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PetSpecInput {
    pub pet_type: Option<String>,
    pub breed: Option<String>,
    pub name: Option<String>,
    pub weight_kg: Option<f64>,
    pub age_months: Option<i64>,
    pub vaccinations: Option<Vec<VaccinationInput>>,
    pub special_needs: Option<String>,
    pub photo_url: Option<String>,
}

fn text(v: Option<String>) -> String {
    v.map(|s| s.trim().to_owned()).unwrap_or_default()
}

impl PetSpecInput {
    /// Validates in the contract's order: pet type (a pricing error in the
    /// reference), name, weight, then each vaccination against `now`.
    pub fn parse(self, now: DateTime<Utc>) -> Result<PetSpec, ValidationError> {
        let raw_type = self.pet_type.unwrap_or_default();
        let pet_type = PetType::parse(&raw_type).ok_or_else(|| {
            ValidationError::new(format!("pricing error: unknown pet type for pricing: {}", raw_type.trim()))
        })?;
        let name = text(self.name);
        if name.is_empty() {
            return Err(ValidationError::new("pet name is required"));
        }
        let weight_kg = self.weight_kg.unwrap_or(0.0);
        if !(weight_kg.is_finite() && weight_kg > 0.0) {
            return Err(ValidationError::new("pet weight must be positive"));
        }
        if weight_kg > MAX_PET_WEIGHT_KG {
            return Err(ValidationError::new(format!("pet weight must be at most {MAX_PET_WEIGHT_KG} kg")));
        }
        let age_months = self.age_months.unwrap_or(0);
        if age_months < 0 {
            return Err(ValidationError::new("age_months must not be negative"));
        }
        let vaccinations = self
            .vaccinations
            .unwrap_or_default()
            .into_iter()
            .map(|v| parse_vaccination(v, now))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PetSpec {
            pet_type,
            breed: text(self.breed),
            name,
            weight_kg,
            age_months,
            vaccinations,
            special_needs: text(self.special_needs),
            photo_url: text(self.photo_url),
        })
    }
}

fn parse_vaccination(input: VaccinationInput, now: DateTime<Utc>) -> Result<Vaccination, ValidationError> {
    let name = text(input.vaccine_name);
    if name.is_empty() {
        return Err(ValidationError::new("vaccine_name is required"));
    }
    let date_given = match input.date_given.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() => super::time::parse(raw)
            .ok_or_else(|| ValidationError::new(format!("vaccination '{name}': date_given must be RFC 3339")))?,
        _ => return Err(ValidationError::new(format!("vaccination '{name}': date_given is required"))),
    };
    let expires_at = match input.expires_at.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() => Some(
            super::time::parse(raw)
                .ok_or_else(|| ValidationError::new(format!("vaccination '{name}': expires_at must be RFC 3339")))?,
        ),
        _ => None,
    };
    let vaccination = Vaccination {
        vaccine_name: name,
        date_given,
        expires_at,
        vet_name: text(input.vet_name),
        verified: input.verified.unwrap_or(false),
    };
    check_validity(&vaccination, now)?;
    Ok(vaccination)
}

/// (docs/API.md#pets-and-vaccinations) expired, or given more than one year before `now`, is refused;
/// so is a date given in the future.
pub fn check_validity(v: &Vaccination, now: DateTime<Utc>) -> Result<(), ValidationError> {
    let name = &v.vaccine_name;
    if v.expires_at.is_some_and(|e| e < now) {
        return Err(ValidationError::new(format!("vaccination '{name}' has expired")));
    }
    let a_year_ago = now.checked_sub_months(Months::new(12)).unwrap_or(now);
    if v.date_given < a_year_ago {
        return Err(ValidationError::new(format!("vaccination '{name}' was given more than 1 year ago")));
    }
    if v.date_given > now + chrono::Duration::days(1) {
        return Err(ValidationError::new(format!("vaccination '{name}' has a date_given in the future")));
    }
    Ok(())
}

text_enum! {
    /// A pet profile: listed, or archived (kept for bookings that name it).
    pub enum PetStatus {
        Active = "active",
        Archived = "archived",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 17, 9, 0, 0).unwrap()
    }

    fn spec(vaccinations: Vec<VaccinationInput>) -> PetSpecInput {
        PetSpecInput {
            pet_type: Some("Dog".into()),
            name: Some("Buddy".into()),
            weight_kg: Some(12.0),
            vaccinations: Some(vaccinations),
            ..Default::default()
        }
    }

    fn rabies(given: &str, expires: Option<&str>) -> VaccinationInput {
        VaccinationInput {
            vaccine_name: Some("Rabies".into()),
            date_given: Some(given.into()),
            expires_at: expires.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_spec_fills_every_key() {
        let spec = spec(vec![rabies("2025-11-01T00:00:00Z", Some("2026-11-01T00:00:00Z"))]).parse(now()).unwrap();
        assert_eq!(spec.pet_type, PetType::Dog);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["breed"], "");
        assert_eq!(json["vaccinations"][0]["date_given"], "2025-11-01T00:00:00Z");
        assert_eq!(json["vaccinations"][0]["vet_name"], "");
    }

    #[test]
    fn vaccination_boundaries() {
        let err = |v| spec(vec![v]).parse(now()).unwrap_err().0;
        // exactly one year ago is still valid; a second more is not
        assert!(spec(vec![rabies("2025-05-17T09:00:00Z", None)]).parse(now()).is_ok());
        assert_eq!(err(rabies("2025-05-17T08:59:59Z", None)), "vaccination 'Rabies' was given more than 1 year ago");
        // expiring right now is still valid; a second ago is expired
        assert!(spec(vec![rabies("2026-01-01T00:00:00Z", Some("2026-05-17T09:00:00Z"))]).parse(now()).is_ok());
        assert_eq!(
            err(rabies("2026-01-01T00:00:00Z", Some("2026-05-17T08:59:59Z"))),
            "vaccination 'Rabies' has expired"
        );
        assert_eq!(err(rabies("yesterday", None)), "vaccination 'Rabies': date_given must be RFC 3339");
        assert!(spec(vec![]).parse(now()).is_ok());
    }

    #[test]
    fn pet_checks_in_contract_order() {
        let mut s = spec(vec![]);
        s.pet_type = Some("dragon".into());
        s.name = None;
        assert_eq!(s.parse(now()).unwrap_err().0, "pricing error: unknown pet type for pricing: dragon");
        let mut s = spec(vec![]);
        s.name = Some(" ".into());
        assert_eq!(s.parse(now()).unwrap_err().0, "pet name is required");
        let mut s = spec(vec![]);
        s.weight_kg = Some(0.0);
        assert_eq!(s.parse(now()).unwrap_err().0, "pet weight must be positive");
    }

    #[test]
    fn pet_types_are_case_insensitive() {
        assert_eq!(PetType::parse("REPTILE"), Some(PetType::Reptile));
        assert!(PetType::parse_profile("hamster").is_err());
    }
}
