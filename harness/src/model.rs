//! The trace model the checks work with: one received span, flattened.
//!
//! OTLP nests spans three levels deep (resource -> scope -> span) and keeps ids
//! as raw bytes and attributes as a list of tagged unions. That shape is right
//! for the wire and wrong for assertions, so every accepted span is converted
//! once, here, into a [`SpanRecord`]: ids as lowercase hex, the service name
//! lifted out of the resource, attributes in a sorted map.
//!
//! Validation lives in the same place as conversion ("parse, don't validate"):
//! [`SpanRecord::from_otlp`] is the only way to build a record from the wire,
//! and it refuses spans whose ids the OTLP spec calls invalid.
//!
//! Attribute values may nest (arrays and kvlists of values). Conversion
//! recurses, so it is bounded: a value nested deeper than
//! [`MAX_ATTRIBUTE_DEPTH`] levels becomes the string [`NESTED_TOO_DEEP`]
//! instead of costing a stack frame per level, whatever decoded it.

use std::collections::BTreeMap;
use std::fmt;

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span, span, status};
use serde::Serialize;
use tracemesh_runtime::contract::attr;

/// The resource attribute that names the emitting service (OTel semantic conventions).
pub const SERVICE_NAME_KEY: &str = "service.name";

/// What the OTel SDKs report when no service name was configured; we use the
/// same placeholder so a missing name is visible in checks, not an empty string.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// How deep attribute values are converted: a top-level attribute's value is
/// level 1, a value inside it level 2, and so on. Decoding already stops far
/// earlier for protobuf (prost's limit of 100 nested messages is about 30
/// kvlist levels) and JSON (serde_json's 128), but `from_otlp` must not
/// depend on who built the `AnyValue`.
pub const MAX_ATTRIBUTE_DEPTH: usize = 32;

/// What a value nested deeper than [`MAX_ATTRIBUTE_DEPTH`] becomes.
pub const NESTED_TOO_DEEP: &str = "<nested too deep>";

/// One received span, flattened for checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanRecord {
    /// 32 lowercase hex characters.
    pub trace_id: String,
    /// 16 lowercase hex characters.
    pub span_id: String,
    /// `None` for a root span (the wire field was empty or all zero).
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: SpanKind,
    /// From the resource attribute `service.name`, or [`UNKNOWN_SERVICE`].
    pub service_name: String,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub status: SpanStatus,
    pub attributes: BTreeMap<String, AttrValue>,
    pub resource_attributes: BTreeMap<String, AttrValue>,
    pub events: Vec<SpanEvent>,
    /// The instrumentation scope (tracer) name; empty when the sender set none.
    pub scope_name: String,
}

/// Our own copy of the OTLP span kind, so checks do not depend on prost's `i32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

/// Span status code plus the developer-facing message (empty when none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpanStatus {
    pub code: StatusCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

/// A time-stamped annotation on a span (for example an `exception` event).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanEvent {
    pub name: String,
    pub time_unix_nanos: u64,
    pub attributes: BTreeMap<String, AttrValue>,
}

/// An attribute value. Mirrors OTLP's `AnyValue`, minus the protobuf plumbing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AttrValue {
    String(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Array(Vec<AttrValue>),
    Map(BTreeMap<String, AttrValue>),
    /// Raw bytes; serialized and displayed as lowercase hex.
    Bytes(#[serde(serialize_with = "serialize_hex")] Vec<u8>),
    /// OTLP allows a key with no value; we keep the key rather than drop it.
    Empty,
}

/// Why a span from the wire was refused. The OTLP spec (trace.proto) calls an
/// id of the wrong length or all zeroes invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSpan {
    #[error("invalid trace_id (must be 16 bytes and not all zero)")]
    TraceId,
    #[error("invalid span_id (must be 8 bytes and not all zero)")]
    SpanId,
}

