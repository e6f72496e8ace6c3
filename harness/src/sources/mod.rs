//! Trace sources: one trait for "fetch the trace with this id / find
//! traces", whoever stores them.
//!
//! The checks should not care whether a run's traces sit in the embedded
//! store, in Tempo or in Jaeger: they take a `&dyn TraceSource` and get
//! [`SpanRecord`]s back, the same flattened spans the store holds.
//!
//! - `embedded.rs`: [`EmbeddedSource`], the in-process [`TraceStore`].
//! - `tempo.rs`: [`TempoSource`], Tempo's HTTP API (base64 ids, enum names,
//!   `batches` or `resourceSpans`).
//! - `jaeger.rs`: [`JaegerSource`], Jaeger v2's `api_v3` (OTLP JSON under
//!   `result`, hex ids, integer enums).
//! - `otlp_json.rs`: the one converter from OTLP JSON, in any of the
//!   encodings those backends use, to [`SpanRecord`]s.
//! - `http.rs`: the GET-and-classify-the-answer helper both HTTP clients share.
//!
//! "Not found" is `Ok(None)`, not an error: a check that expects a trace to
//! be missing (an unsampled one) must be able to tell "absent" from "the
//! backend is down", and only the second is a [`SourceError`].
//!
//! [`TraceStore`]: crate::store::TraceStore

mod embedded;
pub(crate) mod http;
mod jaeger;
mod otlp_json;
mod tempo;

pub use embedded::EmbeddedSource;
pub use jaeger::JaegerSource;
pub use otlp_json::records_from_resource_spans;
pub use tempo::TempoSource;

use std::time::Duration;

use async_trait::async_trait;

use crate::model::{SpanRecord, normalize_trace_id};

/// How long an HTTP source waits for one answer before calling the backend
/// unreachable. Generous for loopback; a trace query is not a long poll.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where traces can be read from.
///
/// Object safe (through `async_trait`, which boxes the futures), so a run can
/// choose its backend at startup and hold a `Box<dyn TraceSource>`.
#[async_trait]
pub trait TraceSource: Send + Sync {
    /// A short description for reasons and logs, e.g. `tempo at http://..`.
    fn describe(&self) -> String;

    /// All spans of one trace, or `Ok(None)` when the backend has none.
    /// `trace_id` is hex, any case; shorter ids are left-padded with zeros,
    /// as Tempo does.
    async fn trace(&self, trace_id: &str) -> Result<Option<Vec<SpanRecord>>, SourceError>;

    /// Traces matching `query`, newest first, at most `query.limit` of them
    /// when a limit is set.
    async fn find(&self, query: &TraceQuery) -> Result<Vec<TraceHit>, SourceError>;
}

/// A search for traces. Every condition present must hold; `service_name`,
/// `span_name` and `attributes` must all hold on one span, which is what
/// Tempo's tag search, Jaeger's `FindTraces` and the store all mean. How a
/// value matches is the backend's business: Tempo and the store match
/// case-insensitive substrings, Jaeger exact values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceQuery {
    pub service_name: Option<String>,
    /// The span (operation) name.
    pub span_name: Option<String>,
    /// Span or resource attributes, compared as strings.
    pub attributes: Vec<(String, String)>,
    /// Only traces overlapping `[start, end]`, unix seconds.
    pub start_unix_secs: Option<u64>,
    pub end_unix_secs: Option<u64>,
    /// At most this many results; 0 means the backend's default.
    pub limit: usize,
    /// A TraceQL query, evaluated by the backend itself, instead of the
    /// service, span name and attribute conditions (which must then be
    /// empty: Tempo refuses `q` and `tags` together). A backend without
    /// TraceQL (Jaeger) answers [`SourceError::Unsupported`].
    pub traceql: Option<String>,
}

impl TraceQuery {
    /// Traces a TraceQL query matches.
    pub fn traceql(query: impl Into<String>) -> TraceQuery {
        TraceQuery {
            traceql: Some(query.into()),
            ..TraceQuery::default()
        }
    }

    /// Traces with a span of `service`.
    pub fn service(service: impl Into<String>) -> TraceQuery {
        TraceQuery {
            service_name: Some(service.into()),
            ..TraceQuery::default()
        }
    }

    /// ... whose span is named `name`.
    pub fn named(mut self, name: impl Into<String>) -> TraceQuery {
        self.span_name = Some(name.into());
        self
    }

    /// ... and carries attribute `key` = `value`.
    pub fn with_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> TraceQuery {
        self.attributes.push((key.into(), value.into()));
        self
    }

    /// ... within `[start, end]` (unix seconds).
    pub fn between(mut self, start_unix_secs: u64, end_unix_secs: u64) -> TraceQuery {
        self.start_unix_secs = Some(start_unix_secs);
        self.end_unix_secs = Some(end_unix_secs);
        self
    }

    pub fn limit(mut self, limit: usize) -> TraceQuery {
        self.limit = limit;
        self
    }
}

/// One trace found by a search: the fields every backend can provide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHit {
    /// 32 lowercase hex characters (Tempo's shortened ids are re-padded).
    pub trace_id: String,
    /// The root span's service, or the store's `<root span not yet received>`.
    pub root_service_name: String,
    pub root_span_name: String,
    pub start_unix_nanos: u64,
    /// Earliest start to latest end. Tempo reports whole milliseconds only,
    /// so from Tempo this is a multiple of 1 ms.
    pub duration_nanos: u64,
}

/// Why a source could not answer. "Not found" is not among them: that is
/// `Ok(None)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("malformed trace id {0:?}: expected 1 to 32 hex characters")]
    InvalidTraceId(String),
    /// No HTTP answer at all: connection refused, timeout, DNS...
    #[error("{url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    /// An HTTP answer other than success or (for lookups) 404.
    #[error("{url} answered HTTP {status}: {body}")]
    HttpStatus {
        url: String,
        status: u16,
        /// The start of the response body, which usually says why.
        body: String,
    },
    /// A success status with a body we cannot read as the documented format.
    #[error("{url} sent a malformed response: {reason}")]
    Malformed { url: String, reason: String },
    /// The backend cannot answer this kind of question at all.
    #[error("{source_name} cannot {what}")]
    Unsupported { source_name: String, what: String },
    /// The backend's own query engine refused the query (a TraceQL syntax
    /// error or feature), with its message (which names the column).
    #[error("{source_name} refused the query: {message}")]
    QueryRefused {
        source_name: String,
        message: String,
    },
}

/// The store's key form of a trace id, or the error every source returns for
/// an id no backend could know.
fn trace_key(trace_id: &str) -> Result<String, SourceError> {
    normalize_trace_id(trace_id).ok_or_else(|| SourceError::InvalidTraceId(trace_id.to_string()))
}
