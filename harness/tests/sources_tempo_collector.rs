//! `TempoSource` against the embedded collector's real Tempo-format query
//! API: spans go in over OTLP/gRPC and must come back through Tempo's JSON
//! (base64 ids, enum names) equal, field by field, to the records the store
//! kept. `EmbeddedSource` must agree with both.

mod common;

use common::*;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use tracemesh_harness::RunningCollector;
use tracemesh_harness::model::SpanRecord;
use tracemesh_harness::sources::{
    EmbeddedSource, SourceError, TempoSource, TraceQuery, TraceSource,
};

fn value(value: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

fn attr(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value(v),
        ..Default::default()
    }
}

/// Trace 7: a gateway SERVER root (every attribute type, an event, a link)
/// -> gateway CLIENT -> order SERVER with an error status. Trace 8: one
/// payment span. Durations are whole milliseconds, as Tempo reports them.
async fn collector_with_traces() -> RunningCollector {
    use any_value::Value::{BoolValue, BytesValue, DoubleValue, IntValue, StringValue};
    let collector = start_collector().await;
    let mut root = server_span(7, 1, "POST /api/checkout", 40);
    root.attributes = vec![
        string_attr("http.request.method", "POST"),
        int_attr("http.response.status_code", 409),
        attr("fault.injected", BoolValue(true)),
        attr("fault.delay_ms", DoubleValue(12.5)),
        attr(
            "tags",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(StringValue("a".into())),
                    },
                    AnyValue {
                        value: Some(IntValue(2)),
                    },
                ],
            }),
        ),
        attr("raw", BytesValue(vec![0xde, 0xad, 0xbe, 0xef])),
    ];
    root.events = vec![Event {
        time_unix_nano: START + 5_000_000,
        name: "retry".into(),
        attributes: vec![int_attr("attempt", 2)],
        ..Default::default()
    }];
    root.links = vec![Link {
        trace_id: trace_id(9),
        span_id: span_id(9),
        ..Default::default()
    }];
    let client = Span {
        kind: SpanKind::Client as i32,
        ..span(
            7,
            2,
            Some(1),
            "tracemesh.order.v1.OrderService/PlaceOrder",
            30,
        )
    };
    let mut order = Span {
        kind: SpanKind::Server as i32,
        ..span(
            7,
            3,
            Some(2),
            "tracemesh.order.v1.OrderService/PlaceOrder",
            20,
        )
    };
    order.status = error_status("out of stock");
    order.attributes = vec![string_attr("error.type", "OutOfStock")];

    let mut client_grpc = grpc_client(&collector).await;
    client_grpc
        .export(request(vec![
            resource_spans("gateway", vec![root, client]),
            resource_spans("order", vec![order]),
            resource_spans("payment", vec![server_span(8, 1, "POST /v1/charges", 3)]),
        ]))
        .await
        .expect("export accepted");
    collector
}

fn by_span_id(mut spans: Vec<SpanRecord>) -> Vec<SpanRecord> {
    spans.sort_by(|a, b| a.span_id.cmp(&b.span_id));
    spans
}

#[tokio::test]
async fn spans_read_through_tempos_api_equal_the_stored_records() {
    let collector = collector_with_traces().await;
    let stored = by_span_id(collector.store().trace(&trace_hex(7)).expect("stored"));
    assert_eq!(stored.len(), 3);

    let tempo = TempoSource::new(collector.http_endpoint());
    let fetched = by_span_id(tempo.trace(&trace_hex(7)).await.unwrap().expect("found"));
    assert_eq!(fetched.len(), stored.len());
    for (got, want) in fetched.iter().zip(&stored) {
        // Field by field, so a failure names the field, then the whole record.
        assert_eq!(got.trace_id, want.trace_id);
        assert_eq!(got.span_id, want.span_id);
        assert_eq!(got.parent_span_id, want.parent_span_id);
        assert_eq!(got.name, want.name);
        assert_eq!(got.kind, want.kind);
        assert_eq!(got.service_name, want.service_name);
        assert_eq!(got.start_unix_nanos, want.start_unix_nanos);
        assert_eq!(got.end_unix_nanos, want.end_unix_nanos);
        assert_eq!(got.status, want.status);
        assert_eq!(got.attributes, want.attributes);
        assert_eq!(got.resource_attributes, want.resource_attributes);
        assert_eq!(got.events, want.events);
        assert_eq!(got.scope_name, want.scope_name);
        assert_eq!(got, want);
    }
    // The trace really went through the interesting encodings.
    let root = fetched.iter().find(|s| s.is_root()).unwrap();
    assert_eq!(root.attributes["raw"].to_string(), "deadbeef");
    assert_eq!(root.attributes["tags"].to_string(), "[a, 2]");

    let embedded = by_span_id(
        EmbeddedSource::new(collector.store().clone())
            .trace(&trace_hex(7))
            .await
            .unwrap()
            .unwrap(),
    );
    assert_eq!(embedded, stored);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unknown_trace_is_none_and_a_malformed_id_an_error() {
    let collector = collector_with_traces().await;
    let sources: Vec<Box<dyn TraceSource>> = vec![
        Box::new(TempoSource::new(collector.http_endpoint())),
        Box::new(EmbeddedSource::new(collector.store().clone())),
    ];
    for source in &sources {
        assert_eq!(
            source.trace(&trace_hex(42)).await,
            Ok(None),
            "{}",
            source.describe()
        );
        assert_eq!(
            source.trace("xyz").await,
            Err(SourceError::InvalidTraceId("xyz".into())),
            "{}",
            source.describe()
        );
        // Upper case ids find the trace too.
        let upper = source.trace(&trace_hex(8).to_uppercase()).await.unwrap();
        assert_eq!(upper.map(|s| s.len()), Some(1), "{}", source.describe());
    }
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn tempo_search_and_the_embedded_search_find_the_same_traces() {
    let collector = collector_with_traces().await;
    let tempo = TempoSource::new(collector.http_endpoint());
    let embedded = EmbeddedSource::new(collector.store().clone());
    let queries = [
        TraceQuery::default(),
        TraceQuery::service("order"),
        TraceQuery::service("gateway")
            .named("POST /api/checkout")
            .with_attribute("http.request.method", "POST"),
        TraceQuery::service("payment").limit(1),
        TraceQuery::service("gateway").with_attribute("http.request.method", "GET"),
        TraceQuery::default().between(0, 1),
    ];
    for query in &queries {
        let from_tempo = tempo.find(query).await.unwrap();
        let from_store = embedded.find(query).await.unwrap();
        assert_eq!(from_tempo, from_store, "{query:?}");
    }
    let order = tempo.find(&TraceQuery::service("order")).await.unwrap();
    assert_eq!(order.len(), 1);
    assert_eq!(order[0].trace_id, trace_hex(7));
    assert_eq!(order[0].root_service_name, "gateway");
    assert_eq!(order[0].root_span_name, "POST /api/checkout");
    assert_eq!(order[0].duration_nanos, 40_000_000);
    assert!(tempo.find(&queries[4]).await.unwrap().is_empty());
    collector.shutdown().await.unwrap();
}
