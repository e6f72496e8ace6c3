//! `traceql ...`: assertions written in TraceQL, in an expected tree's
//! file or a scenario's `expect`, over every trace of one outcome.
//!
//! ```yaml
//! traceql:
//!   - query: '{ resource.service.name = "payment" && status = error }'
//!     matches: none          # no trace of this outcome may match
//!   - query: '{ name = "POST /api/checkout" } >> { resource.service.name = "payment" }'
//!     matches: every         # each trace must match
//!   - query: '{ span.db.system.name = "sqlite" }'
//!     spans: 7               # each trace: exactly 7 matching spans
//! ```
//!
//! A scenario's `expect.traceql` entries also say whose traces, with `in:`
//! (`POST /api/checkout 201`, or `all`).
//!
//! The harness evaluates each query itself ([`crate::traceql`]) over each
//! trace's spans, whatever the source. When the source evaluates TraceQL
//! too (Tempo, the embedded store's API), the same query is sent to it and
//! its answer must agree for `every` and `none`: the same assertion checks
//! the backend's own engine. A source without TraceQL (Jaeger) is noted in
//! the verdict's figures, not failed.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::SpanRecord;
use crate::sources::{SourceError, TraceQuery, TraceSource};
use crate::traceql::{self, Query};

/// How many failing traces are named one by one.
const QUOTED: usize = 5;

/// One assertion as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceqlAssertion {
    /// In a scenario: whose traces, `METHOD /route STATUS` as the gateway
    /// answered (`POST /api/checkout 201`) or `all`. In an expected tree's
    /// file it is left out: the file's own outcome.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    pub query: String,
    /// `every` or `none` trace of the outcome matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<Matches>,
    /// Each trace of the outcome has exactly this many matching spans
    /// (summed over the spansets the query returns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matches {
    Every,
    None,
}

impl TraceqlAssertion {
    /// The query parsed, and exactly one of `matches` / `spans` given;
    /// the error says which, with the query's column.
    pub fn validate(&self) -> Result<Query, String> {
        match (self.matches, self.spans) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{:?}: give `matches` or `spans`, not both",
                    self.query
                ));
            }
            (None, None) => {
                return Err(format!(
                    "{:?}: say what must hold: `matches: every`, `matches: none` or `spans: N`",
                    self.query
                ));
            }
            _ => {}
        }
        traceql::parse(&self.query).map_err(|e| format!("{:?}: {e}", self.query))
    }
}

impl fmt::Display for TraceqlAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.matches, self.spans) {
            (Some(Matches::Every), _) => write!(f, "{} matches every trace", self.query),
            (Some(Matches::None), _) => write!(f, "{} matches no trace", self.query),
            (None, Some(n)) => write!(f, "{} matches {n} span(s) per trace", self.query),
            (None, None) => write!(f, "{}", self.query),
        }
    }
}

/// A scenario's `in:`: every sampled trace, or those of one endpoint and
/// status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    All,
    Answered { endpoint: String, status: u16 },
}

impl Outcome {
    /// `all`, or `METHOD /route STATUS`.
    pub fn parse(text: &str) -> Result<Outcome, String> {
        let text = text.trim();
        if text == "all" {
            return Ok(Outcome::All);
        }
        let refused = || {
            format!(
                "in: {text:?} is neither `all` nor `METHOD /route STATUS` (e.g. POST /api/checkout 201)"
            )
        };
        let (endpoint, status) = text.rsplit_once(' ').ok_or_else(refused)?;
        let status: u16 = status.parse().map_err(|_| refused())?;
        if !endpoint.contains(" /") {
            return Err(refused());
        }
        Ok(Outcome::Answered {
            endpoint: endpoint.to_owned(),
            status,
        })
    }
}

/// Checks `assertion` over `traces` (id and spans) of the outcome named
/// `outcome`; `window` (unix seconds) bounds the backend's search.
pub async fn check_assertion(
    outcome: &str,
    assertion: &TraceqlAssertion,
    traces: &[(&str, &[SpanRecord])],
    source: &dyn TraceSource,
    window: (u64, u64),
) -> Verdict {
    let mut verdict = Verdict::new(format!("traceql {outcome}: {}", assertion.query));
    verdict.figure("assertion", assertion.to_string());
    let query = match assertion.validate() {
        Ok(query) => query,
        Err(e) => {
            verdict.fail(e);
            return verdict;
        }
    };
    let mut wrong = Vec::new();
    let mut matched_here: BTreeSet<&str> = BTreeSet::new();
    for (trace_id, spans) in traces {
        verdict.examine();
        let sets = query.evaluate(spans);
        if !sets.is_empty() {
            matched_here.insert(trace_id);
        }
        let problem = match (assertion.matches, assertion.spans) {
            (Some(Matches::Every), _) if sets.is_empty() => Some("does not match".to_owned()),
            (Some(Matches::None), _) if !sets.is_empty() => Some(format!(
                "matches ({} span(s), e.g. {})",
                sets.iter().map(|s| s.spans.len()).sum::<usize>(),
                sets.iter()
                    .flat_map(|s| s.spans.iter())
                    .next()
                    .and_then(|&i| spans.get(i))
                    .map_or_else(String::new, |s| format!("{} {}", s.service_name, s.name))
            )),
            (None, Some(expected)) => {
                let found: usize = sets.iter().map(|s| s.spans.len()).sum();
                (found != expected).then(|| format!("matches {found} span(s), not {expected}"))
            }
            _ => None,
        };
        if let Some(problem) = problem {
            wrong.push(format!("trace {trace_id} {problem}"));
        }
    }
    verdict.figure("traces", traces.len());
    verdict.figure("matched", matched_here.len());
    for reason in wrong.iter().take(QUOTED) {
        verdict.fail(format!("{outcome}: {reason}: {assertion}"));
    }
    if wrong.len() > QUOTED {
        verdict.fail(format!("... and {} more traces", wrong.len() - QUOTED));
    }
    if let Some(matches) = assertion.matches {
        cross_check(&mut verdict, &query, matches, traces, source, window).await;
    }
    verdict.finish()
}

