//! W3C Trace Context and W3C Baggage across process boundaries: a
//! request's headers into a [`Context`] and back.
//!
//! HTTP requests and gRPC calls both travel as `http::Request`s at the tower
//! level (gRPC metadata *is* HTTP/2 headers), so one pair of functions serves
//! every hop. They use the global propagator that [`crate::telemetry::init`]
//! installs ([`crate::w3c::install_propagator`]); the headers' grammar and
//! limits are [`crate::w3c`]'s.
//!
//! On the way in, [`crate::w3c::IncomingContext`] decides from *every*
//! `traceparent` and `tracestate` field of the request (HTTP headers and
//! gRPC metadata may repeat a name): several `tracestate` fields are one
//! list, two `traceparent` fields restart the trace, an invalid
//! `tracestate` is dropped while a valid `traceparent` is kept. The
//! library's propagator then sees the request through a filter
//! (`W3cHeaders`) that shows it only what was decided, as one canonical
//! field each, so its own, laxer parsers (see `w3c/traceparent.rs`) never
//! read a raw header. `baggage` fields are joined the same way and cut to
//! the W3C limits ([`limit_baggage`]); how many list-members were dropped
//! is reported, and the server layers record it on their SERVER span as
//! [`BAGGAGE_DROPPED_ATTRIBUTE`].
//!
//! The accepted `tracestate` also travels in the [`Context`] as it was
//! received (`ForwardedTraceState`), and [`inject`] writes that list: the
//! library's `TraceState` cannot hold every key the current W3C grammar
//! allows (`w3c/tracestate.rs`), and a vendor receiving `tracestate` MUST
//! send it on (section "Mutating the tracestate Field"). The SDK's span
//! context keeps the copy it can hold. No `tracestate` header is sent
//! for an empty list (vendors "SHOULD avoid sending" one).
//!
//! [`carries_context`] tells whether a request brought any context at all,
//! for an edge that ignores it (`HttpTracing::untrusted_edge`).
//!
//! On the way out, the traced clients inject through a [`Hop`]: the callee
//! (a topology [`Service`]) and the service's telemetry faults, so a planted
//! `drop_context` or `corrupt_context` breaks exactly the calls to that
//! callee, and nothing else, in this one place.

use std::borrow::Cow;

use http::{HeaderMap, HeaderValue};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::HeaderInjector;
use rand::Rng;

use crate::fault::{ContextFault, TelemetryFaults};
use crate::topology::Service;

use crate::w3c::{
    BAGGAGE_HEADER, IncomingContext, TRACEPARENT_HEADER, TRACESTATE_HEADER, TraceStateList,
    combine_fields, limit_baggage, lower_hex,
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
    let traceparent = field_texts(headers, TRACEPARENT_HEADER);
    let tracestate = field_texts(headers, TRACESTATE_HEADER);
    let incoming = IncomingContext::from_fields(&as_strs(&traceparent), &as_strs(&tracestate));

    // Baggage fields that are not visible ASCII are skipped, as the
    // library's own `HeaderExtractor` does: W3C Baggage lets a receiver
    // drop what it cannot read and keep the rest.
    let baggage_fields: Vec<&str> = headers
        .get_all(BAGGAGE_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let (baggage, baggage_dropped) = if baggage_fields.is_empty() {
        (None, 0)
    } else {
        let joined = combine_fields(&baggage_fields);
        let (kept, dropped) = limit_baggage(&joined);
        (Some(kept.into_owned()), dropped)
    };

    let carrier = W3cHeaders {
        headers,
        traceparent: incoming.traceparent.as_ref().map(ToString::to_string),
        tracestate: incoming.tracestate.as_ref().map(ToString::to_string),
        baggage,
    };
    let mut context = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    // Forward the list only where the trace it came with is continued (a
    // propagator configured without W3C trace context reads no traceparent).
    let continued = incoming.traceparent.as_ref().is_some_and(|tp| {
        lower_hex(&context.span().span_context().trace_id().to_bytes()) == tp.trace_id
    });
    if let (true, Some(list)) = (continued, incoming.tracestate) {
        context = context.with_value(ForwardedTraceState(list));
    }
    Extracted {
        context,
        baggage_dropped,
    }
}

/// Every field of `name`, in order, as text. A field that is not visible
/// ASCII is read with its other bytes replaced (U+FFFD), which neither
/// trace context grammar allows: it still counts, and is refused.
fn field_texts<'a>(headers: &'a HeaderMap, name: &str) -> Vec<Cow<'a, str>> {
    headers
        .get_all(name)
        .iter()
        .map(|v| match v.to_str() {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(v.as_bytes()),
        })
        .collect()
}

