//! Jaeger's trace context header, `uber-trace-id`, for `OTEL_PROPAGATORS=jaeger`.
//!
//! Ours rather than `opentelemetry-jaeger-propagator`: that crate's latest
//! release (0.32.0) is built on opentelemetry 0.32, whose
//! `TextMapPropagator` is not 0.33's. The format is small:
//!
//! ```text
//! uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}
//! ```
//!
//! ids in hex, up to 32 and 16 digits (shorter ones are zero-padded), the
//! parent id deprecated (`0` on the way out, ignored on the way in), flags
//! in hex with bit 1 = sampled, bit 2 = debug. A value whose colons were
//! percent-encoded (`%3A`, as some HTTP clients send it) is decoded first.
//!
//! Only the trace context: Jaeger baggage (`uberctx-{key}` headers) is not
//! read or written; W3C `baggage` carries baggage when `baggage` is listed
//! too.

use std::borrow::Cow;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

/// The header Jaeger clients send.
pub const JAEGER_HEADER: &str = "uber-trace-id";

/// Extracts and injects `uber-trace-id`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JaegerPropagator;

/// The span context in an `uber-trace-id` value, `None` when malformed
/// (a new trace then starts, as with a malformed `traceparent`).
pub fn parse_uber_trace_id(value: &str) -> Option<SpanContext> {
    let value = value.trim();
    let value = if value.contains(':') {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.replace("%3A", ":").replace("%3a", ":"))
    };
    let mut parts = value.split(':');
    let (trace, span, _parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let trace_id = hex_u128(trace, 32).map(TraceId::from)?;
    let span_id = hex_u128(span, 16).map(|id| SpanId::from(id as u64))?;
    let flags = hex_u128(flags, 2)?;
    let sampled = if flags & 0x01 != 0 {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let cx = SpanContext::new(trace_id, span_id, sampled, true, TraceState::default());
    cx.is_valid().then_some(cx)
}

/// 1 to `max_digits` hex digits.
fn hex_u128(s: &str, max_digits: usize) -> Option<u128> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

impl TextMapPropagator for JaegerPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            let flags = u8::from(sc.is_sampled());
            injector.set(
                JAEGER_HEADER,
                format!("{}:{}:0:{flags:x}", sc.trace_id(), sc.span_id()),
            );
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extractor.get(JAEGER_HEADER).and_then(parse_uber_trace_id) {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        static FIELDS: std::sync::LazyLock<[String; 1]> =
            std::sync::LazyLock::new(|| [JAEGER_HEADER.to_string()]);
        FieldIter::new(FIELDS.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jaeger_header_yields_a_remote_sampled_parent() {
        let sc =
            parse_uber_trace_id("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1").unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled() && sc.is_remote());
        // Short ids are zero-padded; encoded colons decoded; debug implies sampled.
        let sc = parse_uber_trace_id("4d0000000000000016%3A17c29%3A0%3A3").unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "000000000000004d0000000000000016"
        );
        assert_eq!(sc.span_id().to_string(), "0000000000017c29");
        assert!(sc.is_sampled());
        assert!(!parse_uber_trace_id("1:2:0:0").unwrap().is_sampled());
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            "",
            "1:2:0",
            "1:2:0:1:5",
            "0:2:0:1",
            "1:0:0:1",
            "x:2:0:1",
            "1:2:0:100",
            &format!("{}:2:0:1", "1".repeat(33)),
            "1:12345678901234567:0:1",
        ] {
            assert!(parse_uber_trace_id(bad).is_none(), "{bad}");
        }
    }
}
