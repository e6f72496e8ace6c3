//! The collector's limits on what one export may cost, and the counters that
//! show when they bit.
//!
//! Every limit either refuses the request with a clear status or truncates
//! a documented part of it; none lets a client make the collector allocate
//! without bound or recurse without bound:
//!
//! | input | limit | answer |
//! |---|---|---|
//! | body (HTTP) or message (gRPC) | `max_body_bytes`, default 4 MiB | HTTP 413 `{"error":..}`; gRPC OUT_OF_RANGE |
//! | gzip inflating past that | the same, counted on the inflated bytes | HTTP 413; gRPC RESOURCE_EXHAUSTED |
//! | nesting (protobuf) | prost's recursion limit, 100 messages (about 30 levels of `kvlistValue`, 47 of `arrayValue`) | HTTP 400; gRPC INVALID_ARGUMENT |
//! | nesting (OTLP/JSON) | serde_json's recursion limit, 128 JSON levels (about 30 `kvlistValue` levels) | HTTP 400 |
//! | nesting (conversion to `SpanRecord`) | [`MAX_ATTRIBUTE_DEPTH`](crate::model::MAX_ATTRIBUTE_DEPTH) | the deeper part becomes `"<nested too deep>"` |
//! | one string or bytes attribute value | `max_attribute_bytes`, default [`DEFAULT_MAX_ATTRIBUTE_BYTES`] | truncated, counted in `attributes_truncated` of `/api/stats` |
//! | invalid UTF-8 in a protobuf string | (prost validates) | HTTP 400; gRPC INVALID_ARGUMENT |
//! | spans in the store | `max_spans` | oldest traces evicted, counted |
//!
//! Memory: a decoded span costs about ten times its smallest wire form (a
//! 30-byte span becomes a ~300-byte struct plus two small allocations), and
//! the store holds a whole request before it evicts, so the body limit is
//! also what bounds one request's transient memory: measured (debug build,
//! `tests/ingest_limits.rs`) at about 40 MiB for a 4 MiB body of 139,809
//! minimal spans, and about 490 MiB for a million (30 MB) under a limit
//! raised to 32 MiB. Raise `max_body_bytes` with that in mind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use serde::Serialize;

/// Default cap on one string or bytes attribute value, in bytes. Like the
/// OTel SDKs' attribute value length limit, a longer value is cut, not
/// refused: the span is still worth keeping.
pub const DEFAULT_MAX_ATTRIBUTE_BYTES: usize = 64 * 1024;

/// Counters the collector keeps itself (the store keeps its own). Cheap to
/// clone: every clone counts into the same atomics.
#[derive(Debug, Clone, Default)]
pub struct IngestStats {
    attributes_truncated: Arc<AtomicU64>,
}

/// A snapshot of [`IngestStats`], as merged into `GET /api/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IngestCounters {
    /// String or bytes attribute values cut to `max_attribute_bytes`.
    pub attributes_truncated: u64,
}

impl IngestStats {
    pub fn snapshot(&self) -> IngestCounters {
        IngestCounters {
            attributes_truncated: self.attributes_truncated.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add_truncated(&self, count: u64) {
        if count > 0 {
            self.attributes_truncated
                .fetch_add(count, Ordering::Relaxed);
        }
    }
}

/// Cuts every string or bytes attribute value of the request longer than
/// `max_bytes` to `max_bytes` (a string at the last UTF-8 character boundary
/// at or below it), wherever it is: resource, scope, span, event and link
/// attributes, and values nested in arrays and kvlists. Returns how many
/// values were cut.
///
/// Walks with an explicit stack rather than recursion, so the depth of the
/// values costs heap, not stack (decoding already bounds the depth, but this
/// function should not depend on that).
pub fn truncate_attribute_values(request: &mut ExportTraceServiceRequest, max_bytes: usize) -> u64 {
    fn push_all<'a>(stack: &mut Vec<&'a mut AnyValue>, attributes: &'a mut [KeyValue]) {
        stack.extend(attributes.iter_mut().filter_map(|kv| kv.value.as_mut()));
    }
    let mut stack: Vec<&mut AnyValue> = Vec::new();
    for rs in &mut request.resource_spans {
        if let Some(resource) = rs.resource.as_mut() {
            push_all(&mut stack, &mut resource.attributes);
        }
        for ss in &mut rs.scope_spans {
            if let Some(scope) = ss.scope.as_mut() {
                push_all(&mut stack, &mut scope.attributes);
            }
            for span in &mut ss.spans {
                push_all(&mut stack, &mut span.attributes);
                for event in &mut span.events {
                    push_all(&mut stack, &mut event.attributes);
                }
                for link in &mut span.links {
                    push_all(&mut stack, &mut link.attributes);
                }
            }
        }
    }

    let mut truncated = 0u64;
    while let Some(value) = stack.pop() {
        match value.value.as_mut() {
            Some(any_value::Value::StringValue(s)) if s.len() > max_bytes => {
                let mut cut = max_bytes;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                truncated += 1;
            }
            Some(any_value::Value::BytesValue(b)) if b.len() > max_bytes => {
                b.truncate(max_bytes);
                truncated += 1;
            }
            Some(any_value::Value::ArrayValue(array)) => stack.extend(array.values.iter_mut()),
            Some(any_value::Value::KvlistValue(list)) => {
                stack.extend(list.values.iter_mut().filter_map(|kv| kv.value.as_mut()));
            }
            _ => {}
        }
    }
    truncated
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};