impl SpanRecord {
    /// Converts one OTLP span, given the resource and scope it was sent under.
    pub fn from_otlp(
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> Result<SpanRecord, InvalidSpan> {
        check_ids(span)?;
        let resource_attributes = resource
            .map(|r| attributes_to_map(&r.attributes))
            .unwrap_or_default();
        let service_name = match resource_attributes.get(SERVICE_NAME_KEY) {
            Some(AttrValue::String(name)) => name.clone(),
            _ => UNKNOWN_SERVICE.to_string(),
        };
        let parent_span_id = if is_root(span) {
            None
        } else {
            Some(hex_encode(&span.parent_span_id))
        };
        Ok(SpanRecord {
            trace_id: hex_encode(&span.trace_id),
            span_id: hex_encode(&span.span_id),
            parent_span_id,
            name: span.name.clone(),
            kind: SpanKind::from_otlp(span.kind),
            service_name,
            start_unix_nanos: span.start_time_unix_nano,
            end_unix_nanos: span.end_time_unix_nano,
            status: SpanStatus::from_otlp(span.status.as_ref()),
            attributes: attributes_to_map(&span.attributes),
            resource_attributes,
            events: span.events.iter().map(SpanEvent::from_otlp).collect(),
            scope_name: scope.map(|s| s.name.clone()).unwrap_or_default(),
        })
    }

    /// Converts every span of one `ResourceSpans`, keeping the per-span verdict.
    pub fn all_from_resource_spans(rs: &ResourceSpans) -> Vec<Result<SpanRecord, InvalidSpan>> {
        rs.scope_spans
            .iter()
            .flat_map(|ss| {
                ss.spans.iter().map(|span| {
                    SpanRecord::from_otlp(rs.resource.as_ref(), ss.scope.as_ref(), span)
                })
            })
            .collect()
    }

    /// A string-valued span attribute.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        match self.attributes.get(key) {
            Some(AttrValue::String(s)) => Some(s),
            _ => None,
        }
    }

    /// An integer-valued span attribute.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        match self.attributes.get(key) {
            Some(AttrValue::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// The kind of fault injected into this span (`fault.kind`:
    /// [`attr::FAULT_KIND_ERROR`] or [`attr::FAULT_KIND_LATENCY`]) when the
    /// span carries the `fault.injected` marker, else `None`. The one reader
    /// of the marker the runtime's faults write.
    pub fn injected_fault(&self) -> Option<&str> {
        let marked = self
            .attributes
            .get(attr::FAULT_INJECTED)
            .is_some_and(|v| matches!(v, AttrValue::Bool(true)) || v.to_string() == "true");
        if !marked {
            return None;
        }
        Some(self.attr_str(attr::FAULT_KIND).unwrap_or("unknown"))
    }

    /// A string-valued resource attribute.
    pub fn resource_attr_str(&self, key: &str) -> Option<&str> {
        match self.resource_attributes.get(key) {
            Some(AttrValue::String(s)) => Some(s),
            _ => None,
        }
    }

    /// End minus start; zero (not a panic, not a wrap-around) if a sender
    /// reported an end before the start.
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nanos.saturating_sub(self.start_unix_nanos)
    }

    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_none()
    }
}

impl SpanKind {
    /// Unknown numbers (from a newer or broken sender) map to `Unspecified`
    /// rather than failing the whole span.
    pub fn from_otlp(kind: i32) -> SpanKind {
        match span::SpanKind::try_from(kind) {
            Ok(span::SpanKind::Internal) => SpanKind::Internal,
            Ok(span::SpanKind::Server) => SpanKind::Server,
            Ok(span::SpanKind::Client) => SpanKind::Client,
            Ok(span::SpanKind::Producer) => SpanKind::Producer,
            Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
            Ok(span::SpanKind::Unspecified) | Err(_) => SpanKind::Unspecified,
        }
    }
}

