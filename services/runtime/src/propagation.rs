//! W3C Trace Context and W3C Baggage across process boundaries: a
//! request's headers into a [`Context`] and back.
//!
//! HTTP requests and gRPC calls both travel as `http::Request`s at the tower
//! level (gRPC metadata *is* HTTP/2 headers), so one pair of functions serves
//! every hop. They use the global propagator that [`crate::telemetry::init`]
//! installs ([`crate::w3c::install_propagator`]); the headers' grammar and
//! limits are [`crate::w3c`]'s.
//!
//! On the way in, the library's parsers see the headers through a filter
//! (`W3cHeaders`): a `traceparent` or `tracestate` that [`crate::w3c`] refuses is
//! hidden, so the next span starts a new trace as the specification asks
//! (the library alone is laxer, see `w3c/traceparent.rs`), and `baggage`
//! is cut to the W3C limits ([`limit_baggage`]); how many list-members
//! were dropped is reported, and the server layers record it on their SERVER
//! span as [`BAGGAGE_DROPPED_ATTRIBUTE`]. Several `baggage` headers are
//! joined first, as the W3C specification allows.
//!
//! [`carries_context`] tells whether a request brought any context at all,
//! for an edge that ignores it (`HttpTracing::untrusted_edge`).
//!
//! On the way out, the traced clients inject through a [`Hop`]: the callee
//! (a topology [`Service`]) and the service's telemetry faults, so a planted
//! `drop_context` or `corrupt_context` breaks exactly the calls to that
//! callee, and nothing else, in this one place.

use std::borrow::Cow;

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::HeaderInjector;
use rand::Rng;

use crate::fault::{ContextFault, TelemetryFaults};
use crate::topology::Service;

use crate::w3c::{
    BAGGAGE_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER, TraceParent, limit_baggage,
    parse_tracestate,
};

/// SERVER span attribute: how many list-members of the incoming `baggage`
/// were dropped to stay within the limits (set only when some were).
pub const BAGGAGE_DROPPED_ATTRIBUTE: &str = "tracemesh.baggage.dropped";

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
    let carrier = W3cHeaders { headers, baggage };
    let context = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    Extracted {
        context,
        baggage_dropped,
    }
}

/// True when the request carries any header the installed propagators
/// read: `traceparent`, `tracestate` and `baggage` by default, also `b3`,
/// `x-b3-*` or `uber-trace-id` when `OTEL_PROPAGATORS` lists them.
pub fn carries_context(headers: &HeaderMap) -> bool {
    opentelemetry::global::get_text_map_propagator(|p| {
        p.fields().any(|name| headers.contains_key(name))
    })
}

/// The request's headers as the library's parsers see them: `baggage`
/// replaced by the cut value, a `traceparent` or `tracestate` that
/// [`crate::w3c`] refuses hidden.
struct W3cHeaders<'a> {
    headers: &'a HeaderMap,
    baggage: Option<Cow<'a, str>>,
}

