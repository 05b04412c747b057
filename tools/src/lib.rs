//! What the tools share: latency histograms (HDR, so a percentile is read
//! from the recorded distribution, never from a hand-sorted sample).

use std::time::Duration;

use hdrhistogram::Histogram;

/// 1 µs .. 1 h, 3 significant figures.
pub fn histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
}

/// Records a latency in whole microseconds (clamped into the histogram's range).
pub fn record(h: &mut Histogram<u64>, latency: Duration) {
    h.saturating_record(latency.as_micros().clamp(1, 3_600_000_000) as u64);
}

/// A recorded value (microseconds) in milliseconds.
pub fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// "p50 … ms  p99 … ms  max … ms" of a latency histogram.
pub fn percentiles(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "no samples".into();
    }
    format!(
        "p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_distribution() {
        let mut h = histogram().unwrap();
        for ms in 1..=100u64 {
            record(&mut h, Duration::from_millis(ms));
        }
        assert!((ms(h.value_at_quantile(0.5)) - 50.0).abs() < 0.1);
        assert!((ms(h.value_at_quantile(0.99)) - 99.0).abs() < 0.1);
        assert!(percentiles(&h).starts_with("p50 50.0"));
        assert_eq!(percentiles(&histogram().unwrap()), "no samples");
    }
}
