//! Runner eligibility for a booking (docs/API.md#crates-and-eligibility): online, a crate that
//! fits, an air-conditioned vehicle where needed, and the quality policy.

use super::crates::{Crate, CrateRequirement, any_fits};
use super::pet::PetType;

/// What the rules need to know about a runner.
#[derive(Debug, Clone)]
pub struct RunnerFacts {
    pub online: bool,
    pub air_conditioned: bool,
    pub rating: f64,
    pub total_trips: i32,
    pub completion_rate: f64,
    pub crates: Vec<Crate>,
}

/// A pluggable quality bar.
pub trait QualityPolicy: Send + Sync {
    /// `Err` names the failed rule.
    fn check(&self, rating: f64, total_trips: i32, completion_rate: f64) -> Result<(), String>;
}

/// A rating is the mean of the runner's reviews (each 1 to 5), so a rating
/// of 0 means "not rated yet", not "rated zero": such a runner is judged
/// like a new one (docs/API.md#crates-and-eligibility). Without this, every
/// runner would be locked out after their first completed trip.
fn unrated(rating: f64, total_trips: i32) -> bool {
    total_trips == 0 || rating == 0.0
}

/// Rating at least 3.0, unless the runner has no trips (or no rating) yet.
pub struct StandardQuality;

impl QualityPolicy for StandardQuality {
    fn check(&self, rating: f64, total_trips: i32, _completion_rate: f64) -> Result<(), String> {
        if unrated(rating, total_trips) || rating >= 3.0 {
            Ok(())
        } else {
            Err(format!("rating {rating:.2} is below 3.00"))
        }
    }
}

/// The stricter tier: rating at least 4.8 and completion above 95 %
/// (new runners are let in, as with the standard policy).
pub struct FiveStarQuality;

impl QualityPolicy for FiveStarQuality {
    fn check(&self, rating: f64, total_trips: i32, completion_rate: f64) -> Result<(), String> {
        if unrated(rating, total_trips) {
            return Ok(());
        }
        if rating < 4.8 {
            return Err(format!("rating {rating:.2} is below 4.80"));
        }
        if completion_rate <= 0.95 {
            return Err(format!("completion rate {completion_rate:.2} is not above 0.95"));
        }
        Ok(())
    }
}

/// `Err` is the detail of the 422 `runner is not eligible for this booking`.
pub fn check(
    runner: &RunnerFacts,
    pet_type: PetType,
    weight_kg: f64,
    requirement: &CrateRequirement,
    policy: &dyn QualityPolicy,
) -> Result<(), String> {
    if !runner.online {
        return Err("runner is not online".into());
    }
    any_fits(&runner.crates, pet_type, weight_kg, requirement).map_err(|m| m.describe().to_owned())?;
    if requirement.needs_air_conditioning() && !runner.air_conditioned {
        return Err("vehicle is not air-conditioned".into());
    }
    policy.check(runner.rating, runner.total_trips, runner.completion_rate)
}

text_enum! {
    /// A runner's shift: online (offered jobs, in the pool) or offline.
    pub enum Shift {
        Active = "active",
        Inactive = "inactive",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner() -> RunnerFacts {
        RunnerFacts {
            online: true,
            air_conditioned: false,
            rating: 0.0,
            total_trips: 0,
            completion_rate: 1.0,
            crates: vec![Crate {
                size: "large".into(),
                pet_types: vec!["dog".into(), "reptile".into()],
                max_weight_kg: 30.0,
                ventilated: true,
                temperature_controlled: true,
            }],
        }
    }

    #[test]
    fn each_rule_is_named() {
        let dog = CrateRequirement::for_pet(PetType::Dog, 12.0);
        assert!(check(&runner(), PetType::Dog, 12.0, &dog, &StandardQuality).is_ok());
        let mut r = runner();
        r.online = false;
        assert_eq!(check(&r, PetType::Dog, 12.0, &dog, &StandardQuality).unwrap_err(), "runner is not online");
        let cat = CrateRequirement::for_pet(PetType::Cat, 3.0);
        assert_eq!(
            check(&runner(), PetType::Cat, 3.0, &cat, &StandardQuality).unwrap_err(),
            "no crate accepts this pet type"
        );
        let lizard = CrateRequirement::for_pet(PetType::Reptile, 2.0);
        assert_eq!(
            check(&runner(), PetType::Reptile, 2.0, &lizard, &StandardQuality).unwrap_err(),
            "vehicle is not air-conditioned"
        );
        let mut r = runner();
        r.rating = 2.9;
        r.total_trips = 10;
        assert_eq!(check(&r, PetType::Dog, 12.0, &dog, &StandardQuality).unwrap_err(), "rating 2.90 is below 3.00");
    }

    #[test]
    fn new_runners_pass_the_quality_bar() {
        assert!(StandardQuality.check(0.0, 0, 1.0).is_ok());
        assert!(StandardQuality.check(3.0, 5, 1.0).is_ok());
        assert!(StandardQuality.check(0.0, 5, 1.0).is_ok(), "not rated yet is not rated zero");
        assert!(StandardQuality.check(2.99, 5, 1.0).is_err());
        assert!(FiveStarQuality.check(4.9, 5, 0.96).is_ok());
        assert!(FiveStarQuality.check(4.7, 5, 0.99).is_err());
        assert!(FiveStarQuality.check(4.9, 5, 0.95).is_err());
    }
}
