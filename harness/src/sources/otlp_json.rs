//! OTLP JSON, as trace backends serve it, to [`SpanRecord`]s.
//!
//! Backends serve the same OTLP structure in different encodings:
//!
//! | Field            | OTLP/JSON (Jaeger api_v3) | Tempo (gogo jsonpb)       |
//! |------------------|---------------------------|---------------------------|
//! | `traceId` etc.   | hex                       | base64                    |
//! | `kind`           | `2`                       | `"SPAN_KIND_SERVER"`      |
//! | `status.code`    | `2`                       | `"STATUS_CODE_ERROR"`     |
//! | 64-bit integers  | string (numbers accepted) | string                    |
//!
//! and Tempo before OTLP 0.15 said `instrumentationLibrarySpans` /
//! `instrumentationLibrary` where newer OTLP says `scopeSpans` / `scope`.
//!
//! Rather than write a second span parser, we rewrite each of those
//! encodings into the one opentelemetry-proto's serde understands (hex ids,
//! numeric enums) and deserialize into its `ResourceSpans`. Then
//! [`SpanRecord::from_otlp`] — the same conversion the collector applies on
//! ingest — makes the records, so a span read back from Tempo compares equal
//! to the one the store kept. This is the inverse of
//! `collector/tempo_json.rs`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, span, status};
use serde_json::{Map, Value};

use crate::model::{SpanRecord, hex_encode};

/// Converts a JSON array of `ResourceSpans` (the value of `resourceSpans` or
/// Tempo's `batches`), in any of the encodings above, to records. `null`
/// counts as an empty list. The error says where in the document it failed.
pub fn records_from_resource_spans(resource_spans: &Value) -> Result<Vec<SpanRecord>, String> {
    let mut normalized = match resource_spans {
        Value::Null => return Ok(Vec::new()),
        Value::Array(_) => resource_spans.clone(),
        other => {
            return Err(format!(
                "expected an array of resource spans, found {}",
                kind_of(other)
            ));
        }
    };
    for (i, batch) in normalized.as_array_mut().into_iter().flatten().enumerate() {
        normalize_resource_spans(batch).map_err(|e| format!("[{i}].{e}"))?;
    }
    let batches: Vec<ResourceSpans> = serde_path_to_error::deserialize(normalized)
        .map_err(|e| format!("{}: {}", e.path(), e.inner()))?;

    let mut records = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        for result in SpanRecord::all_from_resource_spans(batch) {
            records.push(result.map_err(|invalid| format!("[{i}]: a span has an {invalid}"))?);
        }
    }
    Ok(records)
}

/// Rewrites one `ResourceSpans` object in place into OTLP/JSON's encoding.
/// Errors are paths relative to the object (`scopeSpans[0].spans[2].kind: ..`).
fn normalize_resource_spans(batch: &mut Value) -> Result<(), String> {
    let Some(batch) = batch.as_object_mut() else {
        return Err(format!("expected an object, found {}", kind_of(batch)));
    };
    rename(batch, "instrumentationLibrarySpans", "scopeSpans");
    let scope_spans = batch.get_mut("scopeSpans").and_then(Value::as_array_mut);
    for (s, scope_spans) in scope_spans.into_iter().flatten().enumerate() {
        let Some(scope_spans) = scope_spans.as_object_mut() else {
            continue; // serde reports the wrong type with its path
        };
        rename(scope_spans, "instrumentationLibrary", "scope");
        let spans = scope_spans.get_mut("spans").and_then(Value::as_array_mut);
        for (i, span) in spans.into_iter().flatten().enumerate() {
            if let Some(span) = span.as_object_mut() {
                normalize_span(span).map_err(|e| format!("scopeSpans[{s}].spans[{i}].{e}"))?;
            }
        }
    }
    Ok(())
}

fn normalize_span(span: &mut Map<String, Value>) -> Result<(), String> {
    normalize_ids(span)?;
    if let Some(kind) = span.get_mut("kind") {
        normalize_enum(kind, |name| {
            span::SpanKind::from_str_name(name).map(|k| k as i32)
        })
        .map_err(|e| format!("kind: {e}"))?;
    }
    if let Some(code) = span.get_mut("status").and_then(|s| s.get_mut("code")) {
        normalize_enum(code, |name| {
            status::StatusCode::from_str_name(name).map(|c| c as i32)
        })
        .map_err(|e| format!("status.code: {e}"))?;
    }
    let links = span.get_mut("links").and_then(Value::as_array_mut);
    for (i, link) in links.into_iter().flatten().enumerate() {
        if let Some(link) = link.as_object_mut() {
            normalize_ids(link).map_err(|e| format!("links[{i}].{e}"))?;
        }
    }
    Ok(())
}

/// Ids to lowercase hex, whichever encoding they came in.
fn normalize_ids(object: &mut Map<String, Value>) -> Result<(), String> {
    for (key, len) in [("traceId", 16), ("spanId", 8), ("parentSpanId", 8)] {
        let Some(Value::String(text)) = object.get(key) else {
            continue;
        };
        let hex = id_to_hex(text, len).map_err(|e| format!("{key}: {e}"))?;
        object.insert(key.to_string(), Value::String(hex));
    }
    Ok(())
}

