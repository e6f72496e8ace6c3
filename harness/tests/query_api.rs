//! Tempo's query API over the store, black-box, with reqwest.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::*;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tracemesh_harness::RunningCollector;

/// Trace 1: gateway (root, 40 ms) -> order (child, error). Trace 2: user, 2 ms.
async fn collector_with_two_traces() -> RunningCollector {
    let collector = start_collector().await;
    let mut client = grpc_client(&collector).await;
    let mut order = span(1, 2, Some(1), "order.Create", 20);
    order.status = error_status("out of stock");
    order.attributes = vec![string_attr("rpc.method", "Create")];
    client
        .export(request(vec![
            resource_spans("gateway", vec![server_span(1, 1, "POST /checkout", 40)]),
            resource_spans("order", vec![order]),
            resource_spans("user", vec![server_span(2, 1, "user.Get", 2)]),
        ]))
        .await
        .unwrap();
    collector
}

async fn get_json(url: &str) -> (StatusCode, Value) {
    let response = reqwest::get(url).await.expect("request sent");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn trace_by_id_v1_returns_batches_encoded_like_tempo() {
    let collector = collector_with_two_traces().await;
    let (status, body) = get_json(&url(&collector, &format!("/api/traces/{}", trace_hex(1)))).await;
    assert_eq!(status, StatusCode::OK);

    let batches = body["batches"].as_array().expect("batches array");
    assert_eq!(batches.len(), 2, "one batch per service resource");
    let services: Vec<&Value> = batches
        .iter()
        .map(|b| &b["resource"]["attributes"][0]["value"]["stringValue"])
        .collect();
    assert_eq!(services, vec!["gateway", "order"]);

    let order = &batches[1]["scopeSpans"][0]["spans"][0];
    assert_eq!(order["name"], "order.Create");
    // Tempo (gogo jsonpb) encodes ids in base64 and enums by name.
    assert_eq!(order["traceId"], BASE64.encode([1u8; 16]));
    assert_eq!(order["spanId"], BASE64.encode([2u8; 8]));
    assert_eq!(order["parentSpanId"], BASE64.encode([1u8; 8]));
    assert_eq!(order["kind"], "SPAN_KIND_INTERNAL");
    assert_eq!(
        order["status"],
        json!({ "code": "STATUS_CODE_ERROR", "message": "out of stock" })
    );
    assert_eq!(
        batches[1]["scopeSpans"][0]["scope"]["name"],
        "tracemesh-test"
    );
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn trace_by_id_v2_wraps_resource_spans_in_trace() {
    let collector = collector_with_two_traces().await;
    // Upper case and 16-char ids are accepted, as in Tempo.
    let (status, body) = get_json(&url(
        &collector,
        &format!("/api/v2/traces/{}", trace_hex(2).to_uppercase()),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    let spans = &body["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"];
    assert_eq!(spans[0]["name"], "user.Get");
    assert_eq!(spans[0]["kind"], "SPAN_KIND_SERVER");
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn trace_by_id_answers_protobuf_when_asked() {
    let collector = collector_with_two_traces().await;
    for path in ["/api/traces/", "/api/v2/traces/"] {
        let response = reqwest::Client::new()
            .get(url(&collector, &format!("{path}{}", trace_hex(1))))
            .header("accept", "application/protobuf")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/protobuf");
        let bytes = response.bytes().await.unwrap();
        // v1 body is tempopb.Trace (= TracesData); v2 wraps it in field 1.
        let trace = if path == "/api/traces/" {
            TracesData::decode(bytes).unwrap()
        } else {
            #[derive(Clone, PartialEq, Message)]
            struct TraceByIdResponse {
                #[prost(message, optional, tag = "1")]
                trace: Option<TracesData>,
            }
            TraceByIdResponse::decode(bytes).unwrap().trace.unwrap()
        };
        let span_count: usize = trace
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        assert_eq!(span_count, 2, "{path}");
    }
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_trace_gets_404_and_malformed_id_gets_400() {
    let collector = collector_with_two_traces().await;
    for path in ["/api/traces/", "/api/v2/traces/"] {
        let (status, body) =
            get_json(&url(&collector, &format!("{path}{}", trace_hex(0x42)))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body["error"].as_str().unwrap().contains("not found"));
        let (status, body) = get_json(&url(&collector, &format!("{path}not-a-trace-id"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"].as_str().unwrap().contains("malformed"));
    }
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn search_by_tags_returns_tempo_summaries() {
    let collector = collector_with_two_traces().await;
    let search = |query: &str| url(&collector, &format!("/api/search?{query}"));

    // `tags` is logfmt, URL-encoded: service.name=order status=error
    let (status, body) = get_json(&search("tags=service.name%3Dorder%20status%3Derror")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["traces"],
        json!([{
            "traceID": trace_hex(1),
            "rootServiceName": "gateway",
            "rootTraceName": "POST /checkout",
            "startTimeUnixNano": START.to_string(),
            "durationMs": 40,
        }])
    );
    assert_eq!(body["metrics"]["inspectedTraces"], 2);

    let (_, body) = get_json(&search("minDuration=10ms")).await;
    assert_eq!(body["traces"].as_array().unwrap().len(), 1);
    let (_, body) = get_json(&search("maxDuration=10ms&limit=5")).await;
    assert_eq!(body["traces"][0]["rootServiceName"], "user");
    let (_, body) = get_json(&search("")).await;
    assert_eq!(body["traces"].as_array().unwrap().len(), 2);
    let (_, body) = get_json(&search("start=4000000000&end=4000000100")).await;
    assert_eq!(body["traces"], json!([]));

    let (status, body) = get_json(&search("minDuration=soon")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("minDuration"));
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn ready_echo_and_stats_answer() {
    let collector = collector_with_two_traces().await;
    for (path, expected) in [("/ready", "ready"), ("/api/echo", "echo")] {
        let response = reqwest::get(url(&collector, path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.text().await.unwrap(), expected);
    }
    let (status, stats) = get_json(&url(&collector, "/api/stats")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["spans_received"], 3);
    assert_eq!(stats["traces_stored"], 2);
    assert_eq!(stats["spans_evicted"], 0);
    collector.shutdown().await.unwrap();
}
