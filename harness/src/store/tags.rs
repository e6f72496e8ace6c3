//! Tag names and tag values over the store: what Tempo's
//! `/api/search/tags` and `/api/search/tag/{tag}/values` (v1 and v2) answer,
//! and what Grafana's query editor autocompletes from.
//!
//! Both walk the store through [`TraceStore::scan_newest_first`], newest
//! traces first, and are bounded twice, so a store of a million spans cannot
//! make an autocomplete request slow or its answer huge:
//!
//! | bound | value | what happens past it |
//! |---|---|---|
//! | spans inspected per request | [`MAX_TAG_SCAN_SPANS`] (50 000) | the scan stops after the trace that crossed it: older traces' tags are not listed |
//! | names per scope, values per answer | the request's `limit`, at most and by default [`MAX_TAG_LIMIT`] (1 000) | further distinct names or values are not collected |

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use super::search::{ScanMetrics, TraceWindow, status_name, tag_value};
use super::{ROOT_SPAN_NOT_YET_RECEIVED, TraceStore, TraceSummary};
use crate::model::{AttrValue, SpanRecord};
use crate::trace::label::kind_label;
use crate::traceql::Query;

/// Spans one tag request may inspect.
pub const MAX_TAG_SCAN_SPANS: usize = 50_000;

/// Names per scope, or values per answer, at most (and by default).
pub const MAX_TAG_LIMIT: usize = 1_000;

/// The intrinsics TraceQL defines for spans and traces, as Tempo lists them
/// in the `intrinsic` scope of `/api/v2/search/tags`.
pub const INTRINSIC_TAGS: [&str; 8] = [
    "duration",
    "kind",
    "name",
    "rootName",
    "rootServiceName",
    "status",
    "statusMessage",
    "traceDuration",
];

/// What a tag request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagRef {
    /// `span.<key>`: a span attribute.
    Span(String),
    /// `resource.<key>`: a resource attribute.
    Resource(String),
    /// `.<key>`: a span attribute, else a resource attribute.
    Unscoped(String),
    /// `status`, `kind`, `name`, ... (and their `span:`/`trace:` spellings).
    Intrinsic(Intrinsic),
    /// A v1 tag: a bare key with the tag-based search's meaning
    /// ([`tag_value`]), values untyped.
    Plain(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intrinsic {
    Name,
    Status,
    StatusMessage,
    Kind,
    Duration,
    TraceDuration,
    RootName,
    RootServiceName,
}

impl TagRef {
    /// Reads a TraceQL identifier, as `/api/v2/search/tag/{tag}/values`
    /// takes it. `None` when `text` is not one.
    pub fn parse_traceql(text: &str) -> Option<TagRef> {
        let key = |rest: &str| (!rest.is_empty()).then(|| rest.to_string());
        if let Some(rest) = text.strip_prefix("span.") {
            return key(rest).map(TagRef::Span);
        }
        if let Some(rest) = text.strip_prefix("resource.") {
            return key(rest).map(TagRef::Resource);
        }
        if let Some(rest) = text.strip_prefix('.') {
            return key(rest).map(TagRef::Unscoped);
        }
        let intrinsic = match text {
            "name" | "span:name" => Intrinsic::Name,
            "status" | "span:status" => Intrinsic::Status,
            "statusMessage" | "span:statusMessage" => Intrinsic::StatusMessage,
            "kind" | "span:kind" => Intrinsic::Kind,
            "duration" | "span:duration" => Intrinsic::Duration,
            "traceDuration" | "trace:duration" => Intrinsic::TraceDuration,
            "rootName" | "trace:rootName" => Intrinsic::RootName,
            "rootServiceName" | "trace:rootService" => Intrinsic::RootServiceName,
            _ => return None,
        };
        Some(TagRef::Intrinsic(intrinsic))
    }
}

/// One distinct value with its TraceQL type, as Tempo's v2 answers it:
/// `string`, `int`, `float`, `bool`, or `keyword` for a status or kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TypedValue {
    pub kind: &'static str,
    pub value: String,
}

/// Attribute names by scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagNames {
    pub span: BTreeSet<String>,
    pub resource: BTreeSet<String>,
    pub metrics: ScanMetrics,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagValues {
    /// Sorted by type, then value.
    pub values: BTreeSet<TypedValue>,
    pub metrics: ScanMetrics,
}

impl TraceStore {
    /// The span and resource attribute names of the traces in `window`
    /// (of the spans `filter` selects, when given), at most `limit` per scope.
    pub fn tag_names(
        &self,
        window: &TraceWindow,
        filter: Option<&Query>,
        limit: usize,
    ) -> TagNames {
        let limit = capped(limit);
        let mut names = TagNames::default();
        names.metrics = self.scan_tag_spans(window, filter, |_, span| {
            extend_capped(&mut names.span, span.attributes.keys(), limit);
            extend_capped(&mut names.resource, span.resource_attributes.keys(), limit);
            names.span.len() >= limit && names.resource.len() >= limit
        });
        names
    }

    /// The distinct values `tag` takes in the traces in `window` (on the
    /// spans `filter` selects, when given), at most `limit`. Durations are
    /// not listed: every span has its own.
    pub fn tag_values(
        &self,
        tag: &TagRef,
        window: &TraceWindow,
        filter: Option<&Query>,
        limit: usize,
    ) -> TagValues {
        let limit = capped(limit);
        let mut values = TagValues::default();
        if matches!(
            tag,
            TagRef::Intrinsic(Intrinsic::Duration | Intrinsic::TraceDuration)
        ) {
            return values;
        }
        values.metrics = self.scan_tag_spans(window, filter, |summary, span| {
            if let Some(value) = typed_value(tag, summary, span) {
                values.values.insert(value);
            }
            values.values.len() >= limit
        });
        values
    }

