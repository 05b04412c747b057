//! Coordinates and distances.

use super::ValidationError;

pub const EARTH_RADIUS_KM: f64 = 6371.0;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

impl Coordinates {
    /// Present, non-zero (the contract's "required" number rule) and in range.
    pub fn parse(latitude: Option<f64>, longitude: Option<f64>) -> Result<Self, ValidationError> {
        let latitude = match latitude {
            Some(v) if v != 0.0 && v.is_finite() && (-90.0..=90.0).contains(&v) => v,
            _ => return Err(ValidationError::new("invalid latitude")),
        };
        let longitude = match longitude {
            Some(v) if v != 0.0 && v.is_finite() && (-180.0..=180.0).contains(&v) => v,
            _ => return Err(ValidationError::new("invalid longitude")),
        };
        Ok(Self { latitude, longitude })
    }

    /// Great-circle distance in km (haversine, R = 6371 km).
    pub fn distance_km(&self, other: &Coordinates) -> f64 {
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dlat = lat2 - lat1;
        let dlng = (other.longitude - self.longitude).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    }
}

/// A search radius in km: positive, at most 100 km (default when absent).
pub fn parse_radius_km(raw: Option<f64>, default: f64) -> Result<f64, ValidationError> {
    match raw {
        None => Ok(default),
        Some(r) if r.is_finite() && r > 0.0 && r <= 100.0 => Ok(r),
        Some(_) => Err(ValidationError::new("invalid radius")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_distance() {
        let a = Coordinates::parse(Some(3.1579), Some(101.7116)).unwrap();
        let b = Coordinates::parse(Some(3.1178), Some(101.6776)).unwrap();
        let d = a.distance_km(&b);
        assert!((d - 5.8423).abs() < 0.0005, "{d}");
    }

    #[test]
    fn zero_and_out_of_range_coordinates_are_refused() {
        assert_eq!(Coordinates::parse(Some(0.0), Some(101.0)).unwrap_err().0, "invalid latitude");
        assert_eq!(Coordinates::parse(Some(91.0), Some(101.0)).unwrap_err().0, "invalid latitude");
        assert_eq!(Coordinates::parse(Some(3.0), None).unwrap_err().0, "invalid longitude");
        assert_eq!(Coordinates::parse(Some(3.0), Some(-180.5)).unwrap_err().0, "invalid longitude");
        assert!(Coordinates::parse(Some(-90.0), Some(180.0)).is_ok());
    }

    #[test]
    fn radius_defaults_and_bounds() {
        assert_eq!(parse_radius_km(None, 5.0).unwrap(), 5.0);
        assert!(parse_radius_km(Some(0.0), 5.0).is_err());
        assert!(parse_radius_km(Some(-1.0), 5.0).is_err());
        assert!(parse_radius_km(Some(101.0), 5.0).is_err());
    }
}
