//! OTLP export requests shaped like what the mesh sends: one `ResourceSpans`
//! per service (its resource attributes), one scope, and per checkout the
//! 16 spans of a successful checkout with the attributes the services set.
//! The criterion benches decode and insert them; `tracemesh bench` sends them
//! to a collector.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode,
};
use prost::Message;

/// Spans in one checkout trace.
pub const SPANS_PER_CHECKOUT: usize = 16;

const SERVICES: [&str; 5] = ["gateway", "user", "order", "inventory", "payment"];

/// (service index, parent index, name, kind, attributes) of each span of a
/// successful checkout, in the order of `harness::trace::synthetic::checkout`.
const CHECKOUT: [(usize, Option<usize>, &str, SpanKind, Shape); SPANS_PER_CHECKOUT] = [
    (
        0,
        None,
        "POST /api/checkout",
        SpanKind::Server,
        Shape::HttpServer,
    ),
    (
        0,
        Some(0),
        "tracemesh.user.v1.UserService/ValidateUser",
        SpanKind::Client,
        Shape::Grpc,
    ),
    (
        1,
        Some(1),
        "tracemesh.user.v1.UserService/ValidateUser",
        SpanKind::Server,
        Shape::Grpc,
    ),
    (1, Some(2), "SELECT users", SpanKind::Client, Shape::Db),
    (
        0,
        Some(0),
        "tracemesh.order.v1.OrderService/PlaceOrder",
        SpanKind::Client,
        Shape::Grpc,
    ),
    (
        2,
        Some(4),
        "tracemesh.order.v1.OrderService/PlaceOrder",
        SpanKind::Server,
        Shape::Grpc,
    ),
    (2, Some(5), "SELECT orders", SpanKind::Client, Shape::Db),
    (
        2,
        Some(5),
        "tracemesh.inventory.v1.InventoryService/Reserve",
        SpanKind::Client,
        Shape::Grpc,
    ),
    (
        3,
        Some(7),
        "tracemesh.inventory.v1.InventoryService/Reserve",
        SpanKind::Server,
        Shape::Grpc,
    ),
    (
        3,
        Some(8),
        "warehouse.lock.wait",
        SpanKind::Internal,
        Shape::Internal,
    ),
    (
        3,
        Some(8),
        "warehouse.check",
        SpanKind::Internal,
        Shape::Internal,
    ),
    (3, Some(8), "BATCH stock", SpanKind::Client, Shape::Db),
    (2, Some(5), "POST", SpanKind::Client, Shape::HttpClient),
    (
        4,
        Some(12),
        "POST /v1/charges",
        SpanKind::Server,
        Shape::HttpServer,
    ),
    (
        4,
        Some(13),
        "provider.authorize",
        SpanKind::Internal,
        Shape::Internal,
    ),
    (2, Some(5), "INSERT orders", SpanKind::Client, Shape::Db),
];

#[derive(Clone, Copy)]
enum Shape {
    HttpServer,
    HttpClient,
    Grpc,
    Db,
    Internal,
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(text: &str) -> Value {
    Value::StringValue(text.to_owned())
}

fn attributes(shape: Shape, name: &str) -> Vec<KeyValue> {
    match shape {
        Shape::HttpServer => vec![
            kv("http.request.method", s("POST")),
            kv("http.route", s(name.trim_start_matches("POST "))),
            kv("url.path", s(name.trim_start_matches("POST "))),
            kv("http.response.status_code", Value::IntValue(201)),
            kv("server.address", s("127.0.0.1")),
        ],
        Shape::HttpClient => vec![
            kv("http.request.method", s("POST")),
            kv("url.full", s("http://127.0.0.1:8084/v1/charges")),
            kv("http.response.status_code", Value::IntValue(201)),
            kv("server.address", s("127.0.0.1")),
            kv("server.port", Value::IntValue(8084)),
        ],
        Shape::Grpc => {
            let (service, method) = name.split_once('/').unwrap_or((name, ""));
            vec![
                kv("rpc.system", s("grpc")),
                kv("rpc.service", s(service)),
                kv("rpc.method", s(method)),
                kv("rpc.grpc.status_code", Value::IntValue(0)),
            ]
        }
        Shape::Db => vec![
            kv("db.system.name", s("sqlite")),
            kv(
                "db.operation.name",
                s(name.split(' ').next().unwrap_or(name)),
            ),
            kv(
                "db.query.text",
                s("UPDATE stock SET available = available - ?1 WHERE sku = ?2"),
            ),
        ],
        Shape::Internal => vec![kv("code.function.name", s(name))],
    }
}

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", s(service)),
            kv("service.namespace", s("tracemesh")),
            kv("service.version", s("0.1.0")),
            kv(
                "service.instance.id",
                s("5f2c8a1e-0d3b-4c7a-9e61-2b8f4d7c0a93"),
            ),
            kv("telemetry.sdk.language", s("rust")),
            kv("telemetry.sdk.name", s("opentelemetry")),
            kv("telemetry.sdk.version", s("0.33.1")),
        ],
        ..Default::default()
    }
}

