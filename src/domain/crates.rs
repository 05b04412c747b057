//! Crates (docs/API.md#crates-and-eligibility): sizes, the requirement a pet sets, and the fit
//! rule ("at least" the required size).

use serde::{Deserialize, Serialize};

use super::pet::PetType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CrateSize {
    Small = 1,
    Medium = 2,
    Large = 3,
    Xlarge = 4,
}

impl CrateSize {
    pub const ALL: [CrateSize; 4] = [CrateSize::Small, CrateSize::Medium, CrateSize::Large, CrateSize::Xlarge];

    pub fn as_str(self) -> &'static str {
        match self {
            CrateSize::Small => "small",
            CrateSize::Medium => "medium",
            CrateSize::Large => "large",
            CrateSize::Xlarge => "xlarge",
        }
    }

    /// Case-insensitive; the apps' labels ("X-Large") are accepted too.
    pub fn parse(raw: &str) -> Option<Self> {
        let norm: String = raw.trim().to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        match norm.as_str() {
            "small" => Some(CrateSize::Small),
            "medium" => Some(CrateSize::Medium),
            "large" => Some(CrateSize::Large),
            "xlarge" | "extralarge" => Some(CrateSize::Xlarge),
            _ => None,
        }
    }

    /// 1..=4 for known sizes, 0 for anything else (which never fits).
    pub fn rank_of(raw: &str) -> i32 {
        CrateSize::parse(raw).map_or(0, |s| s as i32)
    }

    pub fn for_weight(weight_kg: f64) -> Self {
        if weight_kg <= 5.0 {
            CrateSize::Small
        } else if weight_kg <= 15.0 {
            CrateSize::Medium
        } else if weight_kg <= 30.0 {
            CrateSize::Large
        } else {
            CrateSize::Xlarge
        }
    }
}

/// What the booking's pet needs (serialised as the contract's `crate_requirement`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrateRequirement {
    pub minimum_size: CrateSize,
    pub needs_ventilation: bool,
    pub needs_temp_control: bool,
    pub minimum_weight_capacity: f64,
}

impl CrateRequirement {
    pub fn for_pet(pet_type: PetType, weight_kg: f64) -> Self {
        Self {
            minimum_size: CrateSize::for_weight(weight_kg),
            needs_ventilation: true,
            needs_temp_control: pet_type == PetType::Reptile,
            minimum_weight_capacity: weight_kg * 1.2,
        }
    }

    /// A vehicle with air-conditioning is needed where the crate must hold a
    /// temperature (reptiles): the crate alone cannot keep a hot car cool.
    pub fn needs_air_conditioning(&self) -> bool {
        self.needs_temp_control
    }
}

/// A runner's crate as stored (size and pet types are free strings on the
/// wire; unknown values simply never fit).
#[derive(Debug, Clone, PartialEq)]
pub struct Crate {
    pub size: String,
    pub pet_types: Vec<String>,
    pub max_weight_kg: f64,
    pub ventilated: bool,
    pub temperature_controlled: bool,
}

/// Why a crate does not fit; the first failing rule is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misfit {
    TooSmall,
    PetTypeNotSupported,
    TooHeavy,
    NotVentilated,
    NoTemperatureControl,
}

impl Misfit {
    pub fn describe(self) -> &'static str {
        match self {
            Misfit::TooSmall => "no crate is large enough",
            Misfit::PetTypeNotSupported => "no crate accepts this pet type",
            Misfit::TooHeavy => "no crate carries this weight",
            Misfit::NotVentilated => "no ventilated crate",
            Misfit::NoTemperatureControl => "no temperature-controlled crate",
        }
    }
}

impl Crate {
    pub fn fits(&self, pet_type: PetType, weight_kg: f64, req: &CrateRequirement) -> Result<(), Misfit> {
        if CrateSize::rank_of(&self.size) < req.minimum_size as i32 {
            return Err(Misfit::TooSmall);
        }
        if !self.pet_types.iter().any(|t| t.trim().eq_ignore_ascii_case(pet_type.as_str())) {
            return Err(Misfit::PetTypeNotSupported);
        }
        if self.max_weight_kg < weight_kg {
            return Err(Misfit::TooHeavy);
        }
        if req.needs_ventilation && !self.ventilated {
            return Err(Misfit::NotVentilated);
        }
        if req.needs_temp_control && !self.temperature_controlled {
            return Err(Misfit::NoTemperatureControl);
        }
        Ok(())
    }
}

