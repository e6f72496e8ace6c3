//! TraceQL: Tempo's trace query language, parsed and evaluated over a
//! trace's spans ([`SpanRecord`]s) from any source.
//!
//! Map of this module:
//!
//! - `lexer.rs`: text -> tokens with 1-based character columns
//!   (context-sensitive attribute names, durations, strings, operators).
//! - `parser.rs`: tokens -> `ast.rs`'s [`Pipeline`](ast::Pipeline), by
//!   precedence climbing; `types.rs` holds the static type rules it checks.
//! - `eval.rs`: a pipeline over one trace (spanset filters, structural
//!   operators, aggregates, `by`, `coalesce`, `select`); `value.rs`: a field
//!   expression over one span, with Tempo's runtime type rules.
//! - `tests.rs`: queries over realistic traces with hand-worked answers,
//!   and a seeded stream of grammar-shaped inputs that must never panic.
//!
//! Checked against Tempo's documentation ("Construct a TraceQL query",
//! "Trace structure and TraceQL") and its source (`pkg/traceql/expr.y`,
//! `lexer.go`, `ast_execute.go`, `ast_validate.go` in grafana/tempo).
//!
//! Supported: spanset filters `{ ... }` and `{}`; intrinsics `name`,
//! `status`, `statusMessage`, `kind`, `duration`, `rootName`,
//! `rootServiceName`, `traceDuration` and the scoped forms `span:name`,
//! `span:status`, `span:statusMessage`, `span:kind`, `span:duration`,
//! `span:id`, `span:parentID`, `span:childCount`, `trace:rootName`,
//! `trace:rootService`, `trace:duration`, `trace:id`; attributes `span.k`,
//! `resource.k`, `.k` (span, then resource), quoted `span."a b"`; the
//! comparisons, `=~`/`!~` (matched whole), `&&`, `||`, `!`, arithmetic,
//! `!= nil`/`= nil`; structural operators `>`, `<`, `>>`, `<<`, `~`, their
//! `!` and `&` forms, spanset `&&`/`||`; pipelines with `count()`, `avg`,
//! `min`, `max`, `sum` compared with a number, `by`, `coalesce`, `select`.
//!
//! Refused as unsupported (valid TraceQL, never a wrong answer): metrics
//! functions (`rate()`, `quantile_over_time`, ...), `with(...)` hints,
//! `parent.`, `event.`, `link.`, `instrumentation.` attributes and their
//! `:` intrinsics, the `parent` and `nestedSet*` intrinsics, comparing two
//! pipelines' aggregates, arithmetic on aggregates, nesting deeper than
//! [`MAX_NESTING`].

mod ast;
mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;
mod types;
mod value;

pub use parser::MAX_NESTING;

use crate::SpanRecord;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    text: String,
    pipeline: ast::Pipeline,
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
    /// when the query ends with one. Durations are in nanoseconds.
    pub aggregate: Option<f64>,
}

/// Parses `text`.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    Ok(Query {
        text: text.to_owned(),
        pipeline: parser::parse(text)?,
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
        eval::run(&self.pipeline, trace)
    }

    /// Whether the trace matches (returns at least one spanset).
    pub fn matches(&self, trace: &[SpanRecord]) -> bool {
        !self.evaluate(trace).is_empty()
    }
}
