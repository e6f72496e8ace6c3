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

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::error_body::ErrorBody;
use crate::fault::Faults;
use crate::propagation;

/// Options of the HTTP server middleware, passed as its state.
#[derive(Debug, Clone, Default)]
pub struct HttpTracing {
    pub faults: Faults,
    /// Answer with a W3C `traceresponse` header (the gateway does).
    pub traceresponse: bool,
}

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
    let span = tracing::info_span!("http.server", otel.name = %name, otel.kind = "server");
    // A missing or malformed traceparent gives an empty context: a new trace.
    let parent = propagation::extract(req.headers());
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
    let started = std::time::Instant::now();
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
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        let code = status.as_u16();
        if status.is_server_error() {
            tracing::warn!(status = code, elapsed_ms, "{name}");
        } else if status.is_client_error() {
            tracing::info!(status = code, elapsed_ms, "{name}");
        } else {
            tracing::debug!(status = code, elapsed_ms, "{name}");
        }
    });
    if opts.traceresponse {
        let cx = span.context();
        if let Some(value) = propagation::traceresponse(cx.span().span_context())
            && let Ok(value) = HeaderValue::from_str(&value)
        {
            response.headers_mut().insert("traceresponse", value);
        }
    }
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

    #[test]
    fn host_headers_split_into_address_and_port() {
        assert_eq!(split_host("gateway:8080"), ("gateway", Some(8080)));
        assert_eq!(split_host("localhost"), ("localhost", None));
        assert_eq!(split_host("[::1]:80"), ("::1", Some(80)));
        assert_eq!(split_host("::1"), ("::1", None));
    }
}
