//! OTLP/HTTP ingest, black-box, with reqwest.

mod common;

use std::io::Write;

use common::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use reqwest::StatusCode;
use tracemesh_harness::collector::CollectorConfig;
use tracemesh_harness::model::{SpanKind, StatusCode as SpanStatusCode};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn post(url: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent")
}

async fn error_message(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.expect("error body is JSON");
    body["error"].as_str().expect("error field").to_string()
}

#[tokio::test]
async fn protobuf_export_is_stored_and_answered_in_protobuf() {
    let collector = start_collector().await;
    let body = request(vec![resource_spans(
        "payment",
        vec![
            server_span(1, 1, "POST /charge", 5),
            span(0, 2, None, "bad", 1),
        ],
    )]);
    let response = post(
        &url(&collector, "/v1/traces"),
        "application/x-protobuf",
        body.encode_to_vec(),
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap())
        .expect("protobuf response");
    assert_eq!(
        answer
            .partial_success
            .expect("one span rejected")
            .rejected_spans,
        1
    );

    let spans = collector.store().trace(&trace_hex(1)).expect("stored");
    assert_eq!(spans[0].service_name, "payment");
    assert_eq!(spans[0].kind, SpanKind::Server);
    collector.shutdown().await.unwrap();
}

/// Written by hand from the OTLP/JSON rules: hex ids (Tempo's guide uses
/// upper case, so one id here is upper case), integer enums, 64-bit numbers
/// as strings or plain numbers, camelCase field names, unknown fields ignored.
const SPEC_JSON: &str = r#"{
  "resourceSpans": [{
    "resource": {
      "attributes": [{ "key": "service.name", "value": { "stringValue": "my.service" } }]
    },
    "scopeSpans": [{
      "scope": { "name": "my.library", "version": "1.0.0" },
      "spans": [
        {
          "traceId": "5B8EFFF798038103D269B633813FC700",
          "spanId": "eee19b7ec3c1b100",
          "name": "I am a span!",
          "kind": 2,
          "startTimeUnixNano": "1544712660000000000",
          "endTimeUnixNano": 1544712661000000000,
          "attributes": [
            { "key": "my.span.attr", "value": { "stringValue": "some value" } },
            { "key": "http.response.status_code", "value": { "intValue": "503" } },
            { "key": "retry", "value": { "boolValue": true } }
          ],
          "status": { "code": 2, "message": "upstream down" },
          "someFutureField": 42
        },
        {
          "traceId": "5b8efff798038103d269b633813fc700",
          "spanId": "0000000000000001",
          "parentSpanId": "eee19b7ec3c1b100",
          "name": "child",
          "kind": 3,
          "startTimeUnixNano": "1544712660100000000",
          "endTimeUnixNano": "1544712660200000000",
          "events": [{ "timeUnixNano": "1544712660150000000", "name": "retry" }]
        }
      ]
    }]
  }]
}"#;