    /// Calls `visit` for each selected span of the newest traces in `window`
    /// until it answers true or [`MAX_TAG_SCAN_SPANS`] were inspected.
    fn scan_tag_spans(
        &self,
        window: &TraceWindow,
        filter: Option<&Query>,
        mut visit: impl FnMut(&TraceSummary, &SpanRecord) -> bool,
    ) -> ScanMetrics {
        let mut inspected = 0usize;
        self.scan_newest_first(window, |summary, spans| {
            inspected += spans.len();
            let mut full = false;
            match filter {
                Some(query) => {
                    let mut selected: Vec<usize> = query
                        .evaluate(spans)
                        .into_iter()
                        .flat_map(|set| set.spans)
                        .filter(|&i| i < spans.len())
                        .collect();
                    selected.sort_unstable();
                    selected.dedup();
                    for i in selected {
                        full = full || visit(summary, &spans[i]);
                    }
                }
                None => {
                    for span in spans {
                        full = full || visit(summary, span);
                    }
                }
            }
            if full || inspected >= MAX_TAG_SCAN_SPANS {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
    }
}

/// 0 (absent) and anything over the cap mean the cap.
fn capped(limit: usize) -> usize {
    if limit == 0 {
        MAX_TAG_LIMIT
    } else {
        limit.min(MAX_TAG_LIMIT)
    }
}

fn extend_capped<'a>(
    set: &mut BTreeSet<String>,
    keys: impl Iterator<Item = &'a String>,
    limit: usize,
) {
    for key in keys {
        if set.len() >= limit {
            return;
        }
        if !set.contains(key) {
            set.insert(key.clone());
        }
    }
}

fn typed_value(tag: &TagRef, summary: &TraceSummary, span: &SpanRecord) -> Option<TypedValue> {
    let string = |value: &str| {
        (!value.is_empty() && value != ROOT_SPAN_NOT_YET_RECEIVED).then(|| TypedValue {
            kind: "string",
            value: value.to_string(),
        })
    };
    let keyword = |value: &str| {
        Some(TypedValue {
            kind: "keyword",
            value: value.to_string(),
        })
    };
    match tag {
        TagRef::Span(key) => span.attributes.get(key).and_then(typed_attribute),
        TagRef::Resource(key) => span.resource_attributes.get(key).and_then(typed_attribute),
        TagRef::Unscoped(key) => span
            .attributes
            .get(key)
            .or_else(|| span.resource_attributes.get(key))
            .and_then(typed_attribute),
        TagRef::Plain(key) => tag_value(span, key).and_then(|value| string(&value)),
        TagRef::Intrinsic(intrinsic) => match intrinsic {
            Intrinsic::Name => string(&span.name),
            Intrinsic::Status => keyword(status_name(span.status.code)),
            Intrinsic::StatusMessage => string(&span.status.message),
            Intrinsic::Kind => keyword(kind_label(span.kind)),
            Intrinsic::RootName => string(&summary.root_span_name),
            Intrinsic::RootServiceName => string(&summary.root_service_name),
            Intrinsic::Duration | Intrinsic::TraceDuration => None,
        },
    }
}

/// Tempo's types for attribute values; arrays, maps and bytes are not listed
/// (Tempo's v2 values do not list them either).
fn typed_attribute(value: &AttrValue) -> Option<TypedValue> {
    let kind = match value {
        AttrValue::String(_) => "string",
        AttrValue::Int(_) => "int",
        AttrValue::Double(_) => "float",
        AttrValue::Bool(_) => "bool",
        _ => return None,
    };
    Some(TypedValue {
        kind,
        value: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::batch;

    #[test]
    fn reads_traceql_identifiers() {
        assert_eq!(
            TagRef::parse_traceql("resource.service.name"),
            Some(TagRef::Resource("service.name".into()))
        );
        assert_eq!(
            TagRef::parse_traceql("span.http.route"),
            Some(TagRef::Span("http.route".into()))
        );
        assert_eq!(
            TagRef::parse_traceql(".foo"),
            Some(TagRef::Unscoped("foo".into()))
        );
        assert_eq!(
            TagRef::parse_traceql("trace:rootService"),
            Some(TagRef::Intrinsic(Intrinsic::RootServiceName))
        );
        for bad in ["", "span.", "service.name", "nope"] {
            assert_eq!(TagRef::parse_traceql(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lists_names_and_typed_values_within_the_caps() {
        let store = TraceStore::new(100);
        store.insert(vec![batch("a", &[(1, 1)]), batch("b", &[(2, 1)])]);
        let window = TraceWindow::default();
        let names = store.tag_names(&window, None, 0);
        assert_eq!(
            names.resource.into_iter().collect::<Vec<_>>(),
            ["service.name"]
        );
        assert_eq!(names.metrics.inspected_traces, 2);

        let services = store.tag_values(&TagRef::Resource("service.name".into()), &window, None, 0);
        let values: Vec<_> = services.values.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(values, ["a", "b"]);
        let one = store.tag_values(&TagRef::Resource("service.name".into()), &window, None, 1);
        assert_eq!(one.values.len(), 1);

        let status = store.tag_values(&TagRef::Intrinsic(Intrinsic::Status), &window, None, 0);
        assert_eq!(
            status.values.into_iter().collect::<Vec<_>>(),
            [TypedValue {
                kind: "keyword",
                value: "unset".into()
            }]
        );
        assert_eq!(capped(5_000), MAX_TAG_LIMIT);
    }
}
