//! The binomial confidence interval for an observed sampling ratio.
//!
//! With `n` root requests each sampled independently with probability `r`,
//! the number sampled is Binomial(n, r). We report the observed ratio
//! `p = k / n` with its **Wilson score interval** and fail if `r` lies
//! outside it. Wilson rather than the textbook `p ± z·sqrt(p(1-p)/n)`
//! (the Wald interval) because Wald collapses to a single point at `k = 0`
//! or `k = n` — exactly the ratios 0 and 1 a sampler test uses — and is too
//! narrow for small `n`. The Wilson interval is
//!
//! ```text
//!            p + z²/2n          z       / p(1-p)     z²  \ 1/2
//! centre = -----------  ± ---------  * ( ------  +  ---- )
//!           1 + z²/n       1 + z²/n     \   n       4n² /
//! ```
//!
//! where `z` is the two-sided standard normal quantile for the confidence
//! level: `z = Φ⁻¹(1 - (1 - confidence)/2)`, 3.2905 for 99.9%. At 99.9% a
//! correct sampler fails this check once in a thousand runs; the exact,
//! per-trace decision comparison is what catches real bugs, the interval
//! catches a skew the decisions cannot see (trace ids that are not uniformly
//! random make a correct sampler sample the wrong fraction).

use serde::Serialize;

/// The default confidence: a correct sampler fails one run in a thousand.
pub const DEFAULT_CONFIDENCE: f64 = 0.999;

/// A closed interval of ratios, within `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// The Wilson score interval for `successes` out of `trials` at quantile
/// `z`; `None` for zero trials (no data, no interval).
pub fn wilson_interval(successes: u64, trials: u64, z: f64) -> Option<Interval> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half_width = (z / denominator) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At the edges the exact bounds are 0 and 1 (with k = n, centre +
    // half_width is 1 algebraically); rounding can leave 0.9999999999999999,
    // which would put a ratio of exactly 1 "outside" its own interval.
    Some(Interval {
        low: if successes == 0 {
            0.0
        } else {
            (centre - half_width).max(0.0)
        },
        high: if successes == trials {
            1.0
        } else {
            (centre + half_width).min(1.0)
        },
    })
}

/// The two-sided normal quantile for a confidence level in (0, 1), e.g.
/// 0.95 -> 1.95996, 0.999 -> 3.29053. `None` outside (0, 1).
pub fn z_for_confidence(confidence: f64) -> Option<f64> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    Some(normal_quantile(1.0 - (1.0 - confidence) / 2.0))
}

/// Φ⁻¹(p) for p in (0, 1) by Peter Acklam's rational approximation
/// (relative error below 1.15e-9, far finer than any ratio we report).
/// The standard library has no inverse error function to lean on.
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    // Below P_LOW (and above 1 - P_LOW) the tail formula is accurate;
    // between them, the central one.
    const P_LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - P_LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_or_nothing_gives_exact_edges() {
        // 65 of 65 gave 0.9999999999999999 before the edges were exact.
        for n in 1..500 {
            let all = wilson_interval(n, n, 3.2905).unwrap();
            assert_eq!(all.high, 1.0, "n = {n}");
            let none = wilson_interval(0, n, 3.2905).unwrap();
            assert_eq!(none.low, 0.0, "n = {n}");
        }
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn z_matches_the_normal_tables() {
        for (confidence, z) in [
            (0.95, 1.959_963_985),
            (0.99, 2.575_829_304),
            (0.999, 3.290_526_731),
            (0.5, 0.674_489_750),
        ] {
            let got = z_for_confidence(confidence).unwrap();
            assert!(close(got, z, 1e-8), "confidence {confidence}: {got} vs {z}");
        }
        assert_eq!(z_for_confidence(0.0), None);
        assert_eq!(z_for_confidence(1.0), None);
        assert_eq!(z_for_confidence(f64::NAN), None);
    }

    #[test]
    fn wilson_matches_published_values() {
        // 0 of 10 and 5 of 10 at 95% (Newcombe 1998, table I style values).
        let zero = wilson_interval(0, 10, 1.96).unwrap();
        assert!(
            close(zero.low, 0.0, 1e-12) && close(zero.high, 0.2775, 1e-4),
            "{zero:?}"
        );
        let half = wilson_interval(5, 10, 1.96).unwrap();
        assert!(
            close(half.low, 0.2366, 1e-4) && close(half.high, 0.7634, 1e-4),
            "{half:?}"
        );
        let all = wilson_interval(10, 10, 1.96).unwrap();
        assert!(
            close(all.high, 1.0, 1e-12) && close(all.low, 0.7225, 1e-4),
            "{all:?}"
        );
        assert_eq!(wilson_interval(0, 0, 1.96), None);
    }

    #[test]
    fn the_interval_holds_ratios_0_and_1_at_the_extremes() {
        let z = z_for_confidence(DEFAULT_CONFIDENCE).unwrap();
        assert!(wilson_interval(0, 2000, z).unwrap().contains(0.0));
        assert!(wilson_interval(2000, 2000, z).unwrap().contains(1.0));
        let quarter = wilson_interval(500, 2000, z).unwrap();
        assert!(
            quarter.contains(0.25) && !quarter.contains(0.2) && !quarter.contains(0.3),
            "{quarter:?}"
        );
    }
}
