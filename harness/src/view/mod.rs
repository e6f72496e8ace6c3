//! Looking at traces without Grafana: one trace laid out for a person, and
//! a list of traces, whoever stored them.
//!
//! - this file: [`TraceView`], a trace's tree and its report
//!   [`Waterfall`](crate::report::model::Waterfall) rows (built by
//!   `run::figures::waterfall`, so the terminal, the collector's page and
//!   the run report agree on order, self time and critical path), and
//!   [`TraceRow`], one line of a trace list.
//! - `terminal.rs`: both rendered for a terminal of any width, with or
//!   without colour (`tracemesh trace`, `tracemesh traces`).
//!
//! The collector's web page (`collector/viewer.rs`) renders the same
//! [`TraceView`] as HTML with the report's SVG waterfall.

pub mod terminal;

use crate::model::{SpanRecord, StatusCode};
use crate::report::model::Waterfall;
use crate::run::figures::waterfall;
use crate::trace::{TraceTree, TreeOptions};

/// A start time to the second, UTC (`2026-11-22T10:04:05Z`): how trace
/// lists show when a trace started.
pub fn start_time(unix_nanos: u64) -> String {
    tracemesh_runtime::time_format::rfc3339_utc(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix_nanos / 1_000_000_000),
    )
}

/// One trace, ready to draw: its tree, the waterfall rows, and for each row
/// the index of its span in `tree` (for attributes, ids, status messages).
#[derive(Debug, Clone)]
pub struct TraceView {
    pub tree: TraceTree,
    pub waterfall: Waterfall,
    /// `rows[i]` is the span of `waterfall.spans[i]`.
    pub rows: Vec<usize>,
}

/// Why a trace cannot be laid out as one waterfall.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error("trace {trace_id} has no spans")]
    Empty { trace_id: String },
    /// A waterfall hangs from one top span ([`TraceTree::top`]); a trace
    /// whose root has not arrived (or with a broken propagation hop) has
    /// none or several.
    #[error(
        "trace {trace_id} has {roots} root spans (one expected): its root may not have arrived yet"
    )]
    NoSingleRoot { trace_id: String, roots: usize },
}

impl TraceView {
    /// Lays out `spans` (one trace's, from any source).
    pub fn of(trace_id: &str, spans: Vec<SpanRecord>) -> Result<TraceView, ViewError> {
        if spans.is_empty() {
            return Err(ViewError::Empty {
                trace_id: trace_id.to_owned(),
            });
        }
        let tree = TraceTree::build(trace_id, spans, &TreeOptions::default());
        let waterfall = waterfall(format!("trace {trace_id}"), &tree).ok_or_else(|| {
            ViewError::NoSingleRoot {
                trace_id: trace_id.to_owned(),
                roots: tree.roots().len(),
            }
        })?;
        // `figures::waterfall` lists the spans in `depth_first` order: the
        // same walk gives each row its span.
        let rows = tree.depth_first().into_iter().map(|(i, _)| i).collect();
        Ok(TraceView {
            tree,
            waterfall,
            rows,
        })
    }

    /// The span drawn on row `row`.
    pub fn span(&self, row: usize) -> &SpanRecord {
        self.tree.span(self.rows[row])
    }
}

/// One trace in a list: what a search answers, plus what its spans say
/// when they were read (`None` when they were not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRow {
    pub trace_id: String,
    pub root_service: String,
    pub root_name: String,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    pub span_count: Option<usize>,
    /// Whether any span has status Error.
    pub error: Option<bool>,
}

impl TraceRow {
    /// Fills the span count and error mark from the trace's spans.
    pub fn with_spans(mut self, spans: &[SpanRecord]) -> TraceRow {
        self.span_count = Some(spans.len());
        self.error = Some(spans.iter().any(|s| s.status.code == StatusCode::Error));
        self
    }
}

impl From<crate::sources::TraceHit> for TraceRow {
    fn from(hit: crate::sources::TraceHit) -> TraceRow {
        TraceRow {
            trace_id: hit.trace_id,
            root_service: hit.root_service_name,
            root_name: hit.root_span_name,
            start_unix_nanos: hit.start_unix_nanos,
            duration_nanos: hit.duration_nanos,
            span_count: None,
            error: None,
        }
    }
}

impl From<&crate::store::TraceSummary> for TraceRow {
    fn from(hit: &crate::store::TraceSummary) -> TraceRow {
        TraceRow {
            trace_id: hit.trace_id.clone(),
            root_service: hit.root_service_name.clone(),
            root_name: hit.root_span_name.clone(),
            start_unix_nanos: hit.start_unix_nanos,
            duration_nanos: hit.duration_nanos,
            span_count: Some(hit.span_count),
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::synthetic::{CheckoutDelays, checkout};

    /// A request that arrived with a caller's `traceparent` (lab 2 of the
    /// workshop sends one with curl): its root span's parent is remote, so the
    /// trace has no root, one orphan, and is still drawn from that span.
    #[test]
    fn a_trace_continued_from_a_remote_parent_is_drawn_from_its_top_span() {
        let trace = checkout(0xfeed, CheckoutDelays::default());
        let id = trace.trace_id().to_owned();
        let mut spans = trace.into_spans();
        let root = spans
            .iter()
            .position(|s| s.parent_span_id.is_none())
            .unwrap();
        spans[root].parent_span_id = Some("00f067aa0ba902b7".into());
        let count = spans.len();
        let view = TraceView::of(&id, spans).unwrap();
        assert_eq!(view.waterfall.spans.len(), count);
        assert_eq!(view.waterfall.spans[0].name, "POST /api/checkout");
        assert_eq!(view.waterfall.spans[0].depth, 0);
        assert!(view.waterfall.spans[0].critical);
    }

    /// Two top spans are two trees (a hop lost the context), not one
    /// waterfall: that still says so rather than drawing half.
    #[test]
    fn a_split_trace_is_not_drawn_as_one_waterfall() {
        let trace = checkout(0xbeef, CheckoutDelays::default());
        let id = trace.trace_id().to_owned();
        let mut spans = trace.into_spans();
        let charge = spans
            .iter()
            .position(|s| s.name == "POST /v1/charges")
            .unwrap();
        spans[charge].parent_span_id = None;
        assert_eq!(
            TraceView::of(&id, spans).unwrap_err(),
            ViewError::NoSingleRoot {
                trace_id: id.clone(),
                roots: 2
            }
        );
    }
}