fn as_strs<'a>(fields: &'a [Cow<'_, str>]) -> Vec<&'a str> {
    fields.iter().map(AsRef::as_ref).collect()
}

/// True when the request carries any header the installed propagators
/// read: `traceparent`, `tracestate` and `baggage` by default, also `b3`,
/// `x-b3-*` or `uber-trace-id` when `OTEL_PROPAGATORS` lists them.
pub fn carries_context(headers: &HeaderMap) -> bool {
    opentelemetry::global::get_text_map_propagator(|p| {
        p.fields().any(|name| headers.contains_key(name))
    })
}

/// The `tracestate` a request brought, accepted by
/// [`crate::w3c::IncomingContext`], kept in the [`Context`] for [`inject`]
/// to forward as received (see the file comment).
#[derive(Debug, Clone)]
struct ForwardedTraceState(TraceStateList);

/// The request's headers as the library's propagators see them: the three
/// W3C headers replaced by what [`extract_reporting`] decided (one field
/// each, or none), every other header as it came.
struct W3cHeaders<'a> {
    headers: &'a HeaderMap,
    traceparent: Option<String>,
    tracestate: Option<String>,
    baggage: Option<String>,
}

impl W3cHeaders<'_> {
    /// The decided value when `key` is one of the W3C headers.
    fn decided(&self, key: &str) -> Option<Option<&str>> {
        let decided = if key.eq_ignore_ascii_case(TRACEPARENT_HEADER) {
            &self.traceparent
        } else if key.eq_ignore_ascii_case(TRACESTATE_HEADER) {
            &self.tracestate
        } else if key.eq_ignore_ascii_case(BAGGAGE_HEADER) {
            &self.baggage
        } else {
            return None;
        };
        Some(decided.as_deref())
    }
}

impl Extractor for W3cHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match self.decided(key) {
            Some(decided) => decided,
            // As `HeaderExtractor` does: the first value, if visible ASCII.
            None => self.headers.get(key).and_then(|v| v.to_str().ok()),
        }
    }

    /// Every field: a propagator reading all of them sees the same
    /// decision as one reading the first.
    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        match self.decided(key) {
            Some(decided) => decided.map(|value| vec![value]),
            None => {
                let values: Vec<&str> = self
                    .headers
                    .get_all(key)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                (!values.is_empty()).then_some(values)
            }
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
    forward_tracestate(cx, headers);
}