#[tokio::test]
async fn json_export_written_from_the_spec_with_hex_ids_is_stored() {
    let collector = start_collector().await;
    let response = post(
        &url(&collector, "/v1/traces"),
        "application/json",
        SPEC_JSON.into(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({})
    );

    let spans = collector
        .store()
        .trace("5b8efff798038103d269b633813fc700")
        .expect("stored under the hex id");
    assert_eq!(spans.len(), 2);
    let root = &spans[0];
    assert_eq!(root.span_id, "eee19b7ec3c1b100");
    assert_eq!(root.service_name, "my.service");
    assert_eq!(root.scope_name, "my.library");
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.status.code, SpanStatusCode::Error);
    assert_eq!(root.attr_str("my.span.attr"), Some("some value"));
    assert_eq!(root.attr_i64("http.response.status_code"), Some(503));
    assert_eq!(root.duration_nanos(), 1_000_000_000);
    let child = &spans[1];
    assert_eq!(child.parent_span_id.as_deref(), Some("eee19b7ec3c1b100"));
    assert_eq!(child.kind, SpanKind::Client);
    assert_eq!(child.events[0].name, "retry");
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn json_response_reports_partial_success() {
    let collector = start_collector().await;
    let body = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
        {"traceId":"00000000000000000000000000000000","spanId":"0000000000000001","name":"zero"},
        {"traceId":"0000000000000000000000000000000a","spanId":"0000000000000001","name":"ok"}
    ]}]}]}"#;
    let response = post(
        &url(&collector, "/v1/traces"),
        "application/json; charset=utf-8",
        body.into(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], 1);
    assert!(
        answer["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("trace_id")
    );
    let stored = collector.store().all_spans();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].service_name, "unknown_service");
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn gzip_bodies_are_accepted() {
    let collector = start_collector().await;
    let body = request(vec![resource_spans(
        "svc",
        vec![span(2, 1, None, "zipped", 1)],
    )])
    .encode_to_vec();
    let response = reqwest::Client::new()
        .post(url(&collector, "/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gzip(&body))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(collector.store().span_count(&trace_hex(2)), 1);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversize_body_gets_413_with_a_json_error() {
    let config = CollectorConfig {
        max_body_bytes: 1024,
        ..CollectorConfig::ephemeral()
    };
    let collector = start_with(config).await;
    let endpoint = url(&collector, "/v1/traces");

    let big = request(vec![resource_spans(
        "svc",
        vec![span(3, 1, None, &"x".repeat(4096), 1)],
    )])
    .encode_to_vec();
    let response = post(&endpoint, "application/x-protobuf", big.clone()).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error_message(response).await.contains("1024"));

    // A gzip body that is small on the wire but inflates past the limit.
    let bomb = request(vec![resource_spans(
        "svc",
        vec![span(3, 1, None, &"a".repeat(64 * 1024), 1)],
    )])
    .encode_to_vec();
    let response = reqwest::Client::new()
        .post(&endpoint)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gzip(&bomb))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(collector.store().stats().spans_received, 0);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn garbage_gets_400_and_the_server_keeps_answering() {
    let collector = start_collector().await;
    let endpoint = url(&collector, "/v1/traces");
    let garbage = vec![0xff, 0x00, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x01];

    for (content_type, body) in [
        ("application/x-protobuf", garbage.clone()),
        ("application/json", garbage.clone()),
        (
            "application/json",
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not hex"}]}]}]}"#.to_vec(),
        ),
    ] {
        let response = post(&endpoint, content_type, body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{content_type}");
        assert!(!error_message(response).await.is_empty());
    }
    let response = reqwest::Client::new()
        .post(&endpoint)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(garbage)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "corrupt gzip");

    let valid = request(vec![resource_spans(
        "svc",
        vec![span(4, 1, None, "after garbage", 1)],
    )])
    .encode_to_vec();
    assert_eq!(
        post(&endpoint, "application/x-protobuf", valid)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(collector.store().span_count(&trace_hex(4)), 1);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn unsupported_content_type_or_encoding_gets_415() {
    let collector = start_collector().await;
    let endpoint = url(&collector, "/v1/traces");
    let response = post(&endpoint, "text/plain", b"hello".to_vec()).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(error_message(response).await.contains("text/plain"));

    let response = reqwest::Client::new()
        .post(&endpoint)
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    collector.shutdown().await.unwrap();
}

/// `GET /api/logs/{trace_id}`'s records.
async fn logs_of(
    collector: &tracemesh_harness::RunningCollector,
    trace: &str,
) -> Vec<serde_json::Value> {
    let response = reqwest::get(url(collector, &format!("/api/logs/{trace}")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    body["records"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn logs_in_protobuf_json_and_gzip_come_back_by_trace_in_time_order() {
    let collector = start_collector().await;
    let endpoint = url(&collector, "/v1/logs");
    let protobuf = log_request("payment", vec![log_record(1, 2, "charge failed", 30)]);
    let response = post(
        &endpoint,
        "application/x-protobuf",
        protobuf.encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    // OTLP/JSON as the specification writes it: hex ids, gzipped.
    let json = serde_json::to_vec(&log_request(
        "order",
        vec![log_record(1, 3, "saga <start>", 10)],
    ))
    .unwrap();
    let response = reqwest::Client::new()
        .post(&endpoint)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(&json))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "{}");

    let records = logs_of(&collector, &trace_hex(1)).await;
    let shown: Vec<(&str, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["service"].as_str().unwrap(),
                r["body"].as_str().unwrap(),
                r["span_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("order", "saga <start>", "0303030303030303"),
            ("payment", "charge failed", "0202020202020202"),
        ]
    );
    assert_eq!(records[0]["severity"], "WARN");
    assert_eq!(records[0]["attributes"]["order_id"], 17);
    assert!(logs_of(&collector, &trace_hex(9)).await.is_empty());
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn logs_with_bad_ids_are_counted_in_partial_success() {
    let collector = start_collector().await;
    let mut bad = log_record(1, 2, "short id", 1);
    bad.trace_id = vec![1; 5];
    let body = log_request("payment", vec![bad, log_record(1, 2, "kept", 2)]);
    let response = post(
        &url(&collector, "/v1/logs"),
        "application/json",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        answer["partialSuccess"]["rejectedLogRecords"], 1,
        "{answer}"
    );
    assert_eq!(logs_of(&collector, &trace_hex(1)).await.len(), 1);
    assert_eq!(collector.log_store().stats().records_rejected, 1);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn logs_bad_trace_id_oversize_and_garbage_get_4xx_with_a_json_error() {
    let config = CollectorConfig {
        max_body_bytes: 1024,
        ..CollectorConfig::ephemeral()
    };
    let collector = start_with(config).await;
    for bad in ["not-hex", "0123456789abcdef0123456789abcdef0"] {
        let response = reqwest::get(url(&collector, &format!("/api/logs/{bad}")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(error_message(response).await.contains("trace id"));
    }
    let endpoint = url(&collector, "/v1/logs");
    let big = log_request("svc", vec![log_record(1, 2, &"x".repeat(4096), 1)]).encode_to_vec();
    let response = post(&endpoint, "application/x-protobuf", big).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error_message(response).await.contains("1024"));
    let response = post(&endpoint, "application/x-protobuf", vec![0xff; 16]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = post(&endpoint, "text/plain", b"hello".to_vec()).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(collector.log_store().stats().records_received, 0);
    collector.shutdown().await.unwrap();
}
