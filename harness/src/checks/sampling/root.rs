//! The root sampling check: requests without a `traceparent`, where the
//! gateway's ratio sampler takes the decision. See `sampling.rs` for the
//! overview and `decision.rs` / `interval.rs` for the mathematics.

use std::collections::HashMap;

use super::{
    CompletenessRule, DEFAULT_CONFIDENCE, Findings, TraceParent, expected_decision, services_of,
    wilson_interval, z_for_confidence,
};
use crate::checks::Verdict;
use crate::sources::TraceSource;

/// The verdicts' check names: three findings, each with its own mark, so a
/// ratio inside its interval is never crossed out because some sampled
/// trace arrived incomplete.
pub const RATIO_CHECK: &str = "sampling.root.ratio";
pub const DECISIONS_CHECK: &str = "sampling.root.decisions";
pub const STORED_CHECK: &str = "sampling.root.stored";

/// The root sampling check's three verdicts.
#[derive(Debug, Clone, PartialEq)]
pub struct RootSampling {
    /// `sampling.root.ratio`: does the configured ratio lie inside the
    /// observed ratio's confidence interval? Figures: `requests`, `sampled`,
    /// `expected_sampled`, `ratio`, `observed_ratio`, `confidence`, `z`,
    /// `interval` (`{low, high}`).
    pub ratio: Verdict,
    /// `sampling.root.decisions`: did every request say its trace, with the
    /// decision the sampler must have taken, in a trace of its own? Figures:
    /// `mismatches`, `malformed_headers`, `duplicate_trace_ids`.
    pub decisions: Verdict,
    /// `sampling.root.stored`: is every sampled trace stored and complete,
    /// and no unsampled one? Figures: `missing`, `incomplete`, `leaked`.
    pub stored: Verdict,
}

impl RootSampling {
    /// All three passed.
    pub fn passed(&self) -> bool {
        self.ratio.passed && self.decisions.passed && self.stored.passed
    }

    /// The three verdicts, in the report's order.
    pub fn into_verdicts(self) -> [Verdict; 3] {
        [self.ratio, self.decisions, self.stored]
    }
}

/// One request sent without a `traceparent`, as the load generator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootRequest {
    /// Names the request in reasons, e.g. `#17 POST /api/checkout`.
    pub label: String,
    /// The `traceresponse` header the gateway answered with; `None` when it
    /// sent none (itself a failure: every root request must say its trace).
    pub traceresponse: Option<String>,
}

impl RootRequest {
    pub fn new(label: impl Into<String>, traceresponse: Option<&str>) -> RootRequest {
        RootRequest {
            label: label.into(),
            traceresponse: traceresponse.map(str::to_string),
        }
    }
}

/// The sampler the gateway was configured with: `TraceIdRatioBased(ratio)`
/// (alone or as the root of `parentbased_traceidratio`), and the confidence
/// of the interval the observed ratio is reported with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioSampler {
    pub ratio: f64,
    /// In (0, 1); [`DEFAULT_CONFIDENCE`] (99.9%) unless changed.
    pub confidence: f64,
}

impl RatioSampler {
    pub fn new(ratio: f64) -> RatioSampler {
        RatioSampler {
            ratio,
            confidence: DEFAULT_CONFIDENCE,
        }
    }

    pub fn with_confidence(self, confidence: f64) -> RatioSampler {
        RatioSampler { confidence, ..self }
    }

    /// The probability the SDK actually samples with: ratios above 1 mean
    /// always, below 0 (and NaN) never.
    fn effective_ratio(&self) -> f64 {
        if self.ratio >= 1.0 {
            1.0
        } else {
            self.ratio.max(0.0)
        }
    }
}

/// A root request whose header parsed: what the gateway said and what the
/// sampler must have decided.
struct Decided<'a> {
    label: &'a str,
    context: TraceParent,
    expected: bool,
}

