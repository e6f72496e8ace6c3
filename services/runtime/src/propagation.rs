//! W3C Trace Context and W3C Baggage across process boundaries.
//!
//! HTTP requests and gRPC calls both travel as `http::Request`s at the tower
//! level (gRPC metadata *is* HTTP/2 headers), so one pair of functions serves
//! every hop. The propagators are installed globally by
//! [`crate::telemetry::init`]: trace context plus baggage.

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::{Context, KeyValue};
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

/// At most this many baggage entries become span attributes, each value cut
/// to [`MAX_BAGGAGE_VALUE_CHARS`]: baggage comes from the outside world and
/// must not blow up every span of the trace.
pub const MAX_BAGGAGE_ATTRIBUTES: usize = 16;
pub const MAX_BAGGAGE_VALUE_CHARS: usize = 256;

/// The baggage in `cx` as `baggage.<key>` span attributes, so a trace shows
/// what each hop received (the server layers add them to SERVER spans).
pub fn baggage_attributes(cx: &Context) -> Vec<KeyValue> {
    let mut entries: Vec<(String, String)> = cx
        .baggage()
        .iter()
        .map(|(key, (value, _metadata))| (key.to_string(), value.to_string()))
        .collect();
    // Baggage is a map: sort so the attributes kept are the same every time.
    entries.sort();
    entries
        .into_iter()
        .take(MAX_BAGGAGE_ATTRIBUTES)
        .map(|(key, value)| {
            let value: String = value.chars().take(MAX_BAGGAGE_VALUE_CHARS).collect();
            KeyValue::new(format!("baggage.{key}"), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baggage_becomes_bounded_sorted_attributes() {
        // The API itself caps baggage at 64 entries and 8192 bytes (the W3C
        // limits); stay under those so our own bounds are what is tested.
        let long = "x".repeat(1000);
        let cx = Context::new().with_baggage(
            (0..40)
                .map(|i| {
                    let value = if i == 0 { long.clone() } else { "v".repeat(50) };
                    KeyValue::new(format!("k{i:02}"), value)
                })
                .collect::<Vec<_>>(),
        );
        let attrs = baggage_attributes(&cx);
        assert_eq!(attrs.len(), MAX_BAGGAGE_ATTRIBUTES);
        assert_eq!(attrs[0].key.as_str(), "baggage.k00");
        assert_eq!(attrs[0].value.as_str().len(), MAX_BAGGAGE_VALUE_CHARS);
    }
}
