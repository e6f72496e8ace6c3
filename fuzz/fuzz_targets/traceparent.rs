//! Fuzzes the W3C Trace Context parser (`tracemesh_runtime::w3c`) and the
//! services' extraction built on it: the input is split at its first 0xff
//! byte into a `traceparent` and a `tracestate` header (0xff is obs-text,
//! which no traceparent or tracestate may hold, so the split costs nothing
//! of interest), parsed by `w3c::TraceParent::parse` and extracted by
//! `tracemesh_runtime::propagation::extract` with the propagator every
//! service installs. A context that comes out valid must survive
//! re-injection unchanged, as it does when a service calls the next.
//!
//! The oracle for acceptance is the W3C grammar itself, written out below
//! independently of the code under test (a parser checked against itself
//! proves nothing): the parser must read exactly what it reads, and
//! `extract` promises that a malformed `traceparent` starts a new trace.

#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use opentelemetry::trace::{TraceContextExt, TraceId};
use tracemesh_runtime::propagation;
use tracemesh_runtime::w3c::{TraceParent, TraceStateList};

fuzz_target!(|data: &[u8]| {
    tracemesh_fuzz::install_propagators();
    let (traceparent, tracestate) = match data.iter().position(|b| *b == 0xff) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    // Only what `HeaderValue::from_bytes` accepts can arrive in a request.
    let mut headers = HeaderMap::new();
    let Ok(value) = HeaderValue::from_bytes(traceparent) else {
        return;
    };
    headers.insert("traceparent", value);
    if let Some(tracestate) = tracestate {
        let Ok(value) = HeaderValue::from_bytes(tracestate) else {
            return;
        };
        headers.insert("tracestate", value);
    }

    let cx = propagation::extract(&headers);
    let span = cx.span();
    let sc = span.span_context();
    // Values with bytes outside visible ASCII (obs-text) are unreadable as
    // text and ignored, as the SDK's own `HeaderExtractor` does. HTTP trims
    // optional whitespace around a field value; so does extract.
    let sent = headers["traceparent"]
        .to_str()
        .map(|t| t.trim_matches([' ', '\t']))
        .ok();
    let expected = sent.and_then(w3c_traceparent);
    let parsed = sent.and_then(|t| TraceParent::parse(t).ok());
    let read = parsed
        .as_ref()
        .map(|p| (p.trace_id.as_str(), p.parent_id.as_str(), p.sampled()));
    assert_eq!(read, expected, "traceparent {sent:?}: parsed as {parsed:?}");
    assert_eq!(
        sc.is_valid(),
        expected.is_some(),
        "traceparent {sent:?}: extracted {sc:?}, the W3C grammar says {expected:?}"
    );
    if let Some((trace_id, span_id, sampled)) = expected {
        assert_eq!(format!("{}", sc.trace_id()), trace_id);
        assert_eq!(format!("{}", sc.span_id()), span_id);
        assert_eq!(sc.is_sampled(), sampled);
    }
    if !sc.is_valid() {
        // A malformed header starts a new trace: nothing to carry on.
        assert!(TraceParent::from_span_context(sc).is_none());
        return;
    }
    assert_ne!(
        sc.trace_id(),
        TraceId::INVALID,
        "a valid context with a zero trace id"
    );
    assert!(sc.is_remote(), "an extracted context must be remote");
    // The tracestate is what the W3C module reads (none when it refuses
    // it): the span context holds the SDK's copy of it, and the next hop
    // receives the list itself.
    let sent_state = headers.get("tracestate").and_then(|v| v.to_str().ok());
    let accepted = sent_state.and_then(|s| TraceStateList::parse(s).ok());
    assert_eq!(
        sc.trace_state(),
        &accepted
            .as_ref()
            .map(TraceStateList::to_otel)
            .unwrap_or_default(),
        "tracestate {sent_state:?}"
    );

    // The next hop: inject into fresh headers and extract there.
    let mut onward = HeaderMap::new();
    propagation::inject(&cx, &mut onward);
    let injected = onward
        .get("traceparent")
        .expect("a valid context is always injected")
        .to_str()
        .expect("traceparent is ASCII")
        .to_owned();
    // A `traceresponse` has the same form as the injected traceparent.
    assert_eq!(
        TraceParent::from_span_context(sc)
            .map(|t| t.to_string())
            .as_deref(),
        Some(injected.as_str())
    );
    let written = onward.get("tracestate").and_then(|v| v.to_str().ok());
    let expected_written = accepted
        .as_ref()
        .filter(|list| !list.is_empty())
        .map(ToString::to_string);
    assert_eq!(
        written,
        expected_written.as_deref(),
        "tracestate {sent_state:?}"
    );

    let again = propagation::extract(&onward);
    let again_span = again.span();
    let sc2 = again_span.span_context();
    assert!(
        sc2.is_valid(),
        "re-injected {injected:?} no longer extracts"
    );
    assert_eq!(
        sc2.trace_id(),
        sc.trace_id(),
        "trace id changed via {injected:?}"
    );
    assert_eq!(
        sc2.span_id(),
        sc.span_id(),
        "span id changed via {injected:?}"
    );
    assert_eq!(
        sc2.trace_flags(),
        sc.trace_flags(),
        "flags changed via {injected:?}"
    );
    assert_eq!(
        sc2.trace_state().header(),
        sc.trace_state().header(),
        "tracestate changed on the way through"
    );
});

/// The trace id, parent id and sampled flag of a `traceparent` the W3C
/// Trace Context grammar accepts (Level 1, section 3.2, with the rules for
/// versions above 00), `None` when a receiver must ignore it.
fn w3c_traceparent(value: &str) -> Option<(&str, &str, bool)> {
    let lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let not_zero = |s: &str| s.bytes().any(|b| b != b'0');
    // version "-" trace-id "-" parent-id "-" trace-flags: 2+1+32+1+16+1+2.
    if value.len() < 55 || !value.is_char_boundary(55) {
        return None;
    }
    let (fixed, rest) = value.split_at(55);
    let b = fixed.as_bytes();
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let (version, trace_id, span_id, flags) =
        (&fixed[..2], &fixed[3..35], &fixed[36..52], &fixed[53..55]);
    if !(lower_hex(version) && lower_hex(trace_id) && lower_hex(span_id) && lower_hex(flags)) {
        return None;
    }
    match version {
        "ff" => return None,
        // Version 00 is exactly these 55 characters.
        "00" if !rest.is_empty() => return None,
        // A later version may append fields, each after a dash.
        _ if !(rest.is_empty() || rest.starts_with('-')) => return None,
        _ => {}
    }
    if !not_zero(trace_id) || !not_zero(span_id) {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace_id, span_id, flags & 1 == 1))
}