/// An id of `len` bytes is `2 * len` hex digits in OTLP/JSON and base64 in
/// Tempo. The two lengths differ (32 vs 24 characters for a trace id, 16 vs
/// 12 for a span id), so the length tells which one we hold. Empty stays
/// empty: it is how a root span says "no parent".
fn id_to_hex(text: &str, len: usize) -> Result<String, String> {
    if text.is_empty() {
        return Ok(String::new());
    }
    if text.len() == 2 * len && text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(text.to_ascii_lowercase());
    }
    match BASE64.decode(text) {
        Ok(bytes) if bytes.len() == len => Ok(hex_encode(&bytes)),
        _ => Err(format!(
            "{text:?} is neither {} hex digits nor the base64 of {len} bytes",
            2 * len
        )),
    }
}

/// An enum given by name (`"SPAN_KIND_SERVER"`) becomes its number; numbers
/// stay as they are.
fn normalize_enum(value: &mut Value, by_name: impl Fn(&str) -> Option<i32>) -> Result<(), String> {
    if let Value::String(name) = value {
        let number = by_name(name).ok_or_else(|| format!("unknown enum name {name:?}"))?;
        *value = Value::from(number);
    }
    Ok(())
}

fn rename(object: &mut Map<String, Value>, old: &str, new: &str) {
    if !object.contains_key(new)
        && let Some(value) = object.remove(old)
    {
        object.insert(new.to_string(), value);
    }
}

/// A word for a JSON value's type, for error messages.
pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SpanKind, StatusCode};
    use serde_json::json;

    #[test]
    fn reads_tempo_encoding_and_otlp_encoding_alike() {
        let tempo = json!([{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "order"}}]},
            "instrumentationLibrarySpans": [{
                "instrumentationLibrary": {"name": "lib"},
                "spans": [{
                    "traceId": "W47/95gDgQPSabYzgT/HAA==", "spanId": "7uGbfsPBsQA=",
                    "parentSpanId": "AQEBAQEBAQE=",
                    "name": "op", "kind": "SPAN_KIND_CLIENT",
                    "startTimeUnixNano": "5", "endTimeUnixNano": 9,
                    "status": {"code": "STATUS_CODE_ERROR"},
                    "attributes": [{"key": "n", "value": {"intValue": "7"}}]
                }]
            }]
        }]);
        let otlp = json!([{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "order"}}]},
            "scopeSpans": [{
                "scope": {"name": "lib"},
                "spans": [{
                    "traceId": "5B8EFFF798038103D269B633813FC700", "spanId": "eee19b7ec3c1b100",
                    "parentSpanId": "0101010101010101",
                    "name": "op", "kind": 3,
                    "startTimeUnixNano": 5, "endTimeUnixNano": "9",
                    "status": {"code": 2},
                    "attributes": [{"key": "n", "value": {"intValue": 7}}]
                }]
            }]
        }]);
        let from_tempo = records_from_resource_spans(&tempo).unwrap();
        let from_otlp = records_from_resource_spans(&otlp).unwrap();
        assert_eq!(from_tempo, from_otlp);
        let span = &from_tempo[0];
        assert_eq!(span.trace_id, "5b8efff798038103d269b633813fc700");
        assert_eq!(span.span_id, "eee19b7ec3c1b100");
        assert_eq!(span.parent_span_id.as_deref(), Some("0101010101010101"));
        assert_eq!(span.kind, SpanKind::Client);
        assert_eq!(span.status.code, StatusCode::Error);
        assert_eq!(span.service_name, "order");
        assert_eq!(span.scope_name, "lib");
        assert_eq!((span.start_unix_nanos, span.end_unix_nanos), (5, 9));
        assert_eq!(span.attr_i64("n"), Some(7));
    }

    #[test]
    fn errors_say_where_the_document_went_wrong() {
        let bad_id = json!([{"scopeSpans": [{"spans": [{"traceId": "nope", "spanId": "eee19b7ec3c1b100"}]}]}]);
        let error = records_from_resource_spans(&bad_id).unwrap_err();
        assert!(
            error.starts_with("[0].scopeSpans[0].spans[0].traceId:"),
            "{error}"
        );

        let bad_kind = json!([{"scopeSpans": [{"spans": [{"kind": "SPAN_KIND_SIDEWAYS"}]}]}]);
        let error = records_from_resource_spans(&bad_kind).unwrap_err();
        assert!(error.contains("kind: unknown enum name"), "{error}");

        let bad_time = json!([{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]);
        let error = records_from_resource_spans(&bad_time).unwrap_err();
        assert!(error.contains("startTimeUnixNano"), "{error}");

        let zero_id = json!([{"scopeSpans": [{"spans": [{"traceId": "0".repeat(32), "spanId": "eee19b7ec3c1b100"}]}]}]);
        let error = records_from_resource_spans(&zero_id).unwrap_err();
        assert!(error.contains("invalid trace_id"), "{error}");

        assert!(
            records_from_resource_spans(&json!("x"))
                .unwrap_err()
                .contains("a string")
        );
        assert_eq!(records_from_resource_spans(&Value::Null), Ok(vec![]));
    }
}
