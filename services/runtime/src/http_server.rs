//! The SERVER span of every HTTP request an axum service handles.
//!
//! One middleware ([`trace_http`]) does, once for every route: extract the
//! caller's trace context and baggage, open a SERVER span named
//! `METHOD /route` with the HTTP semantic-convention attributes, apply the
//! configured faults, record the response status, and (on the gateway) send
//! the `traceresponse` header. Handlers never touch propagation.
//!
//! Why our own middleware rather than a crate: the tower-http / axum-tracing
//! crates pin their own opentelemetry versions, and the fault injection and
//! `traceresponse` header belong in the same single place anyway.
//!
//! Incoming context at the edge. By default the caller's `traceparent`,
//! `tracestate` and `baggage` are honoured, baggage cut to the W3C limits
//! (`propagation::extract_reporting`; the SERVER span gets
//! `tracemesh.baggage.dropped` when members were dropped). A public
//! deployment may not want strangers to choose its trace ids, sampling
//! decisions or baggage: with [`HttpTracing::untrusted_edge`] all three are
//! ignored, every request starts a new root trace, and the SERVER span
//! says `tracemesh.incoming_context = "dropped"` when the request carried
//! any. Only the gateway sets it; the services behind it keep propagating
//! what the gateway sends them.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opentelemetry::Context;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::error_body::ErrorBody;
use crate::fault::Faults;
use crate::metrics::clock::SpanClock;
use crate::metrics::labels::{self, HttpServerLabels};
use crate::propagation;
use crate::w3c::{TRACERESPONSE_HEADER, TraceParent};

/// Options of the HTTP server middleware, passed as its state.
#[derive(Debug, Clone, Default)]
pub struct HttpTracing {
    pub faults: Faults,
    /// Answer with a W3C `traceresponse` header (the gateway does).
    pub traceresponse: bool,
}

/// The public edge's options: [`HttpTracing`] plus what to do with the
/// caller's context, for [`trace_http_edge`]. A type of its own rather than
/// a field of `HttpTracing`, so that no service behind the gateway can
/// switch it on by accident (and their layers are built as before).
#[derive(Debug, Clone, Default)]
pub struct EdgeTracing {
    pub tracing: HttpTracing,
    /// Ignore the caller's `traceparent`, `tracestate` and `baggage`: every
    /// request starts a new root trace (the gateway's `--untrusted-edge`).
    pub untrusted_edge: bool,
}

/// SERVER span attribute set to [`INCOMING_CONTEXT_DROPPED`] when an
/// untrusted edge ignored the caller's trace context or baggage.
pub const INCOMING_CONTEXT_ATTRIBUTE: &str = "tracemesh.incoming_context";
pub const INCOMING_CONTEXT_DROPPED: &str = "dropped";

/// Paths probed by orchestrators many times a minute: not traced, or they
/// would bury the shop's traces.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// axum middleware: `Router::new()...layer(from_fn_with_state(opts, trace_http))`.
///
/// It must be added with `Router::layer` *after* the routes, so that
/// `MatchedPath` (the route template, e.g. `/api/orders/{id}`) is known.
pub async fn trace_http(State(opts): State<HttpTracing>, req: Request, next: Next) -> Response {
    traced(opts, false, req, next).await
}

/// [`trace_http`] for the public edge: the same span, with the caller's
/// context ignored when [`EdgeTracing::untrusted_edge`] is set.
pub async fn trace_http_edge(
    State(opts): State<EdgeTracing>,
    req: Request,
    next: Next,
) -> Response {
    traced(opts.tracing, opts.untrusted_edge, req, next).await
}

