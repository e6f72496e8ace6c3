//! A simulated mesh for the sampling tests: a "gateway" that decides with
//! the real SDK sampler, answers `traceresponse` headers, and stores the
//! five-service checkout trace of every sampled request, with switches to
//! plant each defect the checks must catch.

#![allow(dead_code)] // each test binary uses a different subset

use opentelemetry::trace::{SpanKind as SdkSpanKind, TraceId};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracemesh_harness::TraceStore;
use tracemesh_harness::checks::sampling::RequiredServices;

pub const SERVICES: [&str; 5] = ["gateway", "user", "order", "inventory", "payment"];

/// Every service of the mesh contributes to a complete checkout trace.
pub fn all_services() -> RequiredServices {
    RequiredServices::new(SERVICES)
}

/// A seeded generator: the sampling tests are random-looking but repeatable.
pub fn seeded(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A random, valid (non-zero) 16-byte trace id.
pub fn random_trace_id(rng: &mut StdRng) -> [u8; 16] {
    loop {
        let id: u128 = rng.random();
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The decision of the gateway's configured sampler, `parentbased_traceidratio`,
/// for a root span, taken by the real opentelemetry_sdk.
pub fn sdk_decides(trace_id: [u8; 16], ratio: f64) -> bool {
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)));
    let result = sampler.should_sample(
        None,
        TraceId::from_bytes(trace_id),
        "POST /api/checkout",
        &SdkSpanKind::Server,
        &[],
        &[],
    );
    result.decision == SamplingDecision::RecordAndSample
}

fn string_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// Span ids unique within a trace (ids only need to be unique per trace).
fn span_id(index: u8) -> Vec<u8> {
    vec![0xa0, 0, 0, 0, 0, 0, 0, index + 1]
}

/// The checkout trace, one `ResourceSpans` per service, leaving out
/// `without`'s spans. The gateway's SERVER span is a child of
/// `caller_span` when the request came with a traceparent.
pub fn checkout_trace(
    trace_id: [u8; 16],
    caller_span: Option<[u8; 8]>,
    without: &[&str],
) -> Vec<ResourceSpans> {
    const START: u64 = 1_700_000_000_000_000_000;
    // (service, index, parent index, name, kind)
    let layout: [(&str, u8, Option<u8>, &str, span::SpanKind); 10] = [
        (
            "gateway",
            0,
            None,
            "POST /api/checkout",
            span::SpanKind::Server,
        ),
        (
            "gateway",
            1,
            Some(0),
            "tracemesh.user.v1.UserService/ValidateUser",
            span::SpanKind::Client,
        ),
        (
            "user",
            2,
            Some(1),
            "tracemesh.user.v1.UserService/ValidateUser",
            span::SpanKind::Server,
        ),
        (
            "gateway",
            3,
            Some(0),
            "tracemesh.order.v1.OrderService/PlaceOrder",
            span::SpanKind::Client,
        ),
        (
            "order",
            4,
            Some(3),
            "tracemesh.order.v1.OrderService/PlaceOrder",
            span::SpanKind::Server,
        ),
        (
            "order",
            5,
            Some(4),
            "tracemesh.inventory.v1.InventoryService/Reserve",
            span::SpanKind::Client,
        ),
        (
            "inventory",
            6,
            Some(5),
            "tracemesh.inventory.v1.InventoryService/Reserve",
            span::SpanKind::Server,
        ),
        ("order", 7, Some(4), "POST", span::SpanKind::Client),
        (
            "payment",
            8,
            Some(7),
            "POST /v1/charges",
            span::SpanKind::Server,
        ),
        ("order", 9, Some(4), "INSERT orders", span::SpanKind::Client),
    ];
    SERVICES
        .iter()
        .filter(|service| !without.contains(service))
        .map(|service| {
            let spans = layout
                .iter()
                .filter(|(s, ..)| s == service)
                .map(|(_, index, parent, name, kind)| Span {
                    trace_id: trace_id.to_vec(),
                    span_id: span_id(*index),
                    parent_span_id: match parent {
                        Some(p) => span_id(*p),
                        None => caller_span.map(|c| c.to_vec()).unwrap_or_default(),
                    },
                    name: (*name).into(),
                    kind: *kind as i32,
                    start_time_unix_nano: START + u64::from(*index) * 1_000,
                    end_time_unix_nano: START + 1_000_000 - u64::from(*index) * 1_000,
                    ..Default::default()
                })
                .collect();
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string_attr("service.name", service)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                schema_url: String::new(),
            }
        })
        .collect()
}

/// Puts a trace into the store, as the collector would on export.
pub fn store_trace(store: &TraceStore, trace: Vec<ResourceSpans>) {
    let outcome = store.insert(trace);
    assert_eq!(outcome.rejected, 0, "the simulated trace is valid");
}
