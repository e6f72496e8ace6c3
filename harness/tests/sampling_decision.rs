//! `expected_decision` against the real opentelemetry_sdk sampler: the
//! root sampling check is only as good as this agreement.

mod sampling_common;

use rand::Rng;
use sampling_common::{hex, sdk_decides};
use tracemesh_harness::checks::sampling::{expected_decision, ratio_bound};

/// Ids per ratio drawn at random (fresh each run: any disagreement is a
/// bug, and the failure message names the id to reproduce it).
const RANDOM_IDS_PER_RATIO: usize = 20_000;

/// Ratios the mesh uses, the ends, and edges where the float arithmetic of
/// `ratio * 2^63` matters: a bound of exactly 1, a ratio one ulp under 1,
/// out-of-range values the SDK clamps, and NaN.
const RATIOS: [f64; 12] = [
    0.0,
    1.0,
    0.25,
    0.5,
    1.0 / 3.0,
    0.999_999,
    1e-6,
    1.0 / 9_223_372_036_854_775_808.0, // 2^-63: the bound is exactly 1
    1.0 - f64::EPSILON,                // just under 1: bound 2^63 - 2^11
    -0.5,
    1.5,
    f64::NAN,
];

fn assert_agrees(id: [u8; 16], ratio: f64) {
    let ours = expected_decision(&hex(&id), ratio);
    let sdk = sdk_decides(id, ratio);
    assert_eq!(
        ours,
        Some(sdk),
        "trace id {} at ratio {ratio:e}: we say {ours:?}, the SDK says {sdk}",
        hex(&id)
    );
}

#[test]
fn matches_the_sdk_sampler_on_random_trace_ids() {
    let mut rng = rand::rng();
    let mut sampled_at_quarter = 0;
    for ratio in RATIOS {
        for _ in 0..RANDOM_IDS_PER_RATIO {
            let id: [u8; 16] = rng.random::<u128>().max(1).to_be_bytes();
            assert_agrees(id, ratio);
            if ratio == 0.25 && sdk_decides(id, ratio) {
                sampled_at_quarter += 1;
            }
        }
    }
    // Not a statistics test, just proof the comparison saw both outcomes.
    assert!(sampled_at_quarter > 0 && sampled_at_quarter < RANDOM_IDS_PER_RATIO);
}

/// Random ids almost never land on the boundary `ratio * 2^63`, where an
/// off-by-one (`<=` for `<`, a different rounding) would hide. These do:
/// ids whose low 63 bits are the bound, one below and one above, with the
/// ignored bit (the lowest) and the ignored high half set either way.
#[test]
fn matches_the_sdk_sampler_at_the_decision_boundary() {
    let mut rng = rand::rng();
    let mut checked = 0;
    for ratio in RATIOS {
        let bound = ratio_bound(ratio);
        for low63 in [bound.saturating_sub(1), bound, bound.saturating_add(1)] {
            let low63 = low63.min(u64::MAX >> 1);
            for ignored_bit in [0, 1] {
                let high: u64 = rng.random::<u64>() | 1;
                let low = (low63 << 1) | ignored_bit;
                let id = ((u128::from(high) << 64) | u128::from(low)).to_be_bytes();
                assert_agrees(id, ratio);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, RATIOS.len() * 6);
}

#[test]
fn both_ends_of_the_id_space_match_too() {
    for ratio in RATIOS {
        assert_agrees(1u128.to_be_bytes(), ratio);
        assert_agrees(u128::MAX.to_be_bytes(), ratio);
    }
}