/// Trace id `n` (never zero) as 16 bytes.
fn trace_id(n: u64) -> Vec<u8> {
    let mut id = vec![0u8; 16];
    id[0] = 0x4b;
    id[8..].copy_from_slice(&(n + 1).to_be_bytes());
    id
}

fn span_id(trace: u64, index: usize) -> Vec<u8> {
    let mut id = (((trace + 1) << 8) | (index as u64 + 1))
        .to_be_bytes()
        .to_vec();
    id[0] |= 0x80; // never all zero
    id
}

/// The spans a declined payment marks as errors: the provider call, the
/// payment server and order's client span to it, PlaceOrder on both sides,
/// and the gateway's root.
const FAILED_BY_DECLINE: [usize; 6] = [0, 4, 5, 12, 13, 14];

/// An export request holding `checkouts` whole checkout traces, numbered
/// from `first_trace`: `checkouts * 16` spans.
pub fn checkout_request(first_trace: u64, checkouts: usize) -> ExportTraceServiceRequest {
    checkout_request_failing(first_trace, checkouts, None)
}

/// [`checkout_request`] where every trace whose number is a multiple of
/// `failing_every` is a declined payment (error status on
/// [`FAILED_BY_DECLINE`]), for searches that look for errors.
pub fn checkout_request_failing(
    first_trace: u64,
    checkouts: usize,
    failing_every: Option<u64>,
) -> ExportTraceServiceRequest {
    let start = 1_700_000_000_000_000_000u64;
    let mut per_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
    for t in first_trace..first_trace + checkouts as u64 {
        let failed = failing_every.is_some_and(|every| t % every.max(1) == 0);
        for (index, (service, parent, name, kind, shape)) in CHECKOUT.iter().enumerate() {
            let begin = start + t * 1_000_000 + index as u64 * 100_000;
            per_service[*service].push(Span {
                trace_id: trace_id(t),
                span_id: span_id(t, index),
                parent_span_id: parent.map(|p| span_id(t, p)).unwrap_or_default(),
                name: (*name).to_owned(),
                kind: *kind as i32,
                start_time_unix_nano: begin,
                end_time_unix_nano: begin + 5_000_000 - index as u64 * 200_000,
                attributes: attributes(*shape, name),
                flags: 0x301,
                status: (failed && FAILED_BY_DECLINE.contains(&index)).then(|| Status {
                    code: StatusCode::Error as i32,
                    message: "payment declined".to_owned(),
                }),
                ..Default::default()
            });
        }
    }
    let resource_spans = SERVICES
        .iter()
        .zip(per_service)
        .map(|(service, spans)| ResourceSpans {
            resource: Some(resource(service)),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: (*service).to_owned(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// [`checkout_request`] encoded as protobuf: the body of one OTLP export.
pub fn encoded_checkout_request(first_trace: u64, checkouts: usize) -> bytes::Bytes {
    bytes::Bytes::from(checkout_request(first_trace, checkouts).encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declined_checkout_marks_its_payment_path_as_errors() {
        let request = checkout_request_failing(0, 3, Some(2));
        let errors_of = |trace: u64| {
            request
                .resource_spans
                .iter()
                .flat_map(|rs| rs.scope_spans.iter().flat_map(|ss| ss.spans.iter()))
                .filter(|s| s.trace_id == trace_id(trace))
                .filter(|s| s.status.as_ref().is_some_and(|st| st.code == 2))
                .count()
        };
        assert_eq!(errors_of(0), FAILED_BY_DECLINE.len());
        assert_eq!(errors_of(1), 0);
        assert_eq!(errors_of(2), FAILED_BY_DECLINE.len());
    }

    #[test]
    fn a_request_holds_sixteen_spans_per_checkout_with_distinct_ids() {
        let request = checkout_request(10, 3);
        let spans: Vec<&Span> = request
            .resource_spans
            .iter()
            .flat_map(|rs| rs.scope_spans.iter().flat_map(|ss| ss.spans.iter()))
            .collect();
        assert_eq!(spans.len(), 3 * SPANS_PER_CHECKOUT);
        let mut ids: Vec<&[u8]> = spans.iter().map(|s| s.span_id.as_slice()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), spans.len());
        assert!(
            spans
                .iter()
                .all(|s| s.trace_id.len() == 16 && s.span_id.len() == 8)
        );
    }
}
