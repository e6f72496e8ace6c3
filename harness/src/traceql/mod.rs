//! TraceQL: Tempo's trace query language, parsed and evaluated over a
//! trace's spans ([`SpanRecord`]s) from any source.
//!
//! (Interface only; the parser and evaluator are being written.)

use crate::SpanRecord;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    text: String,
}

/// Why a query was refused: a syntax error or a feature not supported,
/// at a 1-based character column of the query text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryError {
    pub column: usize,
    pub message: String,
    /// The query is valid TraceQL, but uses something not supported here.
    pub unsupported: bool,
}

/// One spanset a query returned for a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSet {
    /// Indices into the trace's spans, in the trace's order.
    pub spans: Vec<usize>,
    /// The value of the pipeline's last aggregate (`count()`, `avg(..)`),
    /// when the query ends with one.
    pub aggregate: Option<f64>,
}

/// Parses `text`.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    let _ = text;
    Err(QueryError {
        column: 1,
        message: "TraceQL is not implemented yet".to_owned(),
        unsupported: true,
    })
}

impl Query {
    /// The query as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The spansets `self` returns for one trace (all its spans); empty
    /// when the trace does not match.
    pub fn evaluate(&self, trace: &[SpanRecord]) -> Vec<SpanSet> {
        let _ = trace;
        Vec::new()
    }

    /// Whether the trace matches (returns at least one spanset).
    pub fn matches(&self, trace: &[SpanRecord]) -> bool {
        !self.evaluate(trace).is_empty()
    }
}
