//! How spans and durations are written in reports.
//!
//! Every check speaks about spans the way a person reads a trace view:
//! `order tracemesh.order.v1.OrderService/PlaceOrder [server]` — service,
//! span name, kind — never by raw span id, which means nothing to a reader
//! and changes on every run. Ids are added only where they disambiguate
//! (duplicates, orphans).

use crate::model::{SpanKind, SpanRecord};

/// `service name [kind]`, the name of a span in every report.
pub fn describe(span: &SpanRecord) -> String {
    describe_parts(&span.service_name, &span.name, span.kind)
}

/// Same as [`describe`], from the parts (expected spans have no record).
pub fn describe_parts(service: &str, name: &str, kind: SpanKind) -> String {
    format!("{service} {name} [{}]", kind_label(kind))
}

/// The lowercase word for a span kind, as written in expectation files.
pub fn kind_label(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "unspecified",
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}

/// The inverse of [`kind_label`].
pub fn parse_kind(word: &str) -> Option<SpanKind> {
    Some(match word {
        "unspecified" => SpanKind::Unspecified,
        "internal" => SpanKind::Internal,
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => return None,
    })
}

/// Nanoseconds as milliseconds with three decimals (`12.345 ms`): the unit
/// people think in for request latency, precise to the microsecond.
pub fn fmt_nanos(nanos: u64) -> String {
    format!("{:.3} ms", nanos_to_ms(nanos))
}

/// Nanoseconds to (fractional) milliseconds, for figures.
pub fn nanos_to_ms(nanos: u64) -> f64 {
    nanos as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_words_round_trip() {
        for kind in [
            SpanKind::Unspecified,
            SpanKind::Internal,
            SpanKind::Server,
            SpanKind::Client,
            SpanKind::Producer,
            SpanKind::Consumer,
        ] {
            assert_eq!(parse_kind(kind_label(kind)), Some(kind));
        }
        assert_eq!(parse_kind("Server"), None);
    }

    #[test]
    fn durations_read_as_milliseconds() {
        assert_eq!(fmt_nanos(12_345_678), "12.346 ms");
        assert_eq!(fmt_nanos(0), "0.000 ms");
    }
}
