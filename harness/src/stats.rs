//! Percentiles of measurements, defined once for the whole project: the run
//! report's load table and readiness figures, the attribution check's
//! medians, and the benches (through `tracemesh_benches::stats`) all rank
//! the same way. Nearest rank, so a percentile is always a measured value.

/// The `p`-th percentile (0..=100) by nearest rank: the smallest sample with
/// at least `p`% of the samples at or below it. 0 for no samples.
pub fn percentile<T: Copy + Default + PartialOrd>(samples: &[T], p: f64) -> T {
    // NaN (which is not equal to itself) has no rank: it is left out, and
    // every remaining pair compares.
    #[allow(clippy::eq_op)]
    let mut sorted: Vec<T> = samples.iter().copied().filter(|x| x == x).collect();
    if sorted.is_empty() {
        return T::default();
    }
    sorted.sort_unstable_by(|a, b| a.partial_cmp(b).expect("no NaN is left"));
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median (50th percentile).
pub fn median<T: Copy + Default + PartialOrd>(samples: &[T]) -> T {
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
        assert_eq!(median(&[f64::NAN, 1.0]), 1.0);
    }
}
