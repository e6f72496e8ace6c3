//! The services' `tracing` subscriber (`telemetry/subscriber.rs`), set as
//! a test's default, under the real HTTP middleware: every request a
//! worker thread serves, one after another, gets its SERVER span, however
//! the requests before it ended (tokio-rs/tracing#2519).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tower::ServiceExt;
use tracemesh_runtime::config::MapEnv;
use tracemesh_runtime::fault::Faults;
use tracemesh_runtime::http_server::{HttpTracing, trace_http};
use tracemesh_runtime::telemetry::{TelemetryConfig, subscriber};

fn app() -> Router {
    Router::new()
        .route("/api/products", get(|| async { "[]" }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no") }))
        .layer(axum::middleware::from_fn_with_state(
            HttpTracing {
                faults: Faults::default(),
                traceresponse: true,
            },
            trace_http,
        ))
}

/// A dependency's `log::log_enabled!(Debug)`, as reqwest's verbose
/// connections ask before wrapping one: the `log` → `tracing` bridge that
/// `try_init` installs asks the subscriber, and nothing follows. Every
/// layer's filter says no to a `reqwest` record at `RUST_LOG=info`.
fn a_question_without_an_event() {
    let metadata = log::Metadata::builder()
        .level(log::Level::Debug)
        .target("reqwest::connect")
        .build();
    log::Log::enabled(&tracing_log::LogTracer::new(), &metadata);
}

/// A dependency's `log` record that `RUST_LOG=info` drops: asked, then
/// dispatched as an event every layer skips.
fn a_dropped_log_record() {
    let record = log::Record::builder()
        .level(log::Level::Debug)
        .target("reqwest::connect")
        .args(format_args!("starting new connection"))
        .build();
    log::Log::log(&tracing_log::LogTracer::new(), &record);
}

/// Each request in turn on this one thread, as a worker thread serves a
/// keep-alive connection, `before` running ahead of each; every answer must
/// carry `traceresponse` and every request must leave its SERVER span.
async fn assert_each_traced(rust_log: &str, paths: &[&str], before: fn()) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let config = TelemetryConfig::from_env(&MapEnv::new([("RUST_LOG", rust_log)]), "gateway")
        .expect("the configuration is valid");
    let subscriber =
        subscriber::services(&config, provider.tracer("gateway"), None).expect("RUST_LOG is valid");
    let _default = tracing::subscriber::set_default(subscriber);

    let mut untraced = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        before();
        let request = Request::get(*path).body(Body::empty()).unwrap();
        let response = app().oneshot(request).await.unwrap();
        if !response.headers().contains_key("traceresponse") {
            untraced.push(format!(
                "request {} GET {path} ({})",
                i + 1,
                response.status()
            ));
        }
    }
    provider.force_flush().unwrap();
    assert!(
        untraced.is_empty(),
        "RUST_LOG={rust_log}: answered without a trace: {untraced:?}"
    );
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), paths.len(), "RUST_LOG={rust_log}");
}

/// A successful request asks whether its `debug` access line would be
/// logged and, at `info`, logs nothing; the next request's span must still
/// reach the span layer.
#[tokio::test(flavor = "current_thread")]
async fn every_request_after_a_successful_one_is_traced() {
    let paths = ["/api/products"; 5];
    assert_each_traced("info", &paths, || {}).await;
}

/// The same after a client error (its `info` access line is logged) and at
/// `warn` (nothing is logged at all).
#[tokio::test(flavor = "current_thread")]
async fn every_request_is_traced_whatever_the_log_level_and_status() {
    let paths = ["/missing", "/api/products", "/missing", "/api/products"];
    for rust_log in ["warn", "info", "debug"] {
        assert_each_traced(rust_log, &paths, || {}).await;
    }
}

/// A dependency's dropped `log` record between requests.
#[tokio::test(flavor = "current_thread")]
async fn a_dropped_log_record_does_not_cost_the_next_request_its_trace() {
    let paths = ["/api/products"; 3];
    assert_each_traced("info", &paths, a_dropped_log_record).await;
}

/// A filter question nothing answers between requests: with callsite
/// interest cached as `always`, the next SERVER span read that question's
/// "no" and reached no layer. Without `AskEachTime` this test fails: all
/// three answers come back without `traceresponse`.
#[tokio::test(flavor = "current_thread")]
async fn a_question_without_an_event_does_not_cost_the_next_request_its_trace() {
    let paths = ["/api/products"; 3];
    assert_each_traced("info", &paths, a_question_without_an_event).await;
}
