//! Dispatch rules: ranking candidates and widening the search.

use uuid::Uuid;

/// Orders candidates; lower scores are offered first.
pub trait RankingPolicy: Send + Sync {
    fn score(&self, distance_km: f64, rating: f64, completion_rate: f64) -> f64;
}

/// Distance first, adjusted by rating and completion: each rating star is
/// worth `rating_weight_km` of distance, a perfect completion rate
/// `completion_weight_km`.
pub struct WeightedRanking {
    pub rating_weight_km: f64,
    pub completion_weight_km: f64,
}

impl RankingPolicy for WeightedRanking {
    fn score(&self, distance_km: f64, rating: f64, completion_rate: f64) -> f64 {
        distance_km - self.rating_weight_km * rating - self.completion_weight_km * completion_rate
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub runner_id: Uuid,
    pub score: f64,
    pub distance_km: f64,
}

/// Best first; ties broken by distance, then runner id (deterministic).
pub fn rank(mut candidates: Vec<Ranked>) -> Vec<Ranked> {
    candidates.sort_by(|a, b| {
        a.score.total_cmp(&b.score).then(a.distance_km.total_cmp(&b.distance_km)).then(a.runner_id.cmp(&b.runner_id))
    });
    candidates
}

/// The next radius (×2), or `None` once the maximum has been searched.
pub fn widen(current_km: f64, max_km: f64) -> Option<f64> {
    (current_km < max_km).then(|| (current_km * 2.0).min(max_km))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearer_wins_unless_much_better_rated() {
        let policy = WeightedRanking { rating_weight_km: 0.3, completion_weight_km: 1.0 };
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let ranked = rank(vec![
            Ranked { runner_id: a, score: policy.score(2.0, 0.0, 1.0), distance_km: 2.0 },
            Ranked { runner_id: b, score: policy.score(1.0, 0.0, 1.0), distance_km: 1.0 },
        ]);
        assert_eq!(ranked[0].runner_id, b);
        // 5 stars are worth 1.5 km here
        let ranked = rank(vec![
            Ranked { runner_id: a, score: policy.score(2.0, 5.0, 1.0), distance_km: 2.0 },
            Ranked { runner_id: b, score: policy.score(1.0, 0.0, 1.0), distance_km: 1.0 },
        ]);
        assert_eq!(ranked[0].runner_id, a);
    }

    #[test]
    fn ties_are_deterministic() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let ranked = rank(vec![
            Ranked { runner_id: b, score: 1.0, distance_km: 1.0 },
            Ranked { runner_id: a, score: 1.0, distance_km: 1.0 },
        ]);
        assert_eq!(ranked[0].runner_id, a);
    }

    #[test]
    fn radius_doubles_up_to_the_maximum() {
        assert_eq!(widen(5.0, 20.0), Some(10.0));
        assert_eq!(widen(10.0, 20.0), Some(20.0));
        assert_eq!(widen(20.0, 20.0), None);
        assert_eq!(widen(15.0, 20.0), Some(20.0));
    }
}
