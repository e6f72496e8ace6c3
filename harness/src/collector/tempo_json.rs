//! Rendering a trace the way Tempo renders it, so tools written against
//! Tempo can read ours.
//!
//! Tempo marshals traces with gogo/protobuf's `jsonpb` (grafana/tempo
//! `modules/frontend/combiner/common.go`), which follows the generic protobuf
//! JSON mapping, not the OTLP/JSON rules. The differences from OTLP/JSON, as
//! shown in Tempo's own docs ("Push spans with HTTP", Tempo 2.x):
//!
//! - `traceId`, `spanId`, `parentSpanId` are base64, not hex
//!   (`"traceId":"W47/95gDgQPSabYzgT/HAA=="`);
//! - enums are names, not numbers (`"kind":"SPAN_KIND_SERVER"`,
//!   `"code":"STATUS_CODE_ERROR"`);
//! - default values are left out (`"status":{}` for an unset status, no
//!   empty `parentSpanId` on a root span).
//!
//! We start from opentelemetry-proto's OTLP/JSON serialization and apply
//! exactly those rewrites to spans and their links.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, span, status};
use serde_json::{Map, Value};

use crate::model::hex_decode;

/// Tempo's v1 trace-by-id body: `{"batches":[ResourceSpans...]}`.
pub fn tempo_v1_trace(batches: &[ResourceSpans]) -> Result<Value, serde_json::Error> {
    Ok(serde_json::json!({ "batches": tempo_resource_spans(batches)? }))
}

/// Tempo's v2 trace-by-id body: `{"trace":{"resourceSpans":[...]}}`.
pub fn tempo_v2_trace(batches: &[ResourceSpans]) -> Result<Value, serde_json::Error> {
    Ok(serde_json::json!({ "trace": { "resourceSpans": tempo_resource_spans(batches)? } }))
}

fn tempo_resource_spans(batches: &[ResourceSpans]) -> Result<Vec<Value>, serde_json::Error> {
    batches
        .iter()
        .map(|batch| {
            let mut value = serde_json::to_value(batch)?;
            for span in spans_mut(&mut value) {
                rewrite_span(span);
            }
            Ok(value)
        })
        .collect()
}

/// Every span object inside one serialized `ResourceSpans`.
fn spans_mut(resource_spans: &mut Value) -> impl Iterator<Item = &mut Map<String, Value>> {
    array_mut(resource_spans, "scopeSpans")
        .flat_map(|scope_spans| array_mut(scope_spans, "spans"))
        .filter_map(Value::as_object_mut)
}

fn array_mut<'a>(value: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    value
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

fn rewrite_span(span: &mut Map<String, Value>) {
    rewrite_ids(span);
    if let Some(kind) = span.get_mut("kind") {
        let name = kind
            .as_i64()
            .and_then(|k| i32::try_from(k).ok())
            .and_then(|k| span::SpanKind::try_from(k).ok())
            .map(|k| k.as_str_name());
        if let Some(name) = name {
            *kind = Value::from(name);
        }
    }
    if let Some(status) = span.get_mut("status").and_then(Value::as_object_mut) {
        let code = status
            .get("code")
            .and_then(Value::as_i64)
            .and_then(|c| i32::try_from(c).ok());
        match code.map(status::StatusCode::try_from) {
            Some(Ok(status::StatusCode::Unset)) => {
                status.remove("code");
            }
            Some(Ok(known)) => {
                status.insert("code".into(), Value::from(known.as_str_name()));
            }
            _ => {}
        }
        if status.get("message").and_then(Value::as_str) == Some("") {
            status.remove("message");
        }
    }
    if let Some(links) = span.get_mut("links").and_then(Value::as_array_mut) {
        for link in links.iter_mut().filter_map(Value::as_object_mut) {
            rewrite_ids(link);
        }
    }
}

/// Hex id strings -> base64; empty ones (a root's parent) are dropped.
fn rewrite_ids(object: &mut Map<String, Value>) {
    for key in ["traceId", "spanId", "parentSpanId"] {
        let Some(hex) = object.get(key).and_then(Value::as_str) else {
            continue;
        };
        if hex.is_empty() {
            object.remove(key);
        } else if let Some(bytes) = hex_decode(hex) {
            object.insert(key.into(), Value::from(BASE64.encode(bytes)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span, Status};

    #[test]
    fn renders_ids_as_base64_and_enums_as_names_like_tempo() {
        // The trace from Tempo's "Push spans with HTTP" guide.
        let span = Span {
            trace_id: hex_decode("5b8efff798038103d269b633813fc700").unwrap(),
            span_id: hex_decode("eee19b7ec3c1b100").unwrap(),
            name: "I am a span!".into(),
            kind: span::SpanKind::Server as i32,
            status: Some(Status::default()),
            ..Default::default()
        };
        let batch = ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        };
        let json = tempo_v1_trace(&[batch]).unwrap();
        let span = &json["batches"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "W47/95gDgQPSabYzgT/HAA==");
        assert_eq!(span["spanId"], "7uGbfsPBsQA=");
        assert_eq!(span["kind"], "SPAN_KIND_SERVER");
        assert_eq!(span["status"], serde_json::json!({}));
        assert!(span.get("parentSpanId").is_none());
    }
}
