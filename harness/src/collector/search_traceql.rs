//! `/api/search?q=<TraceQL>`: the query evaluated over each stored trace,
//! newest first, answered in the shape of Tempo's TraceQL search (Tempo HTTP
//! API docs, "Example of TraceQL search"):
//!
//! ```text
//! {"traces":[{"traceID","rootServiceName","rootTraceName","startTimeUnixNano":"..","durationMs",
//!             "spanSet":{..},"spanSets":[{"spans":[{"spanID","name","startTimeUnixNano":"..",
//!                                                  "durationNanos":"..","attributes":[..]}],
//!                                        "matched":N}]}],
//!  "metrics":{"inspectedTraces","inspectedBytes":"..","completedJobs","totalJobs"}}
//! ```
//!
//! `spanSet` repeats the first of `spanSets`, as Tempo still sends it for
//! older clients. Each spanset lists at most `spss` spans (default 3) and
//! counts all of them in `matched`. A span's `attributes` are its
//! `service.name` (Grafana's result table shows it) and the attributes and
//! intrinsics (`status`, `kind`, `statusMessage`) the query text names, as
//! Tempo returns what the query fetched. The trace fields come from the same
//! summary the tag-based search answers (`store::search`).

use serde_json::{Value, json};

use super::error::ApiError;
use crate::model::{AttrValue, SERVICE_NAME_KEY, SpanRecord};
use crate::store::{TraceStore, TraceSummary, TraceWindow, status_name};
use crate::trace::label::kind_label;
use crate::traceql::{self, Query, QueryError, SpanSet};

/// Tempo's default spans per spanset.
pub const DEFAULT_SPANS_PER_SPANSET: usize = 3;

/// What `/api/search` was asked when it has a `q`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceqlSearch {
    pub query: String,
    pub window: TraceWindow,
    /// 0: Tempo's default (20).
    pub limit: usize,
    /// 0: Tempo's default (3).
    pub spans_per_spanset: usize,
}

/// Runs the search and renders Tempo's answer; a query that does not parse
/// (or uses what the engine does not support) is a 400 naming its column.
pub fn traceql_search(store: &TraceStore, search: &TraceqlSearch) -> Result<Value, ApiError> {
    let query = traceql::parse(&search.query).map_err(query_error)?;
    let spss = match search.spans_per_spanset {
        0 => DEFAULT_SPANS_PER_SPANSET,
        n => n,
    };
    let (hits, metrics) = store.traceql(&query, &search.window, search.limit);
    let traces: Vec<Value> = hits
        .iter()
        .map(|hit| trace_hit(&hit.summary, &hit.spans, &hit.sets, &query, spss))
        .collect();
    Ok(json!({
        "traces": traces,
        "metrics": {
            "inspectedTraces": metrics.inspected_traces,
            // uint64 in Tempo's protobuf, so a string in its JSON.
            "inspectedBytes": metrics.inspected_bytes.to_string(),
            "completedJobs": 1,
            "totalJobs": 1,
        },
    }))
}

/// The 400 for a refused query: its message carries the column
/// (`QueryError`'s Display), and says whether the query is wrong or only
/// beyond what the embedded engine supports.
pub fn query_error(error: QueryError) -> ApiError {
    if error.unsupported {
        ApiError::BadRequest(format!(
            "TraceQL feature not supported by the embedded store: {error}"
        ))
    } else {
        ApiError::BadRequest(format!("invalid TraceQL query: {error}"))
    }
}

