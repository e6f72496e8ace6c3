//! The gateway with telemetry installed, as `tracemesh service gateway`
//! installs it (the runtime's `telemetry::init`): W3C propagation in and
//! out, seen from outside through HTTP headers only, trusting the caller's
//! context by default and ignoring it with `--untrusted-edge`.
//!
//! The exporter points at a dead port with a schedule delay longer than any
//! test, so nothing is ever exported: these tests look at headers, not spans.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use common::{Gateway, init_telemetry};
use tracemesh_runtime::w3c::TraceParent;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// A version-00 W3C trace context value (`traceparent` or `traceresponse`).
fn parse_w3c(value: &str) -> TraceParent {
    let parsed = TraceParent::parse(value).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.version, 0, "not version 00: {value:?}");
    parsed
}

async fn get_with_traceparent(
    gateway: &Gateway,
    path: &str,
    traceparent: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .get(gateway.url(path))
        .header("traceparent", traceparent)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_traceresponse_that_continues_the_callers_trace() {
    init_telemetry();
    let gateway = Gateway::start(common::config(&common::dead_url().await)).await;
    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    // A 404 and a 503: errors answer with the header too.
    for path in ["/api/nothing", "/api/products"] {
        let response = get_with_traceparent(&gateway, path, &traceparent).await;
        let header = response
            .headers()
            .get("traceresponse")
            .expect("no traceresponse");
        let TraceParent {
            trace_id: trace,
            parent_id: span,
            flags,
            ..
        } = parse_w3c(header.to_str().unwrap());
        assert_eq!(trace, CALLER_TRACE, "{path}");
        assert_ne!(
            span, CALLER_SPAN,
            "{path}: the gateway's own span id is expected"
        );
        assert_eq!(flags, 0x01, "{path}");
    }
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_valid_traceparent_starts_a_new_trace() {
    init_telemetry();
    let gateway = Gateway::start(common::config(&common::dead_url().await)).await;
    let malformed = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-zz");
    let response = get_with_traceparent(&gateway, "/api/nothing", &malformed).await;
    let header = response
        .headers()
        .get("traceresponse")
        .expect("no traceresponse");
    let trace = parse_w3c(header.to_str().unwrap()).trace_id;
    assert_ne!(trace, CALLER_TRACE);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_edge_starts_its_own_trace_whatever_the_caller_sent() {
    init_telemetry();
    let mut config = common::config(&common::dead_url().await);
    config.untrusted_edge = true;
    let gateway = Gateway::start(config).await;
    let response = reqwest::Client::new()
        .get(gateway.url("/api/nothing"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("baggage", "tenant=outsider")
        .send()
        .await
        .unwrap();
    let header = response
        .headers()
        .get("traceresponse")
        .expect("no traceresponse");
    let TraceParent {
        trace_id: trace,
        parent_id: span,
        ..
    } = parse_w3c(header.to_str().unwrap());
    assert_ne!(trace, CALLER_TRACE, "the caller's trace id was adopted");
    assert_ne!(span, CALLER_SPAN);
    gateway.stop().await;
}

/// What the fake W3C harness received on one callback.
#[derive(Debug, Clone)]
struct Callback {
    traceparent: Option<String>,
    body: serde_json::Value,
}

type Received = Arc<Mutex<Vec<Callback>>>;

async fn record(
    State(received): State<Received>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<serde_json::Value>,
) {
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    received
        .lock()
        .unwrap()
        .push(Callback { traceparent, body });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_w3c_test_endpoint_forwards_the_trace_context_to_each_url_in_order() {
    init_telemetry();
    let received = Received::default();
    let harness = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let harness_addr = harness.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/{step}", post(record))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(harness, app).await });

    let mut config = common::config(&common::dead_url().await);
    config.w3c_test_endpoint = true;
    let gateway = Gateway::start(config).await;

    let instructions = serde_json::json!([
        {"url": format!("http://{harness_addr}/1"), "arguments": [{"url": "x", "arguments": []}]},
        {"url": format!("http://{harness_addr}/2"), "arguments": []},
    ]);
    let response = reqwest::Client::new()
        .post(gateway.url("/test"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .json(&instructions)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(received[0].body, instructions[0]["arguments"]);
    assert_eq!(received[1].body, instructions[1]["arguments"]);
    for callback in &received {
        let traceparent = callback
            .traceparent
            .as_deref()
            .expect("no traceparent sent");
        let TraceParent {
            trace_id: trace,
            parent_id: parent,
            flags,
            ..
        } = parse_w3c(traceparent);
        assert_eq!(trace, CALLER_TRACE);
        assert_ne!(
            parent, CALLER_SPAN,
            "the caller's span was passed through, not ours"
        );
        assert_eq!(flags, 0x01);
    }
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_w3c_test_endpoint_answers_502_when_a_url_cannot_be_reached() {
    init_telemetry();
    let mut config = common::config(&common::dead_url().await);
    config.w3c_test_endpoint = true;
    let gateway = Gateway::start(config).await;
    let dead = common::dead_url().await;
    let response = reqwest::Client::new()
        .post(gateway.url("/test"))
        .json(&serde_json::json!([{"url": dead, "arguments": []}]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    gateway.stop().await;
}
