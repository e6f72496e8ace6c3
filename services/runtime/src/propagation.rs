//! W3C Trace Context and W3C Baggage across process boundaries.
//!
//! HTTP requests and gRPC calls both travel as `http::Request`s at the tower
//! level (gRPC metadata *is* HTTP/2 headers), so one pair of functions serves
//! every hop. The propagators are installed globally by
//! [`crate::telemetry::init`]: trace context plus baggage.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};

/// The remote parent context (and baggage) carried by `headers`. A missing or
/// malformed `traceparent` yields a context without a remote span, so the
/// next span starts a new trace, as the W3C specification requires: bad
/// headers are never an error.
pub fn extract(headers: &HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// Writes `cx`'s `traceparent`, `tracestate` and `baggage` into `headers`.
pub fn inject(cx: &Context, headers: &mut HeaderMap) {
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(cx, &mut HeaderInjector(headers))
    });
}

/// The W3C Trace Context Level 2 `traceresponse` value for a span context:
/// `00-<trace-id>-<span-id>-<flags>`. `None` for an invalid context.
pub fn traceresponse(sc: &opentelemetry::trace::SpanContext) -> Option<String> {
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}
