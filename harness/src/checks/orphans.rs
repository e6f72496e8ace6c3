//! Orphans: every span the store received during a run must belong to a
//! trace the run started.
//!
//! When a hop drops the trace context (a propagator left out, a header
//! stripped by a proxy), the callee starts a new trace of its own: its
//! spans are stored, sampled by its own root decision, under a trace id no
//! request of the run was given. The run's own traces then look merely
//! short, and those spans are found by nothing that looks up traces by id.
//! This check looks the other way round: it searches the trace source for
//! every trace with a span in the run's window, and reports each one the
//! run did not start, by service and span name, with the span that became
//! its root (where the context was lost).
//!
//! Spans a scenario declares as background (a known source of traces of
//! their own, such as a periodic job) are left out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tracemesh_runtime::topology::Service;

use super::Verdict;
use crate::model::SpanRecord;
use crate::sources::{TraceQuery, TraceSource};
use crate::trace::label::kind_label;

/// The check's name in verdicts.
pub const CHECK: &str = "orphans";

/// The figure listing, in a sharded run, the traces in the window that
/// this shard did not start.
pub const UNCLAIMED_FIGURE: &str = "unclaimed_trace_ids";

/// Rows of the by-span table listed as reasons before the rest are counted.
const LISTED: usize = 12;

/// A source of spans that are expected outside the run's traces, as a
/// scenario declares it (`expect: {background: [{service: .., name: ..}]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Background {
    pub service: String,
    /// The span name; every span of the service when absent.
    #[serde(default)]
    pub name: Option<String>,
}

impl Background {
    fn covers(&self, span: &SpanRecord) -> bool {
        span.service_name == self.service && self.name.as_ref().is_none_or(|n| *n == span.name)
    }
}

/// What the run started and when.
#[derive(Debug, Clone)]
pub struct RunWindow<'a> {
    /// Every trace id the run's requests carried or were answered with,
    /// sampled or not, lowercase hex.
    pub started: &'a BTreeSet<String>,
    /// Unix seconds, inclusive: from before the first request to after the
    /// last span arrived.
    pub start_unix_secs: u64,
    pub end_unix_secs: u64,
    /// Other shards of the same load drive the mesh at the same time
    /// (`run --shard I/N`, N > 1): a trace this run did not start may be
    /// theirs, so it is not failed here but listed (`unclaimed_trace_ids`)
    /// for `tracemesh report merge`, which fails those no shard started.
    pub other_shards_alongside: bool,
}

/// Searches `source` for every trace with a span of a mesh service in the
/// window, and fails on every span (outside `background`) of a trace the
/// run did not start.
///
/// Figures: `traces_in_window`, `orphan_traces`, `orphan_spans`,
/// `by_span` (`"service name [kind]"` to count), `roots` (the span each
/// orphan trace starts with, to count); with other shards alongside,
/// `unclaimed_trace_ids` instead of orphans.
pub async fn check_orphans(
    source: &dyn TraceSource,
    window: &RunWindow<'_>,
    background: &[Background],
) -> Verdict {
    let mut verdict = Verdict::new(CHECK);
    // Enough for every trace of the run and as many strays again: a search
    // that comes back full may have left orphans out, and says so.
    let limit = window.started.len() * 2 + 1_000;
    let mut in_window: BTreeSet<String> = BTreeSet::new();
    for service in Service::ALL {
        let query = TraceQuery::service(service.name())
            .between(window.start_unix_secs, window.end_unix_secs)
            .limit(limit);
        match source.find(&query).await {
            Ok(hits) => {
                if hits.len() >= limit {
                    verdict.fail(format!(
                        "the search for {service}'s traces in the run's window came back full \
                         ({limit} traces): orphans may have been left out"
                    ));
                }
                in_window.extend(hits.into_iter().map(|h| h.trace_id));
            }
            Err(error) => {
                verdict.fail(format!(
                    "could not search {} for {service}'s traces: {error}",
                    source.describe()
                ));
                return verdict.finish();
            }
        }
    }
    let window_start_nanos = window.start_unix_secs.saturating_mul(1_000_000_000);
    let mut by_span: BTreeMap<String, u64> = BTreeMap::new();
    let mut roots: BTreeMap<String, u64> = BTreeMap::new();
    let (mut orphan_traces, mut orphan_spans) = (0u64, 0u64);
    let mut examples: Vec<String> = Vec::new();
    let mut unclaimed: Vec<String> = Vec::new();
    for trace_id in &in_window {
        verdict.examine();
        if window.started.contains(trace_id) {
            continue;
        }
        let spans = match source.trace(trace_id).await {
            Ok(Some(spans)) => spans,
            Ok(None) => continue,
            Err(error) => {
                verdict.fail(format!(
                    "could not read trace {trace_id} from {}: {error}",
                    source.describe()
                ));
                continue;
            }
        };
        let stray: Vec<&SpanRecord> = spans
            .iter()
            .filter(|s| s.start_unix_nanos >= window_start_nanos)
            .filter(|s| !background.iter().any(|b| b.covers(s)))
            .collect();
        if stray.is_empty() {
            continue;
        }
        if window.other_shards_alongside {
            unclaimed.push(trace_id.clone());
            continue;
        }
        orphan_traces += 1;
        orphan_spans += stray.len() as u64;
        for span in &stray {
            *by_span.entry(label(span)).or_default() += 1;
        }
        let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
        let root = stray
            .iter()
            .filter(|s| s.parent_span_id.as_deref().is_none_or(|p| !ids.contains(p)))
            .min_by_key(|s| s.start_unix_nanos)
            .copied()
            .unwrap_or(stray[0]);
        *roots.entry(label(root)).or_default() += 1;
        if examples.len() < 3 {
            examples.push(trace_id.clone());
        }
    }
    if orphan_traces > 0 {
        let roots_text: Vec<String> = roots
            .iter()
            .map(|(root, n)| format!("{root} ({n})"))
            .collect();
        verdict.fail(format!(
            "{orphan_spans} span(s) in {orphan_traces} trace(s) that no request of the run started \
             (e.g. {}): the context was lost on the way into {}",
            examples.join(", "),
            roots_text.join(", ")
        ));
        let mut rows: Vec<(&String, &u64)> = by_span.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (span, n) in rows.iter().take(LISTED) {
            verdict.fail(format!("orphaned: {span}: {n} span(s)"));
        }
        if rows.len() > LISTED {
            verdict.fail(format!(
                "... and {} more span names orphaned",
                rows.len() - LISTED
            ));
        }
    }
    verdict.figure("traces_in_window", in_window.len());
    verdict.figure("orphan_traces", orphan_traces);
    verdict.figure("orphan_spans", orphan_spans);
    verdict.figure("by_span", &by_span);
    verdict.figure("roots", &roots);
    if window.other_shards_alongside {
        verdict.figure(UNCLAIMED_FIGURE, &unclaimed);
    }
    verdict.finish()
}

/// `payment POST /v1/charges [server]`.
fn label(span: &SpanRecord) -> String {
    format!(
        "{} {} [{}]",
        span.service_name,
        span.name,
        kind_label(span.kind)
    )
}