async fn traced(opts: HttpTracing, untrusted_edge: bool, req: Request, next: Next) -> Response {
    if is_probe(req.uri().path()) {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    // The semantic conventions: `{method} {route}` when the route is known,
    // the method alone otherwise (so unmatched paths don't explode cardinality).
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
    };
    let span = tracing::info_span!(
        "http.server",
        otel.name = name.as_str(),
        otel.kind = "server"
    );
    // Taken as the span starts, so the duration histogram's value is the
    // span's own duration (its exemplar points at this span).
    let clock = SpanClock::start();
    // A missing or malformed traceparent gives an empty context: a new trace.
    let parent = if untrusted_edge {
        if propagation::carries_context(req.headers()) {
            span.set_attribute(INCOMING_CONTEXT_ATTRIBUTE, INCOMING_CONTEXT_DROPPED);
        }
        Context::new()
    } else {
        let extracted = propagation::extract_reporting(req.headers());
        if extracted.baggage_dropped > 0 {
            span.set_attribute(
                propagation::BAGGAGE_DROPPED_ATTRIBUTE,
                i64::try_from(extracted.baggage_dropped).unwrap_or(i64::MAX),
            );
        }
        extracted.context
    };
    for attribute in propagation::baggage_attributes(&parent) {
        span.set_attribute(attribute.key, attribute.value);
    }
    let _ = span.set_parent(parent);
    span.set_attribute(semconv::HTTP_REQUEST_METHOD, method.clone());
    span.set_attribute(semconv::URL_PATH, req.uri().path().to_owned());
    span.set_attribute(semconv::URL_SCHEME, "http");
    if let Some(route) = &route {
        span.set_attribute(semconv::HTTP_ROUTE, route.clone());
    }
    if let Some(host) = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        let (address, port) = split_host(host);
        span.set_attribute(semconv::SERVER_ADDRESS, address.to_owned());
        if let Some(port) = port {
            span.set_attribute(semconv::SERVER_PORT, i64::from(port));
        }
    }
    if let Some(ua) = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|h| h.to_str().ok())
    {
        span.set_attribute(semconv::USER_AGENT_ORIGINAL, ua.to_owned());
    }

    let operation = name.clone();
    let mut response = async move {
        if let Err(injected) = opts.faults.apply(&operation).await {
            let status = injected.kind.http_status();
            return (
                status,
                ErrorBody::new(injected.kind.as_str(), injected.to_string()),
            )
                .into_response();
        }
        next.run(req).await
    }
    .instrument(span.clone())
    .await;

    let status = response.status();
    span.set_attribute(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(status.as_u16()),
    );
    // For a SERVER span only 5xx is an error: a 4xx is the client's mistake,
    // handled correctly (HTTP semantic conventions, "Status").
    if status.is_server_error() {
        span.set_attribute(semconv::ERROR_TYPE, status.as_u16().to_string());
        span.set_status(Status::error(
            status
                .canonical_reason()
                .unwrap_or("server error")
                .to_owned(),
        ));
    }
    // One access-log line per request, inside the span so it carries the
    // trace and span ids: warn for server errors, info for client errors,
    // debug for the rest (a load run makes thousands per second).
    // The span is entered only for a line some layer takes: at the usual
    // `warn` a successful request's `debug` line is none, and entering and
    // leaving a span costs on every request.
    let measured = clock.stop();
    let elapsed_ms = measured.elapsed.as_secs_f64() * 1000.0;
    let code = status.as_u16();
    if status.is_server_error() {
        span.in_scope(|| tracing::warn!(status = code, elapsed_ms, "{name}"));
    } else if status.is_client_error() {
        if tracing::enabled!(tracing::Level::INFO) {
            span.in_scope(|| tracing::info!(status = code, elapsed_ms, "{name}"));
        }
    } else if tracing::enabled!(tracing::Level::DEBUG) {
        span.in_scope(|| tracing::debug!(status = code, elapsed_ms, "{name}"));
    }
    if opts.traceresponse {
        let cx = span.context();
        if let Some(value) = TraceParent::from_span_context(cx.span().span_context())
            && let Ok(value) = HeaderValue::from_str(&value.to_string())
        {
            response.headers_mut().insert(TRACERESPONSE_HEADER, value);
        }
    }
    // Last, as the span ends (it is dropped on return).
    crate::metrics::global().observe_http_server(
        HttpServerLabels {
            http_request_method: labels::http_method(&method),
            http_route: route.unwrap_or_default(),
            http_response_status_code: status.as_u16(),
        },
        &span,
        measured,
    );
    response
}

