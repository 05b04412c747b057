//! Pricing (docs/API.md#pricing) as a strategy, and the platform fee. Money is
//! integer sen throughout.

use serde::Serialize;

use super::ValidationError;
use super::crates::CrateSize;
use super::pet::PetType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PriceBreakdown {
    pub base_fare_cents: i64,
    pub distance_cents: i64,
    pub pet_surcharge_cents: i64,
    pub crate_surcharge_cents: i64,
    pub total_cents: i64,
}

pub trait PricingStrategy: Send + Sync {
    fn price(
        &self,
        pet_type: PetType,
        crate_size: CrateSize,
        distance_km: f64,
    ) -> Result<PriceBreakdown, ValidationError>;
}

/// The reference's `StandardPricingStrategy`: RM 5.00 base, 250 sen per km
/// (truncated), surcharges by pet type and crate size.
pub struct StandardPricing;

pub const BASE_FARE_CENTS: i64 = 500;
pub const PER_KM_CENTS: f64 = 250.0;

fn pet_surcharge(pet_type: PetType) -> i64 {
    match pet_type {
        PetType::Dog => 500,
        PetType::Cat => 300,
        PetType::Bird => 200,
        PetType::Rabbit => 300,
        PetType::Reptile => 800,
        PetType::Other => 500,
    }
}

fn crate_surcharge(size: CrateSize) -> i64 {
    match size {
        CrateSize::Small => 0,
        CrateSize::Medium => 500,
        CrateSize::Large => 1000,
        CrateSize::Xlarge => 2000,
    }
}

impl PricingStrategy for StandardPricing {
    fn price(
        &self,
        pet_type: PetType,
        crate_size: CrateSize,
        distance_km: f64,
    ) -> Result<PriceBreakdown, ValidationError> {
        if !distance_km.is_finite() || distance_km < 0.0 {
            return Err(ValidationError::new("pricing error: invalid distance"));
        }
        let distance_cents = (distance_km * PER_KM_CENTS).trunc() as i64;
        let pet = pet_surcharge(pet_type);
        let crate_part = crate_surcharge(crate_size);
        let total = BASE_FARE_CENTS + distance_cents + pet + crate_part;
        if total <= 0 {
            return Err(ValidationError::new("pricing error: price must be positive"));
        }
        Ok(PriceBreakdown {
            base_fare_cents: BASE_FARE_CENTS,
            distance_cents,
            pet_surcharge_cents: pet,
            crate_surcharge_cents: crate_part,
            total_cents: total,
        })
    }
}

/// `floor(amount × pct / 100)`; amounts are never negative here.
pub fn platform_fee_cents(amount_cents: i64, percent: i64) -> i64 {
    amount_cents.saturating_mul(percent) / 100
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::geo::Coordinates;

    #[test]
    fn worked_example_is_2960_sen() {
        let a = Coordinates { latitude: 3.1579, longitude: 101.7116 };
        let b = Coordinates { latitude: 3.1178, longitude: 101.6776 };
        let p = StandardPricing.price(PetType::Dog, CrateSize::for_weight(12.0), a.distance_km(&b)).unwrap();
        assert_eq!(p.distance_cents, 1460);
        assert_eq!(p.total_cents, 2960);
        assert_eq!(platform_fee_cents(p.total_cents, 15), 444);
        assert_eq!(p.total_cents - platform_fee_cents(p.total_cents, 15), 2516);
    }

    #[test]
    fn surcharge_table() {
        let cases = [
            (PetType::Dog, CrateSize::Small, 1000),
            (PetType::Cat, CrateSize::Medium, 1300),
            (PetType::Bird, CrateSize::Small, 700),
            (PetType::Rabbit, CrateSize::Large, 1800),
            (PetType::Reptile, CrateSize::Xlarge, 3300),
            (PetType::Other, CrateSize::Medium, 1500),
        ];
        for (pet, size, total) in cases {
            assert_eq!(StandardPricing.price(pet, size, 0.0).unwrap().total_cents, total, "{pet:?} {size:?}");
        }
    }

    #[test]
    fn distance_is_truncated_not_rounded() {
        assert_eq!(StandardPricing.price(PetType::Cat, CrateSize::Small, 1.0039).unwrap().distance_cents, 250);
        assert!(StandardPricing.price(PetType::Cat, CrateSize::Small, f64::NAN).is_err());
    }
}