/// Some crate fits, or the reason the closest one did not.
pub fn any_fits(crates: &[Crate], pet_type: PetType, weight_kg: f64, req: &CrateRequirement) -> Result<(), Misfit> {
    let mut worst = Misfit::TooSmall;
    for c in crates {
        match c.fits(pet_type, weight_kg, req) {
            Ok(()) => return Ok(()),
            Err(m) => worst = deeper(worst, m),
        }
    }
    Err(worst)
}

/// The misfit that got furthest through the rules is the most useful to report.
fn deeper(a: Misfit, b: Misfit) -> Misfit {
    let depth = |m| match m {
        Misfit::TooSmall => 0,
        Misfit::PetTypeNotSupported => 1,
        Misfit::TooHeavy => 2,
        Misfit::NotVentilated => 3,
        Misfit::NoTemperatureControl => 4,
    };
    if depth(b) > depth(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_of(size: &str, types: &[&str], max: f64, vent: bool, temp: bool) -> Crate {
        Crate {
            size: size.into(),
            pet_types: types.iter().map(|s| s.to_string()).collect(),
            max_weight_kg: max,
            ventilated: vent,
            temperature_controlled: temp,
        }
    }

    #[test]
    fn requirement_from_weight_boundaries() {
        assert_eq!(CrateSize::for_weight(5.0), CrateSize::Small);
        assert_eq!(CrateSize::for_weight(5.01), CrateSize::Medium);
        assert_eq!(CrateSize::for_weight(15.0), CrateSize::Medium);
        assert_eq!(CrateSize::for_weight(30.0), CrateSize::Large);
        assert_eq!(CrateSize::for_weight(30.5), CrateSize::Xlarge);
        let req = CrateRequirement::for_pet(PetType::Dog, 12.0);
        assert_eq!(req.minimum_weight_capacity, 14.399999999999999);
        assert!(req.needs_ventilation && !req.needs_temp_control);
        assert!(CrateRequirement::for_pet(PetType::Reptile, 1.0).needs_temp_control);
    }

    #[test]
    fn crate_fit_matrix() {
        let dog12 = CrateRequirement::for_pet(PetType::Dog, 12.0); // medium
        let cases: Vec<(Crate, Result<(), Misfit>)> = vec![
            (crate_of("medium", &["dog"], 20.0, true, false), Ok(())),
            (crate_of("large", &["dog"], 20.0, true, false), Ok(())), // bigger is fine
            (crate_of("XLarge", &["Dog", "cat"], 50.0, true, false), Ok(())), // case-insensitive
            (crate_of("small", &["dog"], 20.0, true, false), Err(Misfit::TooSmall)),
            (crate_of("huge", &["dog"], 20.0, true, false), Err(Misfit::TooSmall)), // unknown size
            (crate_of("medium", &["cat"], 20.0, true, false), Err(Misfit::PetTypeNotSupported)),
            (crate_of("medium", &["dog"], 11.9, true, false), Err(Misfit::TooHeavy)),
            (crate_of("medium", &["dog"], 12.0, true, false), Ok(())), // capacity equal to weight
            (crate_of("medium", &["dog"], 20.0, false, false), Err(Misfit::NotVentilated)),
        ];
        for (c, expected) in cases {
            assert_eq!(c.fits(PetType::Dog, 12.0, &dog12), expected, "{c:?}");
        }
        let lizard = CrateRequirement::for_pet(PetType::Reptile, 2.0);
        assert_eq!(
            crate_of("small", &["reptile"], 5.0, true, false).fits(PetType::Reptile, 2.0, &lizard),
            Err(Misfit::NoTemperatureControl)
        );
        assert_eq!(crate_of("small", &["reptile"], 5.0, true, true).fits(PetType::Reptile, 2.0, &lizard), Ok(()));
    }

    #[test]
    fn any_fits_reports_the_closest_miss() {
        let req = CrateRequirement::for_pet(PetType::Dog, 12.0);
        let crates = [crate_of("small", &["dog"], 5.0, true, false), crate_of("large", &["dog"], 10.0, true, false)];
        assert_eq!(any_fits(&crates, PetType::Dog, 12.0, &req), Err(Misfit::TooHeavy));
        assert_eq!(any_fits(&[], PetType::Dog, 12.0, &req), Err(Misfit::TooSmall));
    }

    #[test]
    fn sizes_parse_app_labels() {
        assert_eq!(CrateSize::parse("X-Large"), Some(CrateSize::Xlarge));
        assert_eq!(CrateSize::parse(" Medium "), Some(CrateSize::Medium));
        assert_eq!(CrateSize::rank_of("jumbo"), 0);
    }
}