/// `host:port` → (`host`, `Some(port)`); handles bracketed IPv6.
fn split_host(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[')
        && let Some((addr, tail)) = rest.split_once(']')
    {
        return (addr, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (host, None),
        },
        _ => (host, None),
    }
}

/// The fallback for unknown paths: a JSON 404, like every other error.
pub async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        ErrorBody::new("not_found", "no such route"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::clock::MeasuredTimesProcessor;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use opentelemetry::trace::{SpanId, TracerProvider as _};
    use opentelemetry_sdk::trace::{
        InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor, SpanData,
    };
    use tower::ServiceExt;
    use tracing_subscriber::layer::SubscriberExt;

    const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CALLER_TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// Sends `request` through the edge middleware with the real SDK
    /// exporting to memory; returns the `traceresponse` and the one span.
    async fn through_edge(untrusted_edge: bool, request: Request) -> (String, SpanData) {
        crate::w3c::install_propagator();
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let guard = tracing::subscriber::set_default(subscriber);
        let opts = EdgeTracing {
            tracing: HttpTracing {
                traceresponse: true,
                ..HttpTracing::default()
            },
            untrusted_edge,
        };
        let app = Router::new()
            .route("/api/x", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(opts, trace_http_edge));
        let response = app.oneshot(request).await.unwrap();
        drop(guard);
        assert_eq!(response.status(), StatusCode::OK);
        let traceresponse = response.headers()["traceresponse"]
            .to_str()
            .unwrap()
            .to_owned();
        provider.force_flush().unwrap();
        let mut spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1);
        (traceresponse, spans.remove(0))
    }

    fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a opentelemetry::Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    fn with_context(baggage: &str) -> Request {
        Request::get("/api/x")
            .header("traceparent", CALLER_TRACEPARENT)
            .header("tracestate", "vendor=1")
            .header("baggage", baggage)
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_untrusted_edge_ignores_the_callers_context_and_says_so() {
        let (traceresponse, span) = through_edge(true, with_context("tenant=evil")).await;
        assert_ne!(span.span_context.trace_id().to_string(), CALLER_TRACE);
        assert_eq!(span.parent_span_id, SpanId::INVALID, "a root");
        assert!(!span.parent_span_is_remote);
        assert!(span.span_context.trace_state().header().is_empty());
        assert!(traceresponse.contains(&span.span_context.trace_id().to_string()));
        assert_eq!(
            attr(&span, INCOMING_CONTEXT_ATTRIBUTE).map(|v| v.as_str()),
            Some(INCOMING_CONTEXT_DROPPED.into())
        );
        assert!(attr(&span, "baggage.tenant").is_none(), "baggage ignored");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_untrusted_edge_marks_nothing_when_nothing_came() {
        let request = Request::get("/api/x").body(Body::empty()).unwrap();
        let (_, span) = through_edge(true, request).await;
        assert!(attr(&span, INCOMING_CONTEXT_ATTRIBUTE).is_none());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_trusting_edge_continues_the_trace_and_counts_dropped_baggage() {
        // 100 members, 9999 bytes: over both W3C limits.
        let baggage: Vec<String> = (0..100)
            .map(|i| format!("k{i:03}={}", "v".repeat(94)))
            .collect();
        let (_, span) = through_edge(false, with_context(&baggage.join(","))).await;
        assert_eq!(span.span_context.trace_id().to_string(), CALLER_TRACE);
        assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert!(attr(&span, INCOMING_CONTEXT_ATTRIBUTE).is_none());
        assert_eq!(
            attr(&span, propagation::BAGGAGE_DROPPED_ATTRIBUTE),
            Some(&opentelemetry::Value::I64(36))
        );
        // What was kept still reaches the span (the first 16, sorted).
        assert!(attr(&span, "baggage.k000").is_some());

        let (_, span) = through_edge(false, with_context("tenant=ok")).await;
        assert!(attr(&span, propagation::BAGGAGE_DROPPED_ATTRIBUTE).is_none());
        assert_eq!(
            attr(&span, "baggage.tenant").map(|v| v.as_str()),
            Some("ok".into())
        );
    }

    /// Through a real router, the real `trace_http` layer and the
    /// processor that writes the layer's times onto the span: the request's
    /// exemplar names the exported SERVER span, and its value is exactly
    /// that span's duration (`metrics::clock`).
    #[tokio::test(flavor = "current_thread")]
    async fn the_exemplar_is_the_exported_spans_ids_and_duration() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(MeasuredTimesProcessor::new(SimpleSpanProcessor::new(
                exporter.clone(),
            )))
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let guard = tracing::subscriber::set_default(subscriber);
        // A route of its own: the process-wide registry is shared by tests.
        let route = "/api/exemplar-duration";
        let app = Router::new().route(route, get(|| async { "ok" })).layer(
            axum::middleware::from_fn_with_state(HttpTracing::default(), trace_http),
        );
        let request = Request::get(route).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        drop(guard);
        assert_eq!(response.status(), StatusCode::OK);
        provider.force_flush().unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        let exported = span
            .end_time
            .duration_since(span.start_time)
            .unwrap()
            .as_secs_f64();

        let trace_id = span.span_context.trace_id().to_string();
        let samples = crate::metrics::parse_exposition(&crate::metrics::global().encode());
        let exemplar = samples
            .into_iter()
            .filter(|s| s.name == "http_server_request_duration_seconds_bucket")
            .filter(|s| {
                s.labels
                    .iter()
                    .any(|(k, v)| k == "http_route" && v == route)
            })
            .find_map(|s| s.exemplar)
            .expect("an exemplar for the request");
        let label = |key: &str| {
            exemplar
                .labels
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(label("trace_id"), Some(trace_id));
        assert_eq!(
            label("span_id"),
            Some(span.span_context.span_id().to_string())
        );
        assert_eq!(
            exemplar.value, exported,
            "the exemplar's value, the span's duration"
        );
    }

    #[test]
    fn host_headers_split_into_address_and_port() {
        assert_eq!(split_host("gateway:8080"), ("gateway", Some(8080)));
        assert_eq!(split_host("localhost"), ("localhost", None));
        assert_eq!(split_host("[::1]:80"), ("::1", Some(80)));
        assert_eq!(split_host("::1"), ("::1", None));
    }
}