impl SpanStatus {
    fn from_otlp(status: Option<&opentelemetry_proto::tonic::trace::v1::Status>) -> SpanStatus {
        let Some(status) = status else {
            return SpanStatus {
                code: StatusCode::Unset,
                message: String::new(),
            };
        };
        let code = match status::StatusCode::try_from(status.code) {
            Ok(status::StatusCode::Ok) => StatusCode::Ok,
            Ok(status::StatusCode::Error) => StatusCode::Error,
            Ok(status::StatusCode::Unset) | Err(_) => StatusCode::Unset,
        };
        SpanStatus {
            code,
            message: status.message.clone(),
        }
    }
}

impl SpanEvent {
    fn from_otlp(event: &span::Event) -> SpanEvent {
        SpanEvent {
            name: event.name.clone(),
            time_unix_nanos: event.time_unix_nano,
            attributes: attributes_to_map(&event.attributes),
        }
    }
}

impl AttrValue {
    /// Converts a top-level attribute value; parts nested deeper than
    /// [`MAX_ATTRIBUTE_DEPTH`] become [`NESTED_TOO_DEEP`].
    pub fn from_otlp(value: Option<&AnyValue>) -> AttrValue {
        AttrValue::from_otlp_at(value, 1)
    }

    /// `depth` is the level of `value` (1 for a top-level attribute's value);
    /// recursion stops at [`MAX_ATTRIBUTE_DEPTH`].
    fn from_otlp_at(value: Option<&AnyValue>, depth: usize) -> AttrValue {
        use any_value::Value;
        if depth > MAX_ATTRIBUTE_DEPTH {
            return AttrValue::String(NESTED_TOO_DEEP.to_owned());
        }
        match value.and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => AttrValue::String(s.clone()),
            Some(Value::BoolValue(b)) => AttrValue::Bool(*b),
            Some(Value::IntValue(i)) => AttrValue::Int(*i),
            Some(Value::DoubleValue(d)) => AttrValue::Double(*d),
            Some(Value::ArrayValue(array)) => AttrValue::Array(
                array
                    .values
                    .iter()
                    .map(|v| AttrValue::from_otlp_at(Some(v), depth + 1))
                    .collect(),
            ),
            Some(Value::KvlistValue(list)) => {
                AttrValue::Map(attributes_at_depth(&list.values, depth + 1))
            }
            Some(Value::BytesValue(bytes)) => AttrValue::Bytes(bytes.clone()),
            // A string-table index is only meaningful in the profiling signal;
            // the spec says other signals treat it as absent.
            Some(Value::StringValueStrindex(_)) | None => AttrValue::Empty,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for AttrValue {
    /// A plain rendering for reports and tag matching: strings without quotes,
    /// arrays as `[a, b]`, maps as `{k: v}`, bytes as hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::String(s) => f.write_str(s),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Double(d) => write!(f, "{d}"),
            AttrValue::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            AttrValue::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            AttrValue::Bytes(bytes) => f.write_str(&hex_encode(bytes)),
            AttrValue::Empty => Ok(()),
        }
    }
}

/// OTLP attribute list -> sorted map. With duplicate keys (forbidden by the
/// spec, but possible on the wire) the last one wins, as in most collectors.
/// Nested values are bounded by [`MAX_ATTRIBUTE_DEPTH`].
pub fn attributes_to_map(attributes: &[KeyValue]) -> BTreeMap<String, AttrValue> {
    attributes_at_depth(attributes, 1)
}

/// The attributes of a kvlist whose values are at level `depth`.
fn attributes_at_depth(attributes: &[KeyValue], depth: usize) -> BTreeMap<String, AttrValue> {
    attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                AttrValue::from_otlp_at(kv.value.as_ref(), depth),
            )
        })
        .collect()
}

/// Refuses a span whose trace or span id the OTLP spec calls invalid.
pub fn check_ids(span: &Span) -> Result<(), InvalidSpan> {
    if !is_valid_id(&span.trace_id, 16) {
        return Err(InvalidSpan::TraceId);
    }
    if !is_valid_id(&span.span_id, 8) {
        return Err(InvalidSpan::SpanId);
    }
    Ok(())
}