impl Extractor for W3cHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if key.eq_ignore_ascii_case(BAGGAGE_HEADER) {
            return self.baggage.as_deref();
        }
        // As `HeaderExtractor` does: the first value, if visible ASCII.
        let value = self.headers.get(key).and_then(|v| v.to_str().ok())?;
        if key.eq_ignore_ascii_case(TRACEPARENT_HEADER) {
            TraceParent::parse(value).is_ok().then_some(value)
        } else if key.eq_ignore_ascii_case(TRACESTATE_HEADER) {
            parse_tracestate(value).is_some().then_some(value)
        } else {
            Some(value)
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

/// Where a traced client's calls go: the callee, and the telemetry faults
/// that may break the context on the way ([`Hop::inject`]). A client is
/// built with one (`Faults::hop(Service::Payment)`); cheap to clone.
#[derive(Debug, Clone)]
pub struct Hop {
    /// `None` for a peer outside the mesh, which no fault names.
    callee: Option<Service>,
    faults: TelemetryFaults,
}

impl Hop {
    /// Calls to `callee`, subject to `faults`.
    pub fn to(callee: Service, faults: &TelemetryFaults) -> Hop {
        Hop {
            callee: Some(callee),
            faults: faults.clone(),
        }
    }

    /// Calls to a peer outside the mesh (the W3C test suite's services):
    /// their context is always injected.
    pub fn external() -> Hop {
        Hop {
            callee: None,
            faults: TelemetryFaults::default(),
        }
    }

    pub fn callee(&self) -> Option<Service> {
        self.callee
    }

    /// [`inject`], unless a telemetry fault on this hop says otherwise:
    /// `drop_context` writes nothing, `corrupt_context` writes a well-formed
    /// `traceparent` naming a random trace and parent (flags, `tracestate`
    /// and baggage kept, as a propagator that mangles only ids would).
    /// The caller's own CLIENT span is not touched either way.
    pub fn inject(&self, cx: &Context, headers: &mut HeaderMap) {
        let fault = self
            .callee
            .and_then(|callee| self.faults.context_fault(callee));
        match fault {
            None => inject(cx, headers),
            Some(ContextFault::Drop) => {}
            Some(ContextFault::Corrupt) => inject(&corrupted(cx), headers),
        }
    }
}

/// `cx` with its span context replaced by one with random (valid) ids.
fn corrupted(cx: &Context) -> Context {
    let real = cx.span().span_context().clone();
    let mut rng = rand::rng();
    // Zero ids are invalid and would not be injected at all: draw non-zero.
    let trace_id = TraceId::from(rng.random_range(1..=u128::MAX));
    let span_id = SpanId::from(rng.random_range(1..=u64::MAX));
    let fake = SpanContext::new(
        trace_id,
        span_id,
        real.trace_flags(),
        true,
        real.trace_state().clone(),
    );
    cx.with_remote_span_context(fake)
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
            KeyValue::new(crate::contract::attr::baggage(&key), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::w3c::install_propagator;
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_http::HeaderExtractor;

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
    fn extraction_keeps_the_first_members_where_the_library_alone_keeps_nothing() {
        install_propagator();
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
        install_propagator();
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
        install_propagator();
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
    fn a_refused_tracestate_is_dropped_and_the_trace_continued() {
        install_propagator();
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        for (tracestate, kept) in [("rojo=1, congo=2", "rojo=1,congo=2"), ("rojo=1,Bad=2", "")] {
            let h = headers(&[
                ("traceparent", traceparent.into()),
                ("tracestate", tracestate.into()),
            ]);
            let cx = extract(&h);
            let sc = cx.span().span_context().clone();
            assert!(sc.is_valid(), "{tracestate}");
            assert_eq!(sc.trace_state().header(), kept, "{tracestate}");
        }
    }

    /// A context with a sampled remote span, `tracestate` and baggage.
    fn outgoing_context() -> Context {
        use opentelemetry::trace::{TraceFlags, TraceState};
        Context::new()
            .with_baggage([KeyValue::new("tenant", "acme")])
            .with_remote_span_context(SpanContext::new(
                TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
                SpanId::from(0x00f0_67aa_0ba9_02b7),
                TraceFlags::SAMPLED,
                false,
                TraceState::from_key_value([("rojo", "1")]).unwrap(),
            ))
    }

    const REAL: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn injected(hop: &Hop) -> HeaderMap {
        let mut headers = HeaderMap::new();
        hop.inject(&outgoing_context(), &mut headers);
        headers
    }

    fn faults(yaml: &str) -> TelemetryFaults {
        TelemetryFaults::new(crate::fault::FaultConfig::parse(yaml).unwrap().telemetry)
    }

    #[test]
    fn a_hop_without_faults_injects_the_real_context() {
        install_propagator();
        for hop in [
            Hop::to(Service::Payment, &TelemetryFaults::default()),
            Hop::external(),
        ] {
            let h = injected(&hop);
            assert_eq!(h["traceparent"], REAL);
            assert_eq!(h["tracestate"], "rojo=1");
            assert_eq!(h["baggage"], "tenant=acme");
        }
    }

    #[test]
    fn drop_context_strips_the_named_hop_only() {
        install_propagator();
        let faults = faults("telemetry: [{kind: drop_context, hop: payment}]");
        let dropped = injected(&Hop::to(Service::Payment, &faults));
        assert!(!carries_context(&dropped), "{dropped:?}");
        assert!(dropped.is_empty());
        let other = injected(&Hop::to(Service::Inventory, &faults));
        assert_eq!(other["traceparent"], REAL);
        assert_eq!(other["baggage"], "tenant=acme");
    }

    #[test]
    fn corrupt_context_sends_a_valid_traceparent_of_another_trace() {
        install_propagator();
        let faults = faults("telemetry: [{kind: corrupt_context, hop: inventory}]");
        let h = injected(&Hop::to(Service::Inventory, &faults));
        let value = h["traceparent"].to_str().unwrap();
        let parsed = TraceParent::parse(value).expect("a well-formed traceparent");
        let received = extract(&h);
        let sc = received.span().span_context().clone();
        assert!(sc.is_valid() && sc.is_sampled(), "{value}");
        assert_ne!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_ne!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(
            value.contains(&sc.trace_id().to_string()),
            "{value} {parsed:?}"
        );
        // Only the ids are broken: tracestate and baggage still travel.
        assert_eq!(h["tracestate"], "rojo=1");
        assert_eq!(
            received.baggage().get("tenant").map(|v| v.as_str()),
            Some("acme")
        );
        // A second call draws other ids: no two broken calls share a trace.
        let again = injected(&Hop::to(Service::Inventory, &faults));
        assert_ne!(again["traceparent"], h["traceparent"]);
        // The other hop gets the real context.
        let other = injected(&Hop::to(Service::Payment, &faults));
        assert_eq!(other["traceparent"], REAL);
    }

    #[test]
    fn a_hop_follows_faults_replaced_at_run_time() {
        install_propagator();
        let faults = TelemetryFaults::default();
        let hop = Hop::to(Service::User, &faults);
        assert_eq!(injected(&hop)["traceparent"], REAL);
        faults.replace(
            crate::fault::FaultConfig::parse("telemetry: [{kind: drop_context, hop: user}]")
                .unwrap()
                .telemetry,
        );
        assert!(injected(&hop).is_empty());
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