    fn string(value: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }
    }

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(value),
            ..Default::default()
        }
    }

    fn request_with(
        span_attributes: Vec<KeyValue>,
        resource: Vec<KeyValue>,
    ) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        attributes: span_attributes,
                        events: vec![span::Event {
                            attributes: vec![kv("event", string(&"e".repeat(20)))],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn string_of(value: &AnyValue) -> &str {
        match &value.value {
            Some(any_value::Value::StringValue(s)) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn cuts_long_values_everywhere_and_counts_them() {
        let nested = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![kv(
                    "inner",
                    AnyValue {
                        value: Some(any_value::Value::ArrayValue(ArrayValue {
                            values: vec![string(&"n".repeat(11)), string("short")],
                        })),
                    },
                )],
            })),
        };
        let bytes = AnyValue {
            value: Some(any_value::Value::BytesValue(vec![7; 30])),
        };
        let mut request = request_with(
            vec![
                kv("long", string(&"x".repeat(100))),
                kv("exact", string(&"y".repeat(10))),
                kv("nested", nested),
                kv("bytes", bytes),
            ],
            vec![kv("service.name", string(&"s".repeat(12)))],
        );
        // long, nested inner[0], bytes, the event's value, the resource's.
        assert_eq!(truncate_attribute_values(&mut request, 10), 5);

        let rs = &request.resource_spans[0];
        assert_eq!(
            string_of(
                rs.resource.as_ref().unwrap().attributes[0]
                    .value
                    .as_ref()
                    .unwrap()
            ),
            "s".repeat(10)
        );
        let span = &rs.scope_spans[0].spans[0];
        assert_eq!(
            string_of(span.attributes[0].value.as_ref().unwrap()),
            "x".repeat(10)
        );
        assert_eq!(
            string_of(span.attributes[1].value.as_ref().unwrap()),
            "y".repeat(10)
        );
        assert_eq!(
            span.events[0].attributes[0].value.as_ref().unwrap().value,
            string(&"e".repeat(10)).value
        );
        let Some(any_value::Value::KvlistValue(list)) =
            &span.attributes[2].value.as_ref().unwrap().value
        else {
            panic!("kvlist kept");
        };
        let Some(any_value::Value::ArrayValue(array)) =
            &list.values[0].value.as_ref().unwrap().value
        else {
            panic!("array kept");
        };
        assert_eq!(string_of(&array.values[0]), "n".repeat(10));
        assert_eq!(string_of(&array.values[1]), "short");
        assert_eq!(
            span.attributes[3].value.as_ref().unwrap().value,
            Some(any_value::Value::BytesValue(vec![7; 10]))
        );
    }

    #[test]
    fn never_splits_a_utf8_character() {
        // "é" is two bytes: a cut at 5 bytes would land inside the third one.
        let mut request = request_with(vec![kv("k", string("ééééé"))], vec![]);
        // The value, and the 20-byte event attribute `request_with` adds.
        assert_eq!(truncate_attribute_values(&mut request, 5), 2);
        let value = request.resource_spans[0].scope_spans[0].spans[0].attributes[0]
            .value
            .as_ref()
            .unwrap();
        assert_eq!(string_of(value), "éé");
    }

    #[test]
    fn a_request_under_the_limit_is_untouched() {
        let mut request = request_with(vec![kv("k", string("value"))], vec![]);
        let before = request.clone();
        assert_eq!(truncate_attribute_values(&mut request, 1024), 0);
        assert_eq!(request, before);
    }
}
