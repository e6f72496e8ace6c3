//! The ratio sampler's decision, recomputed exactly.
//!
//! opentelemetry_sdk 0.33.1 (`src/trace/sampler.rs`,
//! `sample_based_on_probability`) decides `TraceIdRatioBased(ratio)` from
//! the trace id alone:
//!
//! ```text
//! if ratio >= 1          -> sample
//! bound = (max(ratio, 0) * 2^63) as u64     // f64 -> u64, saturating
//! low   = last 8 bytes of the trace id, big-endian
//! sample  <=>  (low >> 1) < bound
//! ```
//!
//! So the low 63 bits of the id's second half, read as a number in
//! `[0, 2^63)`, are compared with `ratio * 2^63`: a uniformly random id is
//! sampled with probability `ratio`. Because nothing else enters the
//! decision, the harness can recompute every root decision the gateway took
//! and compare one by one, instead of only eyeballing a percentage.
//!
//! The float operations below are the SDK's, in the SDK's order, so edge
//! cases (NaN, negative ratios, ratios just under 1) round the same way.
//! `tests/sampling_decision.rs` holds this to the real SDK sampler.

use crate::model::{hex_decode, normalize_trace_id};

/// `TraceIdRatioBased(ratio)`'s decision for a trace id given in hex (any
/// case; shorter ids are left-padded with zeros, as everywhere in the
/// harness). `None` when `trace_id_hex` is not a hex trace id.
pub fn expected_decision(trace_id_hex: &str, ratio: f64) -> Option<bool> {
    let bytes: [u8; 16] = hex_decode(&normalize_trace_id(trace_id_hex)?)?
        .try_into()
        .ok()?;
    Some(decision_for_bytes(bytes, ratio))
}

/// The same decision for a trace id as its 16 bytes.
pub fn decision_for_bytes(trace_id: [u8; 16], ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let bound = ratio_bound(ratio);
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    (u64::from_be_bytes(low) >> 1) < bound
}

/// `ratio * 2^63` as the SDK computes it: the number of 63-bit values that
/// are sampled. `max` maps NaN and negative ratios to 0 (never sample), and
/// Rust's `as u64` saturates, like the SDK's.
pub fn ratio_bound(ratio: f64) -> u64 {
    (ratio.max(0.0) * (1u64 << 63) as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trace id whose low half, shifted right by one, is `value`.
    fn id_with_low63(value: u64) -> String {
        format!("{:016x}{:016x}", 0xabcd_u64, value << 1)
    }

    #[test]
    fn the_boundary_is_exclusive() {
        let ratio = 0.25;
        let bound = ratio_bound(ratio);
        assert_eq!(bound, 1 << 61);
        assert_eq!(
            expected_decision(&id_with_low63(bound - 1), ratio),
            Some(true)
        );
        assert_eq!(expected_decision(&id_with_low63(bound), ratio), Some(false));
    }

    #[test]
    fn out_of_range_ratios_behave_like_the_sdk() {
        let id = id_with_low63(0);
        assert_eq!(
            expected_decision(&id, 0.0),
            Some(false),
            "0 never samples, even id 0"
        );
        assert_eq!(expected_decision(&id, -1.0), Some(false));
        assert_eq!(expected_decision(&id, f64::NAN), Some(false));
        assert_eq!(
            expected_decision(&id_with_low63(u64::MAX >> 1), 1.0),
            Some(true)
        );
        assert_eq!(
            expected_decision(&id_with_low63(u64::MAX >> 1), 7.0),
            Some(true)
        );
    }

    #[test]
    fn only_the_low_half_of_the_id_matters() {
        let low = format!("{:016x}", 3u64 << 62);
        for high in ["0000000000000001", "ffffffffffffffff"] {
            assert_eq!(expected_decision(&format!("{high}{low}"), 0.5), Some(false));
        }
    }

    #[test]
    fn malformed_ids_have_no_decision() {
        assert_eq!(expected_decision("xyz", 0.5), None);
        assert_eq!(expected_decision(&"a".repeat(33), 0.5), None);
        assert_eq!(expected_decision("", 0.5), None);
    }
}
