//! The server and client span layers against the real OpenTelemetry SDK
//! (spans kept in memory): names, kinds, parents, attributes, status, faults,
//! and the W3C rules for malformed headers.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tower::ServiceExt;
use tracemesh_runtime::fault::{FaultConfig, Faults};
use tracemesh_runtime::http_server::{HttpTracing, trace_http};
use tracing_subscriber::layer::SubscriberExt;

/// Runs `f` with a subscriber exporting to memory; returns the spans.
async fn with_spans<F, Fut>(f: F) -> Vec<SpanData>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    tracemesh_runtime::w3c::install_propagator();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let guard = tracing::subscriber::set_default(subscriber);
    f().await;
    drop(guard);
    provider.force_flush().unwrap();
    exporter.get_finished_spans().unwrap()
}

fn app(faults: Faults) -> Router {
    Router::new()
        .route("/items/{id}", get(|| async { "ok" }))
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no") }))
        .layer(axum::middleware::from_fn_with_state(
            HttpTracing {
                faults,
                traceresponse: true,
            },
            trace_http,
        ))
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a opentelemetry::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_span_continues_the_callers_trace_and_answers_traceresponse() {
    let mut traceresponse = String::new();
    let spans = with_spans(|| async {
        let response = app(Faults::default())
            .oneshot(
                Request::get("/items/7")
                    .header(
                        "traceparent",
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    )
                    .header("host", "gateway:8080")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        traceresponse = response.headers()["traceresponse"]
            .to_str()
            .unwrap()
            .to_owned();
    })
    .await;
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name, "GET /items/{id}");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(
        span.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert_eq!(attr(span, "http.route").unwrap().as_str(), "/items/{id}");
    assert_eq!(attr(span, "http.request.method").unwrap().as_str(), "GET");
    assert_eq!(attr(span, "url.path").unwrap().as_str(), "/items/7");
    assert_eq!(attr(span, "server.address").unwrap().as_str(), "gateway");
    assert_eq!(
        attr(span, "server.port"),
        Some(&opentelemetry::Value::I64(8080))
    );
    assert_eq!(
        attr(span, "http.response.status_code"),
        Some(&opentelemetry::Value::I64(200))
    );
    assert_eq!(span.status, Status::Unset);
    assert_eq!(
        traceresponse,
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
            span.span_context.span_id()
        )
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_malformed_traceparent_starts_a_new_trace_instead_of_failing() {
    for bad in [
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero span id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
        "garbage",
    ] {
        let spans = with_spans(|| async {
            let response = app(Faults::default())
                .oneshot(
                    Request::get("/items/1")
                        .header("traceparent", bad)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{bad}");
        })
        .await;
        assert_eq!(spans.len(), 1);
        assert_eq!(
            spans[0].parent_span_id,
            opentelemetry::trace::SpanId::INVALID,
            "{bad}"
        );
        assert_ne!(
            spans[0].span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "{bad}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn only_5xx_makes_a_server_span_an_error() {
    let spans = with_spans(|| async {
        let app = app(Faults::default());
        for path in ["/boom", "/missing"] {
            app.clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
        }
    })
    .await;
    let boom = spans.iter().find(|s| s.name == "GET /boom").unwrap();
    assert!(matches!(boom.status, Status::Error { .. }));
    assert_eq!(attr(boom, "error.type").unwrap().as_str(), "500");
    let missing = spans.iter().find(|s| s.name == "GET /missing").unwrap();
    assert_eq!(missing.status, Status::Unset);
    assert!(attr(missing, "error.type").is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn an_injected_error_is_answered_as_json_and_marked_on_the_span() {
    let faults = Faults::new(
        FaultConfig::parse("seed: 1\noperations: {'GET /items/{id}': {error_rate: 1.0, latency: {distribution: fixed, ms: 2}}}")
            .unwrap(),
    );
    let spans = with_spans(|| async {
        let response = app(faults)
            .oneshot(Request::get("/items/1").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "unavailable");
    })
    .await;
    let span = &spans[0];
    assert_eq!(
        attr(span, tracemesh_runtime::contract::attr::FAULT_INJECTED),
        Some(&opentelemetry::Value::Bool(true))
    );
    assert_eq!(
        attr(span, tracemesh_runtime::contract::attr::FAULT_KIND)
            .unwrap()
            .as_str(),
        "error"
    );
    assert!(
        matches!(attr(span, tracemesh_runtime::contract::attr::FAULT_DELAY_MS), Some(opentelemetry::Value::F64(ms)) if *ms >= 2.0)
    );
    assert!(matches!(span.status, Status::Error { .. }));
}

#[tokio::test(flavor = "current_thread")]
async fn health_probes_make_no_span() {
    let spans = with_spans(|| async {
        let app = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                HttpTracing::default(),
                trace_http,
            ));
        app.oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
    })
    .await;
    assert!(spans.is_empty());
}
