//! `tracestate`: vendor entries next to `traceparent`, an ordered list of
//! `key=value` list-members.
//!
//! The rules are today Level 1's as opentelemetry's `TraceState` applies
//! them (at most 32 members read; keys of lowercase letters, digits and
//! `_-*/` with at most one `@vendor`; values without `,` or `=`); one bad
//! member refuses the whole header, which then counts as absent. The
//! services' extraction hides a refused `tracestate` ([`crate::propagation`]),
//! so a rule added here reaches every service; the propagator writes the
//! outgoing value itself, and the traceparent fuzz target checks it is what
//! [`format_tracestate`] gives.

use opentelemetry::trace::TraceState;

/// The members of a `tracestate` value, in order; `None` when the rules
/// above refuse it.
pub fn parse_tracestate(value: &str) -> Option<TraceState> {
    value.parse().ok()
}

/// The `tracestate` value for `state`: `key=value` members joined by `,`,
/// in order; empty when there are none (then no header is sent).
pub fn format_tracestate(state: &TraceState) -> String {
    state.header()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_their_order_and_blanks_are_skipped() {
        let state = parse_tracestate(" rojo=00f067aa0ba902b7 ,,\tcongo=t61rcWkgMzE").unwrap();
        assert_eq!(state.get("congo"), Some("t61rcWkgMzE"));
        assert_eq!(
            format_tracestate(&state),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
        );
        assert_eq!(format_tracestate(&parse_tracestate("").unwrap()), "");
    }

    #[test]
    fn one_bad_member_refuses_the_header() {
        for bad in ["Upper=1", "a=1,novalue", "a=b=c", "a=1,@vendor=2"] {
            assert_eq!(parse_tracestate(bad), None, "{bad}");
        }
    }
}
