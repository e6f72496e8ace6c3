//! W3C Trace Context and W3C Baggage across process boundaries.
//!
//! HTTP requests and gRPC calls both travel as `http::Request`s at the tower
//! level (gRPC metadata *is* HTTP/2 headers), so one pair of functions serves
//! every hop. The propagators are installed globally by
//! [`crate::telemetry::init`]: trace context plus baggage.
//!
//! Baggage limits. The W3C Baggage specification (section "Limits") asks a
//! platform to propagate at least 64 list-members and 8192 bytes, and lets
//! it drop what is beyond. opentelemetry 0.33 does not keep "what fits":
//! its `BaggagePropagator` ignores a header longer than 8192 bytes
//! *entirely*, and otherwise silently keeps the first 64 comma-separated
//! items (the `Baggage` map also refuses entries past 64 or past 8192 bytes
//! of keys, values and metadata). So [`extract_reporting`] first cuts the
//! header itself ([`limit_baggage`]): it keeps the leading list-members
//! while there are at most [`MAX_BAGGAGE_MEMBERS`] and they take at most
//! [`MAX_BAGGAGE_BYTES`] (joined by commas), drops the first member that
//! does not fit and all after it (never half a member), and reports how
//! many it dropped; the server layers record that on their SERVER span as
//! [`BAGGAGE_DROPPED_ATTRIBUTE`]. What it hands the library is then within
//! every library limit, so the library drops nothing more for size. Several
//! `baggage` headers are joined first, as the W3C specification allows.
//!
//! [`carries_context`] tells whether a request brought any context at all,
//! for an edge that ignores it (`HttpTracing::untrusted_edge`).

use std::borrow::Cow;

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::Extractor;
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::HeaderInjector;

/// W3C Baggage: the list-members a platform must be able to propagate.
pub const MAX_BAGGAGE_MEMBERS: usize = 64;
/// W3C Baggage: the bytes of `baggage` a platform must be able to propagate.
pub const MAX_BAGGAGE_BYTES: usize = 8192;
/// SERVER span attribute: how many list-members of the incoming `baggage`
/// were dropped to stay within the limits (set only when some were).
pub const BAGGAGE_DROPPED_ATTRIBUTE: &str = "tracemesh.baggage.dropped";

const BAGGAGE_HEADER: &str = "baggage";
const TRACE_CONTEXT_HEADERS: [&str; 3] = ["traceparent", "tracestate", BAGGAGE_HEADER];

/// The remote parent context (and baggage) carried by `headers`. A missing or
/// malformed `traceparent` yields a context without a remote span, so the
/// next span starts a new trace, as the W3C specification requires: bad
/// headers are never an error. Baggage is cut to the W3C limits (see the
/// file comment).
pub fn extract(headers: &HeaderMap) -> Context {
    extract_reporting(headers).context
}

/// What [`extract_reporting`] found.
#[derive(Debug)]
pub struct Extracted {
    pub context: Context,
    /// Baggage list-members dropped to stay within the W3C limits.
    pub baggage_dropped: usize,
}

