//! Percentiles of measurements, defined once for the whole project: the run
//! report's load table and readiness figures, the attribution check's
//! medians, and the benches (through `tracemesh_benches::stats`) all rank
//! the same way. Nearest rank, so a percentile is always a measured value.

use std::cmp::Ordering;

/// A measurement percentiles can be taken of: latencies in milliseconds
/// (`f64`) or durations in nanoseconds (`u64`).
pub trait Sample: Copy + Default {
    /// A total order, NaN included (it sorts last).
    fn order(&self, other: &Self) -> Ordering;
}

impl Sample for f64 {
    fn order(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

impl Sample for u64 {
    fn order(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

/// The `p`-th percentile (0..=100) by nearest rank: the smallest sample with
/// at least `p`% of the samples at or below it. 0 for no samples.
pub fn percentile<T: Sample>(samples: &[T], p: f64) -> T {
    if samples.is_empty() {
        return T::default();
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable_by(T::order);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median (50th percentile).
pub fn median<T: Sample>(samples: &[T]) -> T {
    percentile(samples, 50.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50.0), 50);
        assert_eq!(percentile(&samples, 90.0), 90);
        assert_eq!(percentile(&samples, 99.0), 99);
        assert_eq!(percentile(&samples, 100.0), 100);
        assert_eq!(percentile(&[7_u64], 99.0), 7);
        assert_eq!(percentile::<u64>(&[], 50.0), 0);
        let v = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert_eq!(percentile(&v, 99.0), 5.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median::<f64>(&[]), 0.0);
    }
}
