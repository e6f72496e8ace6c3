//! What a receiver continues with: the one place that looks at *all* the
//! `traceparent` and `tracestate` header fields a request carried and
//! decides, by the W3C rules, which trace context they make.
//!
//! HTTP lets a request repeat a header (so does gRPC metadata, which is
//! HTTP/2 headers), and RFC 9110 section 5.3 "Field Order" says how a
//! receiver reads repeated fields: as one value, the fields joined in
//! order by commas ([`combine_fields`]). Trace Context Level 2 applies that
//! rule to both of its headers:
//!
//! - `tracestate` is a list, so several fields are one longer list
//!   (section "tracestate Header Field Values": "When receiving multiple
//!   tracestate header fields, they MUST be combined into a single
//!   header"); the combined list must then pass every rule, including the
//!   32-member limit.
//! - `traceparent` is not a list: its grammar has no comma, so two fields
//!   combined never parse, and the request is treated like one with a
//!   malformed `traceparent`: the trace restarts (a new trace id; section
//!   "Processing Model", "If ... invalid, the vendor creates a new
//!   traceparent header and deletes tracestate"). Picking one of the two
//!   would let whoever added the second choose the trace.
//! - A `tracestate` counts only next to a valid `traceparent` ("If a
//!   tracestate header is received without an accompanying traceparent
//!   header, it is invalid and MUST be discarded"); an invalid
//!   `tracestate` is discarded while the `traceparent` is continued.
//!
//! [`crate::propagation`] reads the fields of a request and hands the
//! result to the OpenTelemetry propagator; nothing else decides.

use std::borrow::Cow;

use super::{TraceParent, TraceStateList};

/// The fields of one header, in the order received, as the one value RFC
/// 9110 section 5.3 makes of them: joined by `,`. Borrowed when there is
/// a single field.
pub fn combine_fields<'a>(fields: &[&'a str]) -> Cow<'a, str> {
    match fields {
        [] => Cow::Borrowed(""),
        [one] => Cow::Borrowed(one),
        several => Cow::Owned(several.join(",")),
    }
}

/// The trace context a request's headers give a receiver (see the file
/// comment for the rules).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncomingContext {
    /// The caller's context to continue; `None` starts a new trace.
    pub traceparent: Option<TraceParent>,
    /// The vendor entries to forward with it; `None` when absent, refused,
    /// or without a `traceparent` to go with.
    pub tracestate: Option<TraceStateList>,
}

impl IncomingContext {
    /// Decides from every `traceparent` and every `tracestate` field of a
    /// request, each in the order received (empty when the header is
    /// absent).
    pub fn from_fields(traceparent: &[&str], tracestate: &[&str]) -> IncomingContext {
        if traceparent.is_empty() {
            return IncomingContext::default();
        }
        let Ok(traceparent) = TraceParent::parse(&combine_fields(traceparent)) else {
            return IncomingContext::default();
        };
        let tracestate = if tracestate.is_empty() {
            None
        } else {
            TraceStateList::from_fields(tracestate).ok()
        };
        IncomingContext {
            traceparent: Some(traceparent),
            tracestate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const OTHER_TP: &str = "00-12345678901234567890123456789012-1234567890123456-01";

    #[test]
    fn fields_are_joined_in_order() {
        assert_eq!(combine_fields(&[]), "");
        assert!(matches!(combine_fields(&["a=1"]), Cow::Borrowed("a=1")));
        assert_eq!(combine_fields(&["a=1", "", "b=2"]), "a=1,,b=2");
    }

    #[test]
    fn one_valid_traceparent_is_continued_with_its_tracestate() {
        let incoming = IncomingContext::from_fields(&[TP], &["rojo=1", "congo=2"]);
        assert_eq!(incoming.traceparent.unwrap().to_string(), TP);
        assert_eq!(incoming.tracestate.unwrap().to_string(), "rojo=1,congo=2");
    }

    #[test]
    fn two_traceparent_fields_restart_the_trace_even_when_equal() {
        for fields in [[TP, OTHER_TP], [TP, TP], [TP, ""]] {
            let incoming = IncomingContext::from_fields(&fields, &["rojo=1"]);
            assert_eq!(incoming, IncomingContext::default(), "{fields:?}");
        }
    }

    #[test]
    fn tracestate_needs_a_valid_traceparent() {
        assert_eq!(
            IncomingContext::from_fields(&[], &["rojo=1"]),
            IncomingContext::default()
        );
        assert_eq!(
            IncomingContext::from_fields(&["00-bad"], &["rojo=1"]),
            IncomingContext::default()
        );
    }

    #[test]
    fn an_invalid_tracestate_is_dropped_and_the_traceparent_kept() {
        for fields in [
            &["foo=1", "Bad=2"][..],
            &["foo=bar=baz"],
            &["foo=,bar=3"],
            &["@foo=1,bar=2"],
            &["foo=1", &format!("{}=1", "z".repeat(257))],
        ] {
            let incoming = IncomingContext::from_fields(&[TP], fields);
            assert!(incoming.traceparent.is_some(), "{fields:?}");
            assert_eq!(incoming.tracestate, None, "{fields:?}");
        }
    }

    #[test]
    fn an_empty_tracestate_is_accepted_as_an_empty_list() {
        let incoming = IncomingContext::from_fields(&[TP], &[""]);
        assert!(incoming.tracestate.unwrap().is_empty());
        let incoming = IncomingContext::from_fields(&[TP], &["", "foo=1"]);
        assert_eq!(incoming.tracestate.unwrap().to_string(), "foo=1");
        // No field at all is absence, not an empty list.
        assert_eq!(IncomingContext::from_fields(&[TP], &[]).tracestate, None);
    }
}