/// Checks the gateway's root decisions and what every service stored.
///
/// Each verdict fails with reasons naming the trace and request:
/// - `decisions` when a header is missing or malformed, a header's sampled
///   flag differs from the recomputed decision, or two requests got the
///   same trace id;
/// - `ratio` when the configured ratio lies outside the observed ratio's
///   confidence interval;
/// - `stored` when a sampled trace is missing from `source` or incomplete
///   by `completeness`, an unsampled trace has any span in `source`, or
///   `source` fails.
pub async fn check_root_sampling(
    requests: &[RootRequest],
    sampler: RatioSampler,
    source: &dyn TraceSource,
    completeness: &dyn CompletenessRule,
) -> RootSampling {
    let mut verdict = Verdict::new(DECISIONS_CHECK);
    let mut malformed = Findings::new("malformed_headers");
    let mut mismatches = Findings::new("mismatches");
    let mut duplicates = Findings::new("duplicate_trace_ids");

    // 1. Parse every header and recompute every decision: no I/O yet.
    let mut decided = Vec::new();
    let mut first_request_of: HashMap<String, &str> = HashMap::new();
    for request in requests {
        verdict.examine();
        let label = request.label.as_str();
        let Some(header) = &request.traceresponse else {
            malformed.add(format!(
                "request {label}: no traceresponse header in the answer"
            ));
            continue;
        };
        let context = match TraceParent::parse(header) {
            Ok(context) => context,
            Err(error) => {
                malformed.add(format!("request {label}: {error}"));
                continue;
            }
        };
        if let Some(first) = first_request_of.insert(context.trace_id.clone(), label) {
            duplicates.add(format!(
                "trace {} was started for both request {first} and request {label}: \
                 every request without a traceparent must start a new trace",
                context.trace_id
            ));
        }
        // The header parser guarantees a valid id, so there is a decision.
        let Some(expected) = expected_decision(&context.trace_id, sampler.ratio) else {
            continue;
        };
        if context.sampled() != expected {
            mismatches.add(format!(
                "trace {} (request {label}): the traceresponse says sampled={}, \
                 but TraceIdRatioBased({}) decides sampled={}",
                context.trace_id,
                u8::from(context.sampled()),
                sampler.ratio,
                u8::from(expected),
            ));
        }
        decided.push(Decided {
            label,
            context,
            expected,
        });
    }

    // 2. Ratio and interval, over the requests whose decision we know.
    for findings in [malformed, mismatches, duplicates] {
        findings.report(&mut verdict);
    }
    let decisions = verdict.finish();

    let ratio = judge_ratio(
        RatioCounts {
            requests: requests.len() as u64,
            trials: decided.len() as u64,
            sampled: decided.iter().filter(|d| d.context.sampled()).count() as u64,
            expected_sampled: decided.iter().filter(|d| d.expected).count() as u64,
        },
        sampler,
    );

    // 3. What the services stored must agree with what the gateway said.
    let mut verdict = Verdict::new(STORED_CHECK);
    let mut missing = Findings::new("missing");
    let mut incomplete = Findings::new("incomplete");
    let mut leaked = Findings::new("leaked");
    let mut source_error = None;
    for Decided { label, context, .. } in &decided {
        verdict.examine();
        let id = &context.trace_id;
        let spans = match source.trace(id).await {
            Ok(spans) => spans,
            Err(error) => {
                // Every further lookup would fail the same way: one reason is enough.
                source_error = Some(format!(
                    "could not read trace {id} from {}: {error}; later traces were not looked up",
                    source.describe()
                ));
                break;
            }
        };
        match (context.sampled(), spans) {
            (true, None) => missing.add(format!(
                "trace {id} (request {label}) was sampled but {} has no span of it",
                source.describe()
            )),
            (true, Some(spans)) => {
                if let Some(why) = completeness.missing(&spans) {
                    incomplete.add(format!("trace {id} (request {label}) was sampled but is incomplete: {why}"));
                }
            }
            (false, Some(spans)) => leaked.add(format!(
                "trace {id} (request {label}) was not sampled, yet {} span(s) of it were stored, from {}",
                spans.len(),
                services_of(&spans)
            )),
            (false, None) => {}
        }
    }

    for findings in [missing, incomplete, leaked] {
        findings.report(&mut verdict);
    }
    if let Some(reason) = source_error {
        verdict.fail(reason);
    }
    RootSampling {
        ratio,
        decisions,
        stored: verdict.finish(),
    }
}

/// What the ratio verdict is judged on: counts, so the shards of a load
/// can be judged again on their sums (`report::merge`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RatioCounts {
    /// Root requests sent.
    pub requests: u64,
    /// Of those, the ones whose decision is known (a traceresponse parsed).
    pub trials: u64,
    pub sampled: u64,
    /// How many the sampler's decision function says should be sampled.
    pub expected_sampled: u64,
}

/// The `sampling.root.ratio` verdict: the observed ratio with its Wilson
/// interval, failed when the configured ratio lies outside it.
pub fn judge_ratio(counts: RatioCounts, sampler: RatioSampler) -> Verdict {
    let RatioCounts {
        requests,
        trials,
        sampled,
        expected_sampled,
    } = counts;
    let mut verdict = Verdict::new(RATIO_CHECK);
    verdict.examined = trials as usize;
    verdict.figure("requests", requests);
    verdict.figure("sampled", sampled);
    verdict.figure("expected_sampled", expected_sampled);
    verdict.figure("ratio", sampler.ratio);
    verdict.figure("confidence", sampler.confidence);
    if trials > 0 {
        verdict.figure("observed_ratio", sampled as f64 / trials as f64);
    }
    let interval_reason = match z_for_confidence(sampler.confidence) {
        None => Some(format!(
            "the confidence {} is not between 0 and 1, so no interval can be computed",
            sampler.confidence
        )),
        Some(z) => {
            verdict.figure("z", z);
            let interval = wilson_interval(sampled, trials, z);
            verdict.figure("interval", interval);
            interval
                .filter(|i| !i.contains(sampler.effective_ratio()))
                .map(|i| {
                    format!(
                        "observed ratio {:.4} ({sampled} of {trials} sampled): the configured ratio {} \
                         lies outside its {}% interval [{:.4}, {:.4}]",
                        sampled as f64 / trials as f64,
                        sampler.ratio,
                        sampler.confidence * 100.0,
                        i.low,
                        i.high
                    )
                })
        }
    };

    if let Some(reason) = interval_reason {
        verdict.fail(reason);
    }
    verdict.finish()
}