fn trace_hit(
    summary: &TraceSummary,
    spans: &[SpanRecord],
    sets: &[SpanSet],
    query: &Query,
    spss: usize,
) -> Value {
    let span_sets: Vec<Value> = sets
        .iter()
        .map(|set| {
            let listed: Vec<Value> = set
                .spans
                .iter()
                .filter_map(|&i| spans.get(i))
                .take(spss)
                .map(|span| search_span(span, query.text()))
                .collect();
            json!({ "spans": listed, "matched": set.spans.len() })
        })
        .collect();
    json!({
        "traceID": summary.trace_id,
        "rootServiceName": summary.root_service_name,
        "rootTraceName": summary.root_span_name,
        "startTimeUnixNano": summary.start_unix_nanos.to_string(),
        "durationMs": summary.duration_nanos / 1_000_000,
        "spanSet": span_sets.first().cloned().unwrap_or_else(|| json!({ "spans": [], "matched": 0 })),
        "spanSets": span_sets,
    })
}

fn search_span(span: &SpanRecord, query_text: &str) -> Value {
    let mut attributes = vec![key_value(
        SERVICE_NAME_KEY,
        &AttrValue::String(span.service_name.clone()),
    )];
    for (key, value) in span.attributes.iter().chain(&span.resource_attributes) {
        if key != SERVICE_NAME_KEY && names_attribute(query_text, key) {
            attributes.push(key_value(key, value));
        }
    }
    let intrinsics = [
        ("status", status_name(span.status.code).to_string()),
        ("kind", kind_label(span.kind).to_string()),
        ("statusMessage", span.status.message.clone()),
    ];
    for (name, value) in intrinsics {
        if names_intrinsic(query_text, name) {
            attributes.push(key_value(name, &AttrValue::String(value)));
        }
    }
    json!({
        "spanID": span.span_id,
        "name": span.name,
        "startTimeUnixNano": span.start_unix_nanos.to_string(),
        "durationNanos": span.duration_nanos().to_string(),
        "attributes": attributes,
    })
}

/// An OTLP `KeyValue` as Tempo's JSON renders it (int64 as a string).
fn key_value(key: &str, value: &AttrValue) -> Value {
    let value = match value {
        AttrValue::String(s) => json!({ "stringValue": s }),
        AttrValue::Int(i) => json!({ "intValue": i.to_string() }),
        AttrValue::Double(d) => json!({ "doubleValue": d }),
        AttrValue::Bool(b) => json!({ "boolValue": b }),
        other => json!({ "stringValue": other.to_string() }),
    };
    json!({ "key": key, "value": value })
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.' || c == ':'
}

/// Whether the query refers to attribute `key` (`.key`, `span.key`,
/// `resource.key`): `.key` followed by something that ends an identifier.
fn names_attribute(text: &str, key: &str) -> bool {
    let needle = format!(".{key}");
    text.match_indices(&needle).any(|(at, _)| {
        !text[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(is_identifier_char)
    })
}

/// Whether the query uses intrinsic `name` as a word of its own (not inside
/// an attribute name such as `.http.status_code`).
fn names_intrinsic(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(is_identifier_char) && !after.is_some_and(is_identifier_char)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_attributes_and_intrinsics_a_query_names() {
        let query = r#"{ span.http.route = "/a" && status = error && .db }"#;
        assert!(names_attribute(query, "http.route"));
        assert!(names_attribute(query, "db"));
        assert!(!names_attribute(query, "http"));
        assert!(names_intrinsic(query, "status"));
        assert!(!names_intrinsic("{ .http.status_code = 500 }", "status"));
        assert!(!names_intrinsic(query, "kind"));
    }

    #[test]
    fn a_refused_query_is_a_400_naming_its_column() {
        let error = query_error(QueryError {
            column: 7,
            message: "expected a value".into(),
            unsupported: false,
        });
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(error.to_string().contains("column 7"), "{error}");
        let error = query_error(QueryError {
            column: 3,
            message: "structural operator >>".into(),
            unsupported: true,
        });
        assert!(error.to_string().contains("not supported"), "{error}");
    }

    #[test]
    fn ints_render_as_strings_like_tempo() {
        assert_eq!(
            key_value("http.status_code", &AttrValue::Int(200)),
            json!({ "key": "http.status_code", "value": { "intValue": "200" } })
        );
    }
}