/// Where the propagator wrote a W3C `traceparent`, the `tracestate` that
/// goes with it is the list received (the library wrote the copy it could
/// hold); and an empty one is not sent.
fn forward_tracestate(cx: &Context, headers: &mut HeaderMap) {
    if !headers.contains_key(TRACEPARENT_HEADER) {
        return;
    }
    if let Some(ForwardedTraceState(list)) = cx.get::<ForwardedTraceState>()
        && let Ok(value) = HeaderValue::from_str(&list.to_string())
    {
        headers.insert(TRACESTATE_HEADER, value);
    }
    if headers
        .get(TRACESTATE_HEADER)
        .is_some_and(|v| v.as_bytes().is_empty())
    {
        headers.remove(TRACESTATE_HEADER);
    }
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
    use crate::w3c::{TraceParent, install_propagator};
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

    /// What `headers` extract to, injected again for the next hop: the
    /// continued trace id (`None` for a new trace) and the `tracestate`
    /// sent on (`None` when none is).
    fn forwarded(h: &HeaderMap) -> (Option<String>, Option<String>) {
        let cx = extract(h);
        let sc = cx.span().span_context().clone();
        let mut onward = HeaderMap::new();
        inject(&cx, &mut onward);
        let tracestate = onward
            .get("tracestate")
            .map(|v| v.to_str().unwrap().to_owned());
        (sc.is_valid().then(|| sc.trace_id().to_string()), tracestate)
    }

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn two_traceparent_fields_start_a_new_trace() {
        install_propagator();
        let h = headers(&[
            ("traceparent", REAL.into()),
            (
                "traceparent",
                format!("00-{}-1234567890123456-01", "1".repeat(32)),
            ),
            ("tracestate", "rojo=1".into()),
        ]);
        assert_eq!(forwarded(&h), (None, None));
    }

    #[test]
    fn several_tracestate_fields_are_forwarded_as_one_list() {
        install_propagator();
        let h = headers(&[
            ("traceparent", REAL.into()),
            ("tracestate", "foo=1,bar=2".into()),
            ("tracestate", String::new()),
            ("tracestate", "rojo=1, congo=2".into()),
        ]);
        assert_eq!(
            forwarded(&h),
            (
                Some(TRACE.into()),
                Some("foo=1,bar=2,rojo=1,congo=2".into())
            )
        );
    }

    #[test]
    fn keys_the_library_cannot_hold_are_still_forwarded() {
        install_propagator();
        let key = format!("t@{}", "v".repeat(15));
        let value = format!("foo=1,foo@@bar=2,{key}=3");
        let h = headers(&[("traceparent", REAL.into()), ("tracestate", value.clone())]);
        assert_eq!(forwarded(&h), (Some(TRACE.into()), Some(value)));
        // The SDK's span context keeps the copy it can hold: none here.
        let cx = extract(&h);
        assert_eq!(cx.span().span_context().trace_state().header(), "");
    }

    #[test]
    fn an_invalid_or_empty_tracestate_is_not_sent_and_the_trace_continues() {
        install_propagator();
        for tracestate in [
            String::new(),
            "foo=bar=baz".into(),
            "foo=,bar=3".into(),
            "@foo=1,bar=2".into(),
            (1..=33)
                .map(|i| format!("k{i}=1"))
                .collect::<Vec<_>>()
                .join(","),
        ] {
            let h = headers(&[
                ("traceparent", REAL.into()),
                ("tracestate", tracestate.clone()),
            ]);
            assert_eq!(forwarded(&h), (Some(TRACE.into()), None), "{tracestate:?}");
        }
    }

    #[test]
    fn unreadable_fields_count_and_are_refused() {
        install_propagator();
        let mut h = headers(&[("traceparent", REAL.into())]);
        h.append("traceparent", HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(forwarded(&h).0, None, "two fields, one unreadable");
        let mut h = headers(&[("traceparent", REAL.into()), ("tracestate", "foo=1".into())]);
        h.append("tracestate", HeaderValue::from_bytes(b"bar=\xe9").unwrap());
        assert_eq!(forwarded(&h), (Some(TRACE.into()), None));
    }

    #[test]
    fn grpc_metadata_follows_the_same_rules() {
        // tonic's `MetadataMap` may repeat a key too; a server layer
        // extracts from the headers it becomes.
        use tonic::metadata::{MetadataMap, MetadataValue};
        install_propagator();
        let mut metadata = MetadataMap::new();
        metadata.append("traceparent", MetadataValue::from_static(REAL));
        metadata.append("tracestate", MetadataValue::from_static("foo=1"));
        metadata.append("tracestate", MetadataValue::from_static("bar=2"));
        let h = metadata.clone().into_headers();
        assert_eq!(
            forwarded(&h),
            (Some(TRACE.into()), Some("foo=1,bar=2".into()))
        );
        metadata.append("traceparent", MetadataValue::from_static(REAL));
        assert_eq!(forwarded(&metadata.into_headers()), (None, None));
    }

    #[test]
    fn the_extractor_shows_every_propagator_the_decided_fields() {
        let h = headers(&[
            (
                "traceparent",
                format!(" cc-{TRACE}-00f067aa0ba902b7-01-future "),
            ),
            ("tracestate", "a=1".into()),
            ("tracestate", "b=2".into()),
            ("x-other", "1".into()),
            ("x-other", "2".into()),
        ]);
        let carrier = W3cHeaders {
            headers: &h,
            traceparent: Some(REAL.into()),
            tracestate: Some("a=1,b=2".into()),
            baggage: None,
        };
        assert_eq!(carrier.get("TraceState"), Some("a=1,b=2"));
        assert_eq!(carrier.get_all("tracestate"), Some(vec!["a=1,b=2"]));
        assert_eq!(carrier.get_all("traceparent"), Some(vec![REAL]));
        assert_eq!(carrier.get("baggage"), None);
        assert_eq!(carrier.get_all("baggage"), None);
        assert_eq!(carrier.get_all("x-other"), Some(vec!["1", "2"]));
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