/// The backend's own answer for `every` / `none`, over the same traces.
async fn cross_check(
    verdict: &mut Verdict,
    query: &Query,
    matches: Matches,
    traces: &[(&str, &[SpanRecord])],
    source: &dyn TraceSource,
    (start, end): (u64, u64),
) {
    let search = TraceQuery::traceql(query.text())
        .between(start, end)
        // Enough for every trace of a run; Tempo caps it on its side.
        .limit(100_000);
    let found = match source.find(&search).await {
        Ok(hits) => hits,
        Err(SourceError::Unsupported { source_name, .. }) => {
            verdict.figure("backend", format!("{source_name}: no TraceQL, not asked"));
            return;
        }
        Err(e) => {
            verdict.fail(format!(
                "{} could not run the query: {e}",
                source.describe()
            ));
            return;
        }
    };
    let backend: BTreeSet<&str> = found.iter().map(|h| h.trace_id.as_str()).collect();
    let ours: Vec<&str> = traces.iter().map(|(id, _)| *id).collect();
    let disagree: Vec<&str> = match matches {
        Matches::Every => ours
            .iter()
            .copied()
            .filter(|id| !backend.contains(id))
            .collect(),
        Matches::None => ours
            .iter()
            .copied()
            .filter(|id| backend.contains(id))
            .collect(),
    };
    verdict.figure("backend", source.describe());
    verdict.figure("backend_matched", backend.len());
    if !disagree.is_empty() {
        let what = match matches {
            Matches::Every => "did not return",
            Matches::None => "returned",
        };
        verdict.fail(format!(
            "{} {what} {} trace(s) of this outcome for the query (e.g. {})",
            source.describe(),
            disagree.len(),
            disagree[0]
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TraceStore;
    use crate::sources::EmbeddedSource;
    use crate::trace::synthetic::{CheckoutDelays, checkout};

    fn assertion(yaml: &str) -> TraceqlAssertion {
        serde_yaml::from_str(yaml).unwrap()
    }

    /// A source without TraceQL, as Jaeger is: the harness's own
    /// evaluation alone decides.
    struct WithoutTraceql;

    #[async_trait::async_trait]
    impl TraceSource for WithoutTraceql {
        fn describe(&self) -> String {
            "a source without TraceQL".into()
        }
        async fn trace(&self, _: &str) -> Result<Option<Vec<SpanRecord>>, SourceError> {
            Ok(None)
        }
        async fn find(&self, _: &TraceQuery) -> Result<Vec<crate::sources::TraceHit>, SourceError> {
            Err(SourceError::Unsupported {
                source_name: self.describe(),
                what: "evaluate TraceQL".into(),
            })
        }
    }

    async fn check_with(yaml: &str, source: &dyn TraceSource) -> Verdict {
        let trace = checkout(1, CheckoutDelays::default());
        let traces = [(trace.trace_id(), trace.spans())];
        check_assertion("checkout", &assertion(yaml), &traces, source, (0, u64::MAX)).await
    }

    async fn check(yaml: &str) -> Verdict {
        check_with(yaml, &WithoutTraceql).await
    }

    #[tokio::test]
    async fn every_none_and_span_counts_hold_on_a_clean_checkout() {
        for yaml in [
            "{query: '{ resource.service.name = \"payment\" }', matches: every}",
            "{query: '{ status = error }', matches: none}",
            "{query: '{ kind = server }', spans: 5}",
        ] {
            let v = check(yaml).await;
            assert!(v.passed, "{yaml}: {:?}", v.reasons);
        }
    }

    #[tokio::test]
    async fn a_planted_mismatch_fails_naming_the_trace() {
        let v = check("{query: '{ resource.service.name = \"payment\" }', matches: none}").await;
        assert!(!v.passed);
        assert!(
            v.reasons[0].contains("matches (2 span(s), e.g. payment"),
            "{:?}",
            v.reasons
        );
        let v = check("{query: '{ kind = server }', spans: 4}").await;
        assert!(
            v.reasons[0].contains("matches 5 span(s), not 4"),
            "{:?}",
            v.reasons
        );
    }

    #[tokio::test]
    async fn the_backend_is_asked_too_and_must_agree() {
        // This embedded store holds nothing, so it returns no trace for a
        // query every trace matches: the cross-check catches the backend.
        let empty = EmbeddedSource::new(TraceStore::new(100));
        let v = check_with("{query: '{ }', matches: every}", &empty).await;
        assert!(
            v.reasons
                .iter()
                .any(|r| r.contains("did not return 1 trace(s)")),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn a_bad_assertion_says_what_is_wrong() {
        let e = assertion("{query: '{ name = }', matches: every}")
            .validate()
            .unwrap_err();
        assert!(e.contains("column"), "{e}");
        let e = assertion("{query: '{ }'}").validate().unwrap_err();
        assert!(e.contains("say what must hold"), "{e}");
        let e = assertion("{query: '{ }', matches: none, spans: 2}")
            .validate()
            .unwrap_err();
        assert!(e.contains("not both"), "{e}");
    }
}
