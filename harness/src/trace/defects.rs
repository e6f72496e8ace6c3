//! What can be structurally wrong with one trace, independent of what the
//! trace was expected to contain.
//!
//! These are the defects [`TraceTree::build`](super::TraceTree::build)
//! finds on its own, from ids and timestamps alone. Each names its spans
//! the way a reader sees them (`service name [kind]`) and says what usually
//! causes it, because "orphan span 3fa1…" alone sends people hunting.

use std::fmt;

use serde::Serialize;

use super::label::fmt_nanos;

/// One structural defect of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "defect", rename_all = "snake_case")]
pub enum StructuralDefect {
    /// A span whose trace id is not the trace's: the store or a backend
    /// mixed traces up, or a sender reused a context it should not have.
    ForeignSpan {
        span: String,
        span_id: String,
        trace_id: String,
    },
    /// The same span id more than once. Identical copies usually mean an
    /// exporter retried a batch that had in fact arrived; different content
    /// means two spans got the same id (a broken id generator).
    DuplicateSpanId {
        span: String,
        span_id: String,
        copies: usize,
        identical: bool,
    },
    /// A span whose parent is not in the trace: the parent span was lost, or
    /// never exported, or is still on its way.
    MissingParent {
        span: String,
        span_id: String,
        parent_span_id: String,
    },
    /// More than one span without a parent: the trace split in pieces,
    /// typically because a hop did not propagate the context and the callee
    /// started a new root.
    SeveralRoots { roots: Vec<String> },
    /// Spans but no root: the root has not arrived (or was lost).
    NoRoot,
    /// Parent links that loop back on themselves (a span that is its own
    /// ancestor). No real tracer does this; a corrupting pipeline can.
    Cycle { spans: Vec<String> },
    /// A child that starts before its parent or ends after it by more than
    /// the tolerance. Usually a child span ended after the parent returned
    /// (work left running after the response), or timestamps from different
    /// clocks.
    ChildOutsideParent {
        child: String,
        parent: String,
        starts_early_by_nanos: u64,
        ends_late_by_nanos: u64,
        tolerance_nanos: u64,
    },
    /// A span that ends before it starts.
    EndsBeforeStart { span: String, by_nanos: u64 },
}

/// The category of a [`StructuralDefect`], without its details: for
/// counting, and for asserting in tests which defect was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    ForeignSpan,
    DuplicateSpanId,
    MissingParent,
    SeveralRoots,
    NoRoot,
    Cycle,
    ChildOutsideParent,
    EndsBeforeStart,
}

impl StructuralDefect {
    pub fn kind(&self) -> DefectKind {
        match self {
            StructuralDefect::ForeignSpan { .. } => DefectKind::ForeignSpan,
            StructuralDefect::DuplicateSpanId { .. } => DefectKind::DuplicateSpanId,
            StructuralDefect::MissingParent { .. } => DefectKind::MissingParent,
            StructuralDefect::SeveralRoots { .. } => DefectKind::SeveralRoots,
            StructuralDefect::NoRoot => DefectKind::NoRoot,
            StructuralDefect::Cycle { .. } => DefectKind::Cycle,
            StructuralDefect::ChildOutsideParent { .. } => DefectKind::ChildOutsideParent,
            StructuralDefect::EndsBeforeStart { .. } => DefectKind::EndsBeforeStart,
        }
    }
}

impl fmt::Display for StructuralDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StructuralDefect::ForeignSpan {
                span,
                span_id,
                trace_id,
            } => write!(
                f,
                "span {span} (id {span_id}) belongs to another trace, {trace_id}"
            ),
            StructuralDefect::DuplicateSpanId {
                span,
                span_id,
                copies,
                identical,
            } => {
                let why = if *identical {
                    "identical copies: a batch sent twice?"
                } else {
                    "with different content: two spans share an id"
                };
                write!(
                    f,
                    "span id {span_id} ({span}) appears {copies} times, {why}"
                )
            }
            StructuralDefect::MissingParent {
                span,
                span_id,
                parent_span_id,
            } => write!(
                f,
                "missing parent: {span} (id {span_id}) has parent {parent_span_id}, \
                 which is not in the trace (a lost span, or a parent not yet exported)"
            ),
            StructuralDefect::SeveralRoots { roots } => write!(
                f,
                "{} root spans: {} (the trace split: a hop dropped the context)",
                roots.len(),
                roots.join("; ")
            ),
            StructuralDefect::NoRoot => {
                write!(f, "no root span: the root has not arrived, or was lost")
            }
            StructuralDefect::Cycle { spans } => {
                write!(f, "parent links form a cycle through: {}", spans.join("; "))
            }
            StructuralDefect::ChildOutsideParent {
                child,
                parent,
                starts_early_by_nanos,
                ends_late_by_nanos,
                tolerance_nanos,
            } => {
                write!(f, "child {child} ")?;
                if *starts_early_by_nanos > 0 {
                    write!(f, "starts {} before", fmt_nanos(*starts_early_by_nanos))?;
                }
                if *starts_early_by_nanos > 0 && *ends_late_by_nanos > 0 {
                    f.write_str(" and ")?;
                }
                if *ends_late_by_nanos > 0 {
                    write!(f, "ends {} after", fmt_nanos(*ends_late_by_nanos))?;
                }
                write!(
                    f,
                    " its parent {parent} (tolerance {})",
                    fmt_nanos(*tolerance_nanos)
                )
            }
            StructuralDefect::EndsBeforeStart { span, by_nanos } => {
                write!(f, "{span} ends {} before it starts", fmt_nanos(*by_nanos))
            }
        }
    }
}
