//! Helpers shared by the `trees_*` tests: the clean checkout trace, the
//! expectation files, and finding a span to plant a defect into.

// Each test file uses a different subset.
#![allow(dead_code)]

use std::path::PathBuf;

use tracemesh_harness::checks::expect::ExpectedTree;
use tracemesh_harness::model::{SpanKind, SpanRecord};
use tracemesh_harness::trace::synthetic::{CheckoutDelays, checkout};
use tracemesh_harness::trace::{TraceTree, TreeOptions};

pub const ORDER_RPC: &str = "tracemesh.order.v1.OrderService/PlaceOrder";
pub const RESERVE_RPC: &str = "tracemesh.inventory.v1.InventoryService/Reserve";

/// The spans of a clean, successful checkout.
pub fn clean_checkout(number: u128) -> Vec<SpanRecord> {
    checkout(number, CheckoutDelays::default()).into_spans()
}

pub fn trace_id(number: u128) -> String {
    format!("{number:032x}")
}

pub fn tree_of(number: u128, spans: Vec<SpanRecord>) -> TraceTree {
    TraceTree::build(&trace_id(number), spans, &TreeOptions::default())
}

/// Position of the one span with this service, name and kind.
pub fn find(spans: &[SpanRecord], service: &str, name: &str, kind: SpanKind) -> usize {
    let found: Vec<usize> = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.service_name == service && s.name == name && s.kind == kind)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(found.len(), 1, "exactly one {service} {name} {kind:?}");
    found[0]
}

pub fn expectations_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("expectations")
}

pub fn expectation(file: &str) -> ExpectedTree {
    ExpectedTree::load(&expectations_dir().join(file)).unwrap()
}

/// Asserts that some reason contains `needle`, showing all reasons if not.
pub fn assert_reason(reasons: &[String], needle: &str) {
    assert!(
        reasons.iter().any(|r| r.contains(needle)),
        "no reason contains {needle:?}; reasons:\n{}",
        reasons.join("\n")
    );
}

/// Spans back into OTLP, one resource per span (its service), so a test can
/// put synthetic traces into a real store through its real ingest path.
pub fn to_otlp(spans: &[SpanRecord]) -> Vec<opentelemetry_proto::tonic::trace::v1::ResourceSpans> {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
    use tracemesh_harness::model::{AttrValue, StatusCode, hex_decode};

    let value = |v: &AttrValue| {
        let value = match v {
            AttrValue::String(s) => Value::StringValue(s.clone()),
            AttrValue::Bool(b) => Value::BoolValue(*b),
            AttrValue::Int(i) => Value::IntValue(*i),
            AttrValue::Double(d) => Value::DoubleValue(*d),
            other => Value::StringValue(other.to_string()),
        };
        Some(AnyValue { value: Some(value) })
    };
    let key_value = |key: &str, v: &AttrValue| KeyValue {
        key: key.to_owned(),
        value: value(v),
        ..Default::default()
    };
    spans
        .iter()
        .map(|s| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![key_value(
                    "service.name",
                    &AttrValue::String(s.service_name.clone()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: hex_decode(&s.trace_id).unwrap(),
                    span_id: hex_decode(&s.span_id).unwrap(),
                    parent_span_id: s
                        .parent_span_id
                        .as_deref()
                        .map(|p| hex_decode(p).unwrap())
                        .unwrap_or_default(),
                    name: s.name.clone(),
                    kind: match s.kind {
                        SpanKind::Internal => 1,
                        SpanKind::Server => 2,
                        SpanKind::Client => 3,
                        SpanKind::Producer => 4,
                        SpanKind::Consumer => 5,
                        SpanKind::Unspecified => 0,
                    },
                    start_time_unix_nano: s.start_unix_nanos,
                    end_time_unix_nano: s.end_unix_nanos,
                    attributes: s.attributes.iter().map(|(k, v)| key_value(k, v)).collect(),
                    status: Some(Status {
                        code: match s.status.code {
                            StatusCode::Unset => 0,
                            StatusCode::Ok => 1,
                            StatusCode::Error => 2,
                        },
                        message: s.status.message.clone(),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect()
}
