//! The trace context the load generator puts on each request.
//!
//! Every request the load sends makes exactly one trace, and the harness
//! must know which. Two ways, mixed by the plan:
//!
//! - a *parented* request carries a W3C `traceparent` made here
//!   (`00-<trace id>-<span id>-<flags>`): the trace id is known before the
//!   request leaves, and the sampled flag (01 or 00) is the load's choice,
//!   so the checks can tell whether the gateway obeyed its parent;
//! - a *root* request carries nothing, so the gateway's own sampler
//!   decides; the gateway answers with the trace id it started in its
//!   `traceresponse` header.
//!
//! The generator is seeded (plan seed + goose user index): users differ
//! from each other, and the same seed repeats the same sequence, so a run
//! can be replayed id for id.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracemesh_runtime::w3c::TraceParent;

/// Draws, request after request, whether to send a traceparent and which.
#[derive(Debug, Clone)]
pub struct TraceContextGenerator {
    rng: StdRng,
    rootless_share: f64,
    parented_sampled_share: f64,
}

impl TraceContextGenerator {
    /// The generator of goose user `user_index` in a run seeded with
    /// `seed`. The shares must lie in [0, 1] (the plan is validated before
    /// a run starts).
    pub fn new(
        seed: u64,
        user_index: usize,
        rootless_share: f64,
        parented_sampled_share: f64,
    ) -> Self {
        // `seed_from_u64` scrambles its input, so neighbouring users
        // (seed, seed + 1, ...) get unrelated streams.
        let user_seed = seed.wrapping_add(user_index as u64);
        TraceContextGenerator {
            rng: StdRng::seed_from_u64(user_seed),
            rootless_share,
            parented_sampled_share,
        }
    }

    /// The `traceparent` of the next request, or `None` for a root request.
    pub fn next_traceparent(&mut self) -> Option<String> {
        if self.rng.random_bool(self.rootless_share) {
            return None;
        }
        // W3C Trace Context: an all-zero trace id or parent id is invalid
        // and a receiver would start a new trace, so draw from 1 upwards.
        let trace_id = self.rng.random_range(1..=u128::MAX);
        let span_id = self.rng.random_range(1..=u64::MAX);
        let sampled = self.rng.random_bool(self.parented_sampled_share);
        Some(format_traceparent(trace_id, span_id, sampled))
    }
}

/// A version-00 `traceparent` for numeric ids: lowercase hex, zero-padded.
pub fn format_traceparent(trace_id: u128, span_id: u64, sampled: bool) -> String {
    let (trace_id, span_id) = (format!("{trace_id:032x}"), format!("{span_id:016x}"));
    TraceParent::new(trace_id, span_id, sampled).to_string()
}