/// [`extract`], also saying how many baggage list-members were dropped.
pub fn extract_reporting(headers: &HeaderMap) -> Extracted {
    // Header values that are not visible ASCII are skipped, as the
    // library's own `HeaderExtractor` does.
    let values: Vec<&str> = headers
        .get_all(BAGGAGE_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let joined = match values.as_slice() {
        [] => None,
        [one] => Some(Cow::Borrowed(*one)),
        several => Some(Cow::Owned(several.join(","))),
    };
    let (baggage, baggage_dropped) = match &joined {
        Some(value) => {
            let (kept, dropped) = limit_baggage(value);
            (Some(kept), dropped)
        }
        None => (None, 0),
    };
    let carrier = LimitedBaggage { headers, baggage };
    let context = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    Extracted {
        context,
        baggage_dropped,
    }
}

/// Cuts a `baggage` value to the W3C limits: the leading list-members while
/// there are at most [`MAX_BAGGAGE_MEMBERS`] of them and, joined by commas,
/// at most [`MAX_BAGGAGE_BYTES`]; the rest dropped whole. Empty members (a
/// stray comma) are skipped and not counted. Returns the value to propagate
/// and the number of members dropped.
pub fn limit_baggage(value: &str) -> (Cow<'_, str>, usize) {
    let members: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    let mut bytes = 0;
    let fitting = members
        .iter()
        .take(MAX_BAGGAGE_MEMBERS)
        .take_while(|member| {
            // A comma before every member but the first.
            bytes += member.len() + usize::from(bytes > 0);
            bytes <= MAX_BAGGAGE_BYTES
        })
        .count();
    let dropped = members.len() - fitting;
    if dropped == 0 {
        (Cow::Borrowed(value), 0)
    } else {
        (Cow::Owned(members[..fitting].join(",")), dropped)
    }
}

/// True when the request carries any trace context: `traceparent`,
/// `tracestate` or `baggage`.
pub fn carries_context(headers: &HeaderMap) -> bool {
    TRACE_CONTEXT_HEADERS
        .iter()
        .any(|name| headers.contains_key(*name))
}

/// Whether a `traceparent` value has the shape the W3C Trace Context
/// grammar requires: `version-traceid-parentid-flags`, 2, 32, 16 and 2
/// lowercase hex digits, nothing after version 00 and only `-...` after a
/// later version. opentelemetry_sdk 0.33 parses each field with
/// `from_str_radix`, which takes any length and a leading `+`, so alone it
/// continues a trace from `0-c-1-1` (found by `fuzz/fuzz_targets/traceparent.rs`)
/// where the specification says to start a new one. The SDK still rejects
/// version ff and all-zero ids.
fn is_well_formed_traceparent(value: &str) -> bool {
    let v = value.trim().as_bytes();
    let hex = |range: std::ops::Range<usize>| {
        v[range]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    v.len() >= 55
        && (v[2], v[35], v[52]) == (b'-', b'-', b'-')
        && hex(0..2)
        && hex(3..35)
        && hex(36..52)
        && hex(53..55)
        && (v.len() == 55 || (&v[..2] != b"00" && v[55] == b'-'))
}

/// The request's headers, with `baggage` replaced by the cut value.
struct LimitedBaggage<'a> {
    headers: &'a HeaderMap,
    baggage: Option<Cow<'a, str>>,
}

impl Extractor for LimitedBaggage<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if key.eq_ignore_ascii_case(BAGGAGE_HEADER) {
            self.baggage.as_deref()
        } else if key.eq_ignore_ascii_case("traceparent") {
            // Hidden unless well formed: the SDK's parser alone accepts
            // `0-c-1-1` (see `is_well_formed_traceparent`).
            self.headers
                .get(key)
                .and_then(|v| v.to_str().ok())
                .filter(|v| is_well_formed_traceparent(v))
        } else {
            // As `HeaderExtractor` does: the first value, if visible ASCII.
            self.headers.get(key).and_then(|v| v.to_str().ok())
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.headers.keys().map(|name| name.as_str()).collect()
    }
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
    use opentelemetry::propagation::TextMapCompositePropagator;
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_http::HeaderExtractor;
    use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

    /// The propagators `telemetry::init` installs. Global, but every test
    /// here installs the same ones, so the order tests run in does not matter.
    fn install_propagators() {
        opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ]));
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    /// `count` members `k000=vvv…`, each `member_bytes` long.
    fn members(count: usize, member_bytes: usize) -> Vec<String> {
        (0..count)
            .map(|i| format!("k{i:03}={}", "v".repeat(member_bytes - 5)))
            .collect()
    }

    #[test]
    fn baggage_within_the_limits_is_untouched() {
        let value = members(64, 100).join(",");
        let (kept, dropped) = limit_baggage(&value);
        assert_eq!((kept.as_ref(), dropped), (value.as_str(), 0));
        // Exactly 8192 bytes: 8 members of 1023 bytes plus 7 commas is 8191; one more byte.
        let mut exact = members(8, 1023).join(",");
        exact.push('v');
        assert_eq!(exact.len(), MAX_BAGGAGE_BYTES);
        assert_eq!(limit_baggage(&exact).1, 0);
    }

    #[test]
    fn baggage_past_64_members_keeps_the_first_64() {
        let all = members(100, 10);
        let value = all.join(", ");
        let (kept, dropped) = limit_baggage(&value);
        assert_eq!(dropped, 36);
        assert_eq!(kept, all[..64].join(","));
    }

    #[test]
    fn baggage_past_8192_bytes_keeps_the_whole_members_that_fit() {
        // 40 members of 200 bytes and 39 commas are 8039 bytes; a 41st makes 8240.
        let all = members(90, 200);
        let value = all.join(",");
        let (kept, dropped) = limit_baggage(&value);
        assert_eq!(dropped, 50);
        assert_eq!(kept, all[..40].join(","));
        // One member alone over the limit: nothing is kept, nothing is cut in half.
        let huge = format!("huge={}", "x".repeat(9000));
        let (kept, dropped) = limit_baggage(&huge);
        assert_eq!((kept.as_ref(), dropped), ("", 1));
        // Stray commas are not members.
        assert_eq!(limit_baggage("a=1,,b=2,").1, 0);
    }

    #[test]
    fn extraction_keeps_the_first_members_where_the_library_alone_keeps_nothing() {
        install_propagators();
        // 100 members, 10,000 bytes: over both limits.
        let all = members(100, 99);
        let value = all.join(",");
        assert_eq!(value.len(), 9999);
        let h = headers(&[("baggage", value.clone())]);

        // The library by itself drops a header over 8192 bytes entirely.
        let library_only =
            opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(&h)));
        assert_eq!(library_only.baggage().len(), 0);

        let extracted = extract_reporting(&h);
        let baggage = extracted.context.baggage();
        assert_eq!(baggage.len(), 64);
        assert_eq!(extracted.baggage_dropped, 36);
        assert!(baggage.get("k000").is_some() && baggage.get("k063").is_some());
        assert!(baggage.get("k064").is_none());
    }

    #[test]
    fn several_baggage_headers_are_joined_and_trace_context_still_extracted() {
        install_propagators();
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let h = headers(&[
            ("traceparent", traceparent.into()),
            ("baggage", "a=1".into()),
            ("baggage", "b=2".into()),
        ]);
        assert!(carries_context(&h));
        let extracted = extract_reporting(&h);
        assert_eq!(extracted.baggage_dropped, 0);
        let baggage = extracted.context.baggage();
        assert_eq!(baggage.get("a").map(|v| v.as_str()), Some("1"));
        assert_eq!(baggage.get("b").map(|v| v.as_str()), Some("2"));
        assert_eq!(
            extracted
                .context
                .span()
                .span_context()
                .trace_id()
                .to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(!carries_context(&HeaderMap::new()));
        assert!(carries_context(&headers(&[("tracestate", "k=v".into())])));
    }

    #[test]
    fn malformed_traceparent_starts_a_new_trace() {
        install_propagators();
        let extracted = |value: &str| {
            let cx = extract(&headers(&[("traceparent", value.to_string())]));
            let sc = cx.span().span_context().clone();
            sc.is_valid().then(|| sc.trace_id().to_string())
        };
        // The fuzzer's minimised input: every field short. The SDK alone
        // took it as trace 0…0c, parent 0…01, sampled.
        assert_eq!(extracted("0-c-1-1"), None);
        // Its original find: a 12-digit parent id.
        assert_eq!(
            extracted("  00-0af8140049cd43dd8448eb211c80319c-b7a169203331-01  "),
            None
        );
        // Short of those, the same shapes are accepted, with surrounding
        // spaces, and a later version may add fields.
        let id = "0af7651916cd43dd8448eb211c80319c";
        for ok in [
            format!("00-{id}-b7ad6b7169203331-01"),
            format!(" 00-{id}-b7ad6b7169203331-00 "),
            format!("cc-{id}-b7ad6b7169203331-01-future"),
        ] {
            assert_eq!(extracted(&ok).as_deref(), Some(id), "{ok}");
        }
        for bad in [
            format!("00-{id}-b7ad6b7169203331-01-"),
            format!("00-+{}-b7ad6b7169203331-01", &id[1..]),
            format!("00-{id}-b7ad6b7169203331-1"),
            format!("cc-{id}-b7ad6b7169203331-01x"),
        ] {
            assert_eq!(extracted(&bad), None, "{bad}");
        }
    }

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
