//! The run's TraceQL assertions: those of each expected tree's file over
//! the traces of its outcome, and the scenario's over the traces its `in:`
//! names. Each is one `traceql <outcome>: <query>` verdict
//! ([`crate::checks::traceql`]).

use std::collections::BTreeMap;

use super::expectations::Expectation;
use crate::SpanRecord;
use crate::checks::Verdict;
use crate::checks::traceql::{Outcome, TraceqlAssertion, check_assertion};
use crate::load::SentRequest;
use crate::sources::TraceSource;
use crate::trace::TraceTree;

/// What the assertions read: the trees grouped by expected outcome, and
/// every sampled trace found, by id.
pub struct TraceqlInput<'a> {
    pub by_expectation: &'a [(&'a Expectation, Vec<TraceTree>)],
    pub scenario: &'a [TraceqlAssertion],
    pub requests: &'a [SentRequest],
    pub found: &'a BTreeMap<String, Vec<SpanRecord>>,
    pub source: &'a dyn TraceSource,
    /// Unix seconds, for the backend's search.
    pub window: (u64, u64),
}

pub async fn verdicts(input: &TraceqlInput<'_>) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for (expectation, trees) in input.by_expectation {
        let traces: Vec<(&str, &[SpanRecord])> =
            trees.iter().map(|t| (t.trace_id(), t.spans())).collect();
        let outcome = expectation.file.trim_end_matches(".yaml");
        for assertion in &expectation.tree.traceql {
            verdicts.push(
                check_assertion(outcome, assertion, &traces, input.source, input.window).await,
            );
        }
    }
    for assertion in input.scenario {
        let named = assertion.outcome.as_deref().unwrap_or("all");
        let Ok(outcome) = Outcome::parse(named) else {
            // The scenario loader refused it already; say so rather than skip.
            let mut verdict = Verdict::new(format!("traceql {named}: {}", assertion.query));
            verdict.fail(format!("in: {named:?} names no outcome"));
            verdicts.push(verdict);
            continue;
        };
        let traces: Vec<(&str, &[SpanRecord])> = input
            .requests
            .iter()
            .filter(|r| match &outcome {
                Outcome::All => true,
                Outcome::Answered { endpoint, status } => {
                    r.kind.endpoint() == endpoint && r.status == Some(*status)
                }
            })
            .filter_map(|r| {
                let id = r.trace_id()?;
                let spans = input.found.get(id)?;
                Some((id, spans.as_slice()))
            })
            .collect();
        verdicts.push(check_assertion(named, assertion, &traces, input.source, input.window).await);
    }
    verdicts
}
