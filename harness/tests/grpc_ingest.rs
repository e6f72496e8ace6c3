//! OTLP/gRPC ingest, black-box: a real tonic client against a collector on
//! an ephemeral port.

mod common;

use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tracemesh_harness::collector::CollectorConfig;
use tracemesh_harness::model::{AttrValue, SpanKind, StatusCode};

#[tokio::test]
async fn exported_spans_are_stored_with_their_fields() {
    let collector = start_collector().await;
    let mut client = grpc_client(&collector).await;

    let root = server_span(1, 1, "GET /checkout", 30);
    let mut child = span(1, 2, Some(1), "SELECT orders", 10);
    child.kind = opentelemetry_proto::tonic::trace::v1::span::SpanKind::Client as i32;
    child.attributes = vec![
        string_attr("db.system.name", "sqlite"),
        int_attr("db.response.returned_rows", 3),
    ];
    child.status = error_status("no such table");
    let response = client
        .export(request(vec![resource_spans("order", vec![root, child])]))
        .await
        .expect("export succeeds")
        .into_inner();
    assert_eq!(response.partial_success, None, "nothing rejected");

    let store = collector.store();
    assert!(store.wait_for_spans(2, DEADLINE).await);
    let spans = store.trace(&trace_hex(1)).expect("trace stored");
    let db = spans
        .iter()
        .find(|s| s.name == "SELECT orders")
        .expect("child stored");
    assert_eq!(db.service_name, "order");
    assert_eq!(db.kind, SpanKind::Client);
    assert_eq!(db.parent_span_id.as_deref(), Some("0101010101010101"));
    assert_eq!(db.status.code, StatusCode::Error);
    assert_eq!(db.status.message, "no such table");
    assert_eq!(db.attr_str("db.system.name"), Some("sqlite"));
    assert_eq!(db.attr_i64("db.response.returned_rows"), Some(3));
    assert_eq!(db.scope_name, "tracemesh-test");
    assert_eq!(db.duration_nanos(), 10_000_000);
    let root = spans.iter().find(|s| s.is_root()).expect("root stored");
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(
        root.resource_attributes.get("service.name"),
        Some(&AttrValue::String("order".into()))
    );

    collector.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn rejects_spans_with_all_zero_trace_id_and_keeps_the_rest() {
    let collector = start_collector().await;
    let mut client = grpc_client(&collector).await;

    let zero_trace = span(0, 1, None, "zero trace id", 1);
    let zero_span = span(2, 0, None, "zero span id", 1);
    let mut short_trace = span(3, 1, None, "short trace id", 1);
    short_trace.trace_id.truncate(8);
    let valid = span(4, 1, None, "valid", 1);
    let response = client
        .export(request(vec![resource_spans(
            "svc",
            vec![zero_trace, zero_span, short_trace, valid],
        )]))
        .await
        .expect("a partially valid export is still a success")
        .into_inner();

    let partial = response
        .partial_success
        .expect("partial_success set when spans are rejected");
    assert_eq!(partial.rejected_spans, 3);
    assert!(
        partial.error_message.contains("trace_id"),
        "{}",
        partial.error_message
    );
    assert!(
        partial.error_message.contains("span_id"),
        "{}",
        partial.error_message
    );

    let store = collector.store();
    assert_eq!(store.trace_ids(), vec![trace_hex(4)]);
    let stats = store.stats();
    assert_eq!((stats.spans_received, stats.spans_rejected), (1, 3));
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn accepts_gzip_compressed_exports() {
    let collector = start_collector().await;
    let mut client = grpc_client(&collector)
        .await
        .send_compressed(CompressionEncoding::Gzip);
    client
        .export(request(vec![resource_spans(
            "svc",
            vec![span(5, 1, None, "zipped", 1)],
        )]))
        .await
        .expect("gzip accepted");
    assert_eq!(collector.store().span_count(&trace_hex(5)), 1);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn refuses_a_message_over_the_limit_and_keeps_serving() {
    let config = CollectorConfig {
        max_body_bytes: 1024,
        ..CollectorConfig::ephemeral()
    };
    let collector = start_with(config).await;
    let mut client = grpc_client(&collector).await;

    let huge = span(6, 1, None, &"x".repeat(4096), 1);
    let status = client
        .export(request(vec![resource_spans("svc", vec![huge])]))
        .await
        .unwrap_err();
    // tonic 0.14 answers OUT_OF_RANGE for an uncompressed message over
    // max_decoding_message_size (RESOURCE_EXHAUSTED is for inflated gzip).
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");

    client
        .export(request(vec![resource_spans(
            "svc",
            vec![span(7, 1, None, "small", 1)],
        )]))
        .await
        .expect("still serving");
    assert_eq!(collector.store().stats().spans_received, 1);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn refuses_gzip_that_inflates_past_the_limit_with_resource_exhausted() {
    let config = CollectorConfig {
        max_body_bytes: 1024,
        ..CollectorConfig::ephemeral()
    };
    let collector = start_with(config).await;
    let mut client = grpc_client(&collector)
        .await
        .send_compressed(CompressionEncoding::Gzip);

    // 64 KiB of one letter compresses to well under the 1 KiB limit.
    let bomb = span(8, 1, None, &"a".repeat(64 * 1024), 1);
    let status = client
        .export(request(vec![resource_spans("svc", vec![bomb])]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(collector.store().stats().spans_received, 0);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn wait_until_wakes_when_an_export_arrives() {
    let collector = start_collector().await;
    let store = collector.store().clone();
    let started = std::time::Instant::now();
    let waiter = tokio::spawn(async move {
        store
            .wait_until(
                |s| s.trace(&trace_hex(9)).is_some_and(|spans| spans.len() == 2),
                DEADLINE,
            )
            .await
    });
    let mut client = grpc_client(&collector).await;
    client
        .export(request(vec![resource_spans(
            "svc",
            vec![span(9, 1, None, "a", 1)],
        )]))
        .await
        .unwrap();
    client
        .export(request(vec![resource_spans(
            "svc",
            vec![span(9, 2, Some(1), "b", 1)],
        )]))
        .await
        .unwrap();
    assert!(waiter.await.unwrap(), "the predicate holds");
    assert!(
        started.elapsed() < DEADLINE / 2,
        "woken by the export, not by the deadline"
    );
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn eviction_is_counted_not_silent() {
    let config = CollectorConfig {
        max_spans: 2,
        ..CollectorConfig::ephemeral()
    };
    let collector = start_with(config).await;
    let mut client = grpc_client(&collector).await;
    for trace in 1..=3u8 {
        client
            .export(request(vec![resource_spans(
                "svc",
                vec![span(trace, 1, None, "op", 1)],
            )]))
            .await
            .unwrap();
    }
    let stats = collector.store().stats();
    assert_eq!(
        (
            stats.spans_stored,
            stats.spans_evicted,
            stats.traces_evicted
        ),
        (2, 1, 1)
    );
    assert_eq!(
        collector.store().trace_ids(),
        vec![trace_hex(2), trace_hex(3)]
    );
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn forwards_every_export_to_the_upstream_collector() {
    let upstream = start_collector().await;
    let config = CollectorConfig {
        forward_to: Some(upstream.grpc_endpoint()),
        ..CollectorConfig::ephemeral()
    };
    let collector = start_with(config).await;
    let mut client = grpc_client(&collector).await;

    // Forwarded unchanged: the invalid span reaches the upstream, which rejects it itself.
    let spans = vec![
        span(10, 1, None, "forwarded", 1),
        span(0, 2, None, "invalid", 1),
    ];
    client
        .export(request(vec![resource_spans("svc", spans)]))
        .await
        .unwrap();

    assert!(
        upstream.store().wait_for_spans(1, DEADLINE).await,
        "upstream received the export"
    );
    assert_eq!(upstream.store().span_count(&trace_hex(10)), 1);
    assert!(
        upstream
            .store()
            .wait_until(|s| s.stats().spans_rejected == 1, DEADLINE)
            .await
    );
    let stats = collector.forward_stats().expect("forwarding configured");
    assert_eq!((stats.requests_failed, stats.requests_dropped), (0, 0));

    collector.shutdown().await.unwrap();
    upstream.shutdown().await.unwrap();
}

#[tokio::test]
async fn counts_forward_failures_when_the_upstream_is_down() {
    // Bind and drop a listener to get a port nothing listens on.
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = CollectorConfig {
        forward_to: Some(format!("http://127.0.0.1:{closed_port}")),
        ..CollectorConfig::ephemeral()
    };
    let collector = start_with(config).await;
    let mut client = grpc_client(&collector).await;
    client
        .export(request(vec![resource_spans(
            "svc",
            vec![span(11, 1, None, "op", 1)],
        )]))
        .await
        .expect("ingest unaffected");
    assert_eq!(collector.store().span_count(&trace_hex(11)), 1);

    // Forwarding is asynchronous; poll its counter up to a deadline.
    let give_up = std::time::Instant::now() + DEADLINE;
    while collector.forward_stats().unwrap().requests_failed == 0
        && std::time::Instant::now() < give_up
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(collector.forward_stats().unwrap().requests_failed, 1);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_stops_both_servers() {
    let collector = start_collector().await;
    let (grpc, http) = (collector.grpc_endpoint(), collector.http_endpoint());
    collector.shutdown().await.expect("clean shutdown");
    assert!(
        TraceServiceClient::connect(grpc).await.is_err(),
        "gRPC port closed"
    );
    assert!(
        reqwest::get(format!("{http}/ready")).await.is_err(),
        "HTTP port closed"
    );
}

#[tokio::test]
async fn logs_are_stored_by_trace_and_an_oversized_export_is_out_of_range() {
    let config = CollectorConfig {
        max_body_bytes: 1024,
        ..CollectorConfig::ephemeral()
    };
    let collector = start_with(config).await;
    let mut client = logs_grpc_client(&collector).await;
    let answer = client
        .export(log_request("order", vec![log_record(4, 1, "saga", 1)]))
        .await
        .expect("exported")
        .into_inner();
    assert_eq!(answer.partial_success, None);
    let status = client
        .export(log_request(
            "order",
            vec![log_record(4, 1, &"x".repeat(4096), 2)],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    let lines = collector.log_store().trace(&trace_hex(4));
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0].service.as_str(), lines[0].body.as_str()),
        ("order", "saga")
    );
    collector.shutdown().await.unwrap();
}
