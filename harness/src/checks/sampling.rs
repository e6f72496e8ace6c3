//! The sampling checks: did every service sample exactly the traces it
//! should have, and nothing else?
//!
//! Two checks, for the two ways a trace starts:
//!
//! - [`check_root_sampling`] (`sampling/root.rs`): requests that arrive
//!   **without** a `traceparent`, so the gateway takes the root decision
//!   with its ratio sampler. The gateway's `traceresponse` header names every
//!   trace it started, sampled or not; each decision is recomputed exactly
//!   (`sampling/decision.rs`) and compared one by one, the observed ratio is
//!   reported with its confidence interval (`sampling/interval.rs`), every
//!   sampled trace must be present and complete, and no span of an
//!   unsampled trace may exist anywhere.
//! - [`check_parent_obedience`] (`sampling/parent.rs`): requests that arrive
//!   **with** a `traceparent` whose sampled flag the caller chose. Sampled:
//!   the trace must be present, complete and continue the caller's span.
//!   Not sampled: no service may have recorded a span of it.
//!
//! Both headers are parsed by the runtime's [`TraceParent`] (one W3C
//! parser for services, harness, benches and fuzz). Traces are looked up
//! through a [`TraceSource`](crate::sources::TraceSource), so the same
//! checks run against the embedded store, Tempo or Jaeger.
//!
//! Both checks look at the traces as they are when called: wait for the
//! store to go quiet (or flush the services) first, or a sampled trace
//! still in an exporter's batch will be reported missing.

mod decision;
mod interval;
mod parent;
mod root;

pub use decision::{decision_for_bytes, expected_decision, ratio_bound};
pub use interval::{DEFAULT_CONFIDENCE, Interval, wilson_interval, z_for_confidence};
pub use parent::{ParentedRequest, check_parent_obedience};
pub use root::{
    DECISIONS_CHECK, RATIO_CHECK, RatioCounts, RatioSampler, RootRequest, RootSampling,
    STORED_CHECK, check_root_sampling, judge_ratio,
};
pub use tracemesh_runtime::w3c::{MalformedHeader, TraceParent};

use std::collections::BTreeSet;

use crate::checks::Verdict;
use crate::model::SpanRecord;

/// What makes a sampled trace complete, e.g. "it has spans from all five
/// services". Closures `Fn(&[SpanRecord]) -> Option<String>` are rules too.
pub trait CompletenessRule: Send + Sync {
    /// `None` when the trace is complete, otherwise what is missing.
    fn missing(&self, spans: &[SpanRecord]) -> Option<String>;
}

impl<F> CompletenessRule for F
where
    F: Fn(&[SpanRecord]) -> Option<String> + Send + Sync,
{
    fn missing(&self, spans: &[SpanRecord]) -> Option<String> {
        self(spans)
    }
}

/// A trace is complete when every named service contributed a span: the
/// sampled decision must reach every hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredServices(pub BTreeSet<String>);

impl RequiredServices {
    pub fn new<S: Into<String>>(services: impl IntoIterator<Item = S>) -> RequiredServices {
        RequiredServices(services.into_iter().map(Into::into).collect())
    }
}

impl CompletenessRule for RequiredServices {
    fn missing(&self, spans: &[SpanRecord]) -> Option<String> {
        let present: BTreeSet<&str> = spans.iter().map(|s| s.service_name.as_str()).collect();
        let absent: Vec<&str> = self
            .0
            .iter()
            .map(String::as_str)
            .filter(|service| !present.contains(service))
            .collect();
        (!absent.is_empty()).then(|| format!("no span from service(s) {}", absent.join(", ")))
    }
}

/// The services that emitted `spans`, sorted, for reasons ("from gateway, user").
fn services_of(spans: &[SpanRecord]) -> String {
    let services: BTreeSet<&str> = spans.iter().map(|s| s.service_name.as_str()).collect();
    services.into_iter().collect::<Vec<_>>().join(", ")
}

/// How many findings of one kind a verdict lists before it only counts:
/// a sampler broken over 2,000 requests should give a readable verdict, not
/// 1,500 lines.
const LISTED_PER_KIND: usize = 10;

/// Findings of one kind (mismatches, leaks, ...): the first few listed as
/// reasons, the rest counted.
struct Findings {
    kind: &'static str,
    listed: Vec<String>,
    count: usize,
}

impl Findings {
    fn new(kind: &'static str) -> Findings {
        Findings {
            kind,
            listed: Vec::new(),
            count: 0,
        }
    }

    fn add(&mut self, reason: String) {
        self.count += 1;
        if self.listed.len() < LISTED_PER_KIND {
            self.listed.push(reason);
        }
    }

    /// Moves the findings into `verdict` as reasons and records their count
    /// as the figure named after the kind.
    fn report(self, verdict: &mut Verdict) {
        let unlisted = self.count - self.listed.len();
        for reason in self.listed {
            verdict.fail(reason);
        }
        if unlisted > 0 {
            verdict.fail(format!(
                "... and {unlisted} more {}",
                self.kind.replace('_', " ")
            ));
        }
        verdict.figure(self.kind, self.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_list_the_first_few_and_count_the_rest() {
        let mut findings = Findings::new("mismatches");
        for i in 0..(LISTED_PER_KIND + 3) {
            findings.add(format!("mismatch {i}"));
        }
        let mut verdict = Verdict::new("t");
        findings.report(&mut verdict);
        assert!(!verdict.passed);
        assert_eq!(verdict.reasons.len(), LISTED_PER_KIND + 1);
        assert_eq!(verdict.reasons.last().unwrap(), "... and 3 more mismatches");
        assert_eq!(
            verdict.figures["mismatches"],
            serde_json::json!(LISTED_PER_KIND + 3)
        );

        let mut clean = Verdict::new("t");
        Findings::new("leaks").report(&mut clean);
        assert!(clean.passed);
        assert_eq!(clean.figures["leaks"], serde_json::json!(0));
    }
}