/// Whether a wire span has no parent. Some SDKs send eight zero bytes instead
/// of an empty field for a root span; both mean "no parent".
pub fn is_root(span: &Span) -> bool {
    span.parent_span_id.iter().all(|b| *b == 0)
}

/// True when `id` has exactly `len` bytes and at least one is non-zero.
pub fn is_valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}

/// Lowercase hex, the form trace ids take in logs, traceparent headers and
/// URLs: the services' encoder (a table, not `core::fmt`, which showed in
/// the collector's profile at 10,000 spans/s), so an id is written one way.
pub use tracemesh_runtime::w3c::lower_hex as hex_encode;

/// Decodes hex (either case) into bytes; `None` on odd length or a non-hex digit.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            Some((high * 16 + low) as u8)
        })
        .collect()
}

/// Normalises a trace id typed by a person or sent by a tool into our key form
/// (32 lowercase hex characters). Like Tempo, shorter ids are left-padded with
/// zeros, so a 64-bit Jaeger/Zipkin id finds its trace. `None` if malformed.
pub fn normalize_trace_id(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.len() > 32 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(format!("{:0>32}", text.to_ascii_lowercase()))
}

fn serialize_hex<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex_encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::ArrayValue;
    use opentelemetry_proto::tonic::trace::v1::Status;

    fn string_kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn span_with_ids(trace_id: Vec<u8>, span_id: Vec<u8>) -> Span {
        Span {
            trace_id,
            span_id,
            name: "op".into(),
            ..Default::default()
        }
    }

    #[test]
    fn converts_ids_kind_status_and_service_name() {
        let resource = Resource {
            attributes: vec![string_kv("service.name", "order")],
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: "tracemesh".into(),
            ..Default::default()
        };
        let span = Span {
            trace_id: vec![0xAB; 16],
            span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
            parent_span_id: vec![9; 8],
            name: "GET /orders".into(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: 100,
            end_time_unix_nano: 350,
            attributes: vec![
                string_kv("http.route", "/orders"),
                KeyValue {
                    key: "http.response.status_code".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(200)),
                    }),
                    ..Default::default()
                },
            ],
            status: Some(Status {
                message: "boom".into(),
                code: status::StatusCode::Error as i32,
            }),
            ..Default::default()
        };
        let record = SpanRecord::from_otlp(Some(&resource), Some(&scope), &span).unwrap();
        assert_eq!(record.trace_id, "ab".repeat(16));
        assert_eq!(record.span_id, "0102030405060708");
        assert_eq!(record.parent_span_id.as_deref(), Some("0909090909090909"));
        assert_eq!(record.kind, SpanKind::Server);
        assert_eq!(record.service_name, "order");
        assert_eq!(record.scope_name, "tracemesh");
        assert_eq!(
            record.status,
            SpanStatus {
                code: StatusCode::Error,
                message: "boom".into()
            }
        );
        assert_eq!(record.attr_str("http.route"), Some("/orders"));
        assert_eq!(record.attr_i64("http.response.status_code"), Some(200));
        assert_eq!(record.resource_attr_str("service.name"), Some("order"));
        assert_eq!(record.duration_nanos(), 250);
    }

    #[test]
    fn missing_service_name_becomes_unknown_service_and_zero_parent_is_root() {
        let mut span = span_with_ids(vec![1; 16], vec![1; 8]);
        span.parent_span_id = vec![0; 8];
        let record = SpanRecord::from_otlp(None, None, &span).unwrap();
        assert_eq!(record.service_name, UNKNOWN_SERVICE);
        assert!(record.is_root());
        assert_eq!(record.scope_name, "");
    }

    #[test]
    fn rejects_wrong_length_or_all_zero_ids() {
        let cases = [
            (vec![0; 16], vec![1; 8], InvalidSpan::TraceId),
            (vec![1; 15], vec![1; 8], InvalidSpan::TraceId),
            (vec![], vec![1; 8], InvalidSpan::TraceId),
            (vec![1; 16], vec![0; 8], InvalidSpan::SpanId),
            (vec![1; 16], vec![1; 9], InvalidSpan::SpanId),
        ];
        for (trace_id, span_id, expected) in cases {
            let span = span_with_ids(trace_id, span_id);
            assert_eq!(SpanRecord::from_otlp(None, None, &span), Err(expected));
        }
    }

    #[test]
    fn end_before_start_gives_zero_duration_not_a_panic() {
        let mut span = span_with_ids(vec![1; 16], vec![1; 8]);
        span.start_time_unix_nano = 10;
        span.end_time_unix_nano = 5;
        assert_eq!(
            SpanRecord::from_otlp(None, None, &span)
                .unwrap()
                .duration_nanos(),
            0
        );
    }

    #[test]
    fn renders_arrays_and_bytes_readably() {
        let array = AttrValue::from_otlp(Some(&AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(any_value::Value::StringValue("a".into())),
                    },
                    AnyValue {
                        value: Some(any_value::Value::IntValue(2)),
                    },
                ],
            })),
        }));
        assert_eq!(array.to_string(), "[a, 2]");
        assert_eq!(AttrValue::Bytes(vec![0xde, 0xad]).to_string(), "dead");
        assert_eq!(
            serde_json::to_string(&AttrValue::Bytes(vec![0xde, 0xad])).unwrap(),
            "\"dead\""
        );
        assert_eq!(AttrValue::from_otlp(None), AttrValue::Empty);
    }

    /// `levels` arrays, each the only element of the one above, around "leaf".
    fn nested_arrays(levels: usize) -> AnyValue {
        let mut value = AnyValue {
            value: Some(any_value::Value::StringValue("leaf".into())),
        };
        for _ in 0..levels {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        value
    }

    /// Follows single-element arrays down; returns how many were passed and
    /// what was found below them.
    fn descend(mut value: &AttrValue) -> (usize, &AttrValue) {
        let mut levels = 0;
        while let AttrValue::Array(items) = value {
            value = &items[0];
            levels += 1;
        }
        (levels, value)
    }

    #[test]
    fn values_nested_past_the_limit_become_a_marker_and_shallower_ones_are_kept() {
        // 31 arrays + the leaf = 32 levels: all kept.
        let kept = AttrValue::from_otlp(Some(&nested_arrays(MAX_ATTRIBUTE_DEPTH - 1)));
        assert_eq!(
            descend(&kept),
            (MAX_ATTRIBUTE_DEPTH - 1, &AttrValue::String("leaf".into()))
        );
        // 10,000 levels: built without recursion, converted without
        // overflowing the stack; level 33 is the marker.
        let deep = nested_arrays(10_000);
        let cut = AttrValue::from_otlp(Some(&deep));
        assert_eq!(
            descend(&cut),
            (
                MAX_ATTRIBUTE_DEPTH,
                &AttrValue::String(NESTED_TOO_DEEP.into())
            )
        );
        // The generated Drop would recurse 10,000 levels: take it apart in a loop.
        let mut value = deep;
        while let Some(any_value::Value::ArrayValue(mut array)) = value.value.take() {
            match array.values.pop() {
                Some(inner) => value = inner,
                None => break,
            }
        }
    }

    #[test]
    fn normalizes_trace_ids_like_tempo() {
        assert_eq!(
            normalize_trace_id("ABCDEF"),
            Some(format!("{}abcdef", "0".repeat(26)))
        );
        assert_eq!(normalize_trace_id(&"a".repeat(32)), Some("a".repeat(32)));
        assert_eq!(normalize_trace_id(&"a".repeat(33)), None);
        assert_eq!(normalize_trace_id("xyz"), None);
        assert_eq!(normalize_trace_id(""), None);
        assert_eq!(hex_decode("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(hex_decode("0"), None);
        assert_eq!(hex_decode("zz"), None);
    }
}
