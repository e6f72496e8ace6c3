//! `exemplars`: every exemplar leads to the span it claims to have measured.
//!
//! An exemplar is a promise: "this observation, in this bucket of this
//! series, was the span `span_id` of the trace `trace_id`". A user clicks it
//! in Grafana and expects to land on a trace that explains the bucket. So
//! for every exemplar recorded during the run:
//!
//! 1. its trace is one the run started and sent sampled (naming an
//!    unsampled trace is the worst case: the link can never resolve), and
//!    the trace source holds it;
//! 2. the span it names is in that trace, recorded by the series' service,
//!    of the series' kind (SERVER for `*_server_*`, CLIENT otherwise), with
//!    the attributes the series' labels name (route, method, status, RPC
//!    method, database operation...);
//! 3. the span's duration equals the exemplar's value (within
//!    [`DURATION_TOLERANCE`], 50 us) and the value lies in the exemplar's
//!    bucket.
//!
//! And every series that had traffic from a sampled trace carries at least
//! one exemplar: a series without any is a dead end for the user.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tracemesh_runtime::contract::metric;

use super::Verdict;
use crate::SpanRecord;
use crate::load::SentRequest;
use crate::metrics::{MetricsSnapshot, Series, SeriesExemplar};
use crate::model::{AttrValue, SpanKind};
use crate::sources::TraceSource;

/// How far an exemplar's value may be from its span's duration. The
/// runtime makes them equal (`tracemesh_runtime::metrics::clock`: the
/// layer's one measurement is observed and written onto the span); this
/// leaves room for a backend that stores times in microseconds (Jaeger)
/// and for the decimal text of the exposition, nothing more.
pub const DURATION_TOLERANCE: Duration = Duration::from_micros(50);

/// How many failing exemplars are quoted one by one; the rest are counted.
const QUOTED: usize = 8;

/// Which label is which span attribute. A label absent from the series or
/// empty (`error_type` on a call that got an answer) asks nothing.
const LABEL_ATTRIBUTES: [(&str, &str); 11] = [
    (metric::HTTP_REQUEST_METHOD, "http.request.method"),
    (metric::HTTP_ROUTE, "http.route"),
    (
        metric::HTTP_RESPONSE_STATUS_CODE,
        "http.response.status_code",
    ),
    (metric::SERVER_ADDRESS, "server.address"),
    (metric::RPC_SYSTEM, "rpc.system"),
    (metric::RPC_SERVICE, "rpc.service"),
    (metric::RPC_METHOD, "rpc.method"),
    (metric::RPC_GRPC_STATUS_CODE, "rpc.grpc.status_code"),
    (metric::DB_SYSTEM_NAME, "db.system.name"),
    (metric::DB_OPERATION_NAME, "db.operation.name"),
    (metric::DB_COLLECTION_NAME, "db.collection.name"),
];

/// What the exemplar check reads.
pub struct ExemplarInput<'a> {
    /// The exemplars read after the run (each with its series and bucket).
    pub exemplars: &'a [SeriesExemplar],
    /// What the metrics counted during the run (a delta).
    pub traffic: &'a MetricsSnapshot,
    /// The run's requests: which trace ids it started, sampled or not.
    pub requests: &'a [SentRequest],
    /// The sampled traces already fetched, by trace id.
    pub traces: &'a BTreeMap<String, Vec<SpanRecord>>,
    /// Unix seconds: exemplars stamped outside this window are an earlier
    /// run's and are not examined.
    pub window: (f64, f64),
}

/// The verdict, and the exemplars that led to their spans (the report
/// follows the slowest of them).
pub struct ExemplarCheck {
    pub verdict: Verdict,
    pub resolved: Vec<SeriesExemplar>,
}

pub async fn check_exemplars(input: &ExemplarInput<'_>, source: &dyn TraceSource) -> ExemplarCheck {
    let mut verdict = Verdict::new("exemplars");
    let started: BTreeMap<&str, bool> = input
        .requests
        .iter()
        .filter_map(|r| Some((r.trace_id()?, r.sampled()?)))
        .collect();
    let mut fetched: BTreeMap<String, Option<Vec<SpanRecord>>> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut earlier = 0usize;
    let mut resolved: Vec<SeriesExemplar> = Vec::new();
    for exemplar in input.exemplars {
        if let Some(t) = exemplar.timestamp
            && (t < input.window.0 || t > input.window.1)
        {
            earlier += 1;
            continue;
        }
        verdict.examine();
        let problem = match started.get(exemplar.trace_id.as_str()) {
            Some(false) => Some(format!(
                "names trace {} which the run sent unsampled: the link can never resolve",
                exemplar.trace_id
            )),
            None if exemplar.trace_id.is_empty() => Some("carries no trace_id".to_owned()),
            _ => {
                let spans = match input.traces.get(&exemplar.trace_id) {
                    Some(spans) => Some(spans.as_slice()),
                    None => fetched
                        .entry(exemplar.trace_id.clone())
                        .or_insert(source.trace(&exemplar.trace_id).await.ok().flatten())
                        .as_deref(),
                };
                match spans {
                    None => Some(format!(
                        "names trace {}, which {} does not hold",
                        exemplar.trace_id,
                        source.describe()
                    )),
                    Some(spans) => span_problem(exemplar, spans),
                }
            }
        };
        match problem {
            Some(problem) => failures.push(format!(
                "{} {} bucket le={}: exemplar {problem}",
                exemplar.series.service(),
                exemplar.series,
                exemplar.bucket.1
            )),
            None => resolved.push(exemplar.clone()),
        }
    }
    verdict.figure("exemplars_failed", failures.len());
    verdict.figure("exemplars_before_the_run", earlier);
    fail_quoting(&mut verdict, &failures, "exemplars like these");

    // Every series with sampled traffic can be reached from its metrics.
    let all_with_exemplar: BTreeSet<&Series> = input.exemplars.iter().map(|e| &e.series).collect();
    let mut dead_ends = Vec::new();
    let mut without_sampled_traffic = 0usize;
    let mut series_with_traffic = 0usize;
    for (series, histogram) in &input.traffic.histograms {
        if histogram.count < 1.0 {
            continue;
        }
        series_with_traffic += 1;
        let sampled = input
            .traces
            .iter()
            .find(|(_, spans)| spans.iter().any(|s| series_problem(series, s).is_none()));
        match sampled {
            None => without_sampled_traffic += 1,
            Some((trace_id, _)) if !all_with_exemplar.contains(series) => {
                dead_ends.push(format!(
                    "{} {series}: {} observation(s), some in sampled traces (e.g. {trace_id}), \
                     but no exemplar",
                    series.service(),
                    histogram.count
                ));
            }
            Some(_) => {}
        }
    }
    verdict.figure("series_with_traffic", series_with_traffic);
    let good: BTreeSet<&Series> = resolved.iter().map(|e| &e.series).collect();
    verdict.figure("series_with_a_good_exemplar", good.len());
    verdict.figure("series_without_sampled_traffic", without_sampled_traffic);
    fail_quoting(&mut verdict, &dead_ends, "series without an exemplar");
    ExemplarCheck {
        verdict: verdict.finish(),
        resolved,
    }
}

/// Fails `verdict` with the first [`QUOTED`] reasons, then a count of the rest.
fn fail_quoting(verdict: &mut Verdict, reasons: &[String], rest: &str) {
    for reason in reasons.iter().take(QUOTED) {
        verdict.fail(reason.clone());
    }
    if reasons.len() > QUOTED {
        verdict.fail(format!("... and {} more {rest}", reasons.len() - QUOTED));
    }
}

/// Why the exemplar's span does not back it, if it does not.
fn span_problem(exemplar: &SeriesExemplar, spans: &[SpanRecord]) -> Option<String> {
    let Some(span) = spans.iter().find(|s| s.span_id == exemplar.span_id) else {
        return Some(format!(
            "names span {} which trace {} does not contain ({} spans)",
            exemplar.span_id,
            exemplar.trace_id,
            spans.len()
        ));
    };
    if let Some(problem) = series_problem(&exemplar.series, span) {
        return Some(format!(
            "names span {} ({} {}), which is not of this series: {problem}",
            span.span_id, span.service_name, span.name
        ));
    }
    let duration = span.duration_nanos() as f64 / 1e9;
    let tolerance = DURATION_TOLERANCE.as_secs_f64();
    if (duration - exemplar.value).abs() > tolerance {
        return Some(format!(
            "says {:.3} ms but its span {} lasted {:.3} ms (tolerance {:.3} ms)",
            exemplar.value * 1e3,
            span.span_id,
            duration * 1e3,
            tolerance * 1e3
        ));
    }
    let (lower, upper) = exemplar.bucket;
    if !(exemplar.value > lower && exemplar.value <= upper) {
        return Some(format!(
            "value {:.3} ms lies outside its bucket ({} s, {} s]",
            exemplar.value * 1e3,
            lower,
            upper
        ));
    }
    None
}

/// Why `span` is not an observation of `series`, if it is not.
pub fn series_problem(series: &Series, span: &SpanRecord) -> Option<String> {
    if span.service_name != series.service() {
        return Some(format!("recorded by {}", span.service_name));
    }
    let family = series.contract_family()?;
    let kind = if family.name.contains("_server_") {
        SpanKind::Server
    } else {
        SpanKind::Client
    };
    if span.kind != kind {
        return Some(format!("a {:?} span, not {kind:?}", span.kind));
    }
    for (label, attribute) in LABEL_ATTRIBUTES {
        let Some(expected) = series.label(label).filter(|v| !v.is_empty()) else {
            continue;
        };
        let found = span.attributes.get(attribute).map(AttrValue::to_string);
        let matches = match (&found, label == metric::SERVER_ADDRESS) {
            (Some(found), false) => found == expected,
            // `server_address` may carry the port the span keeps apart.
            (Some(found), true) => {
                found == expected
                    || span
                        .attr_i64("server.port")
                        .is_some_and(|port| format!("{found}:{port}") == expected)
            }
            (None, _) => false,
        };
        if !matches {
            return Some(format!(
                "{attribute} is {} where the series says {expected}",
                found.as_deref().unwrap_or("absent")
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TraceStore;
    use crate::load::RequestKind;
    use crate::metrics::openmetrics::parse;
    use crate::sources::EmbeddedSource;
    use crate::trace::synthetic::SyntheticTrace;

    const PRODUCTS: &str = "service_name=\"gateway\",http_request_method=\"GET\",http_route=\"/api/products\",http_response_status_code=\"200\"";

    /// A sampled products trace whose SERVER span lasted 7 ms.
    fn products_trace(number: u128) -> SyntheticTrace {
        let mut trace = SyntheticTrace::new(number);
        let root = trace.span(
            None,
            "gateway",
            "GET /api/products",
            SpanKind::Server,
            0.0,
            7.0,
        );
        trace
            .attr(root, "http.request.method", "GET")
            .attr(root, "http.route", "/api/products")
            .attr(root, "http.response.status_code", 200i64);
        trace
    }

    fn request(trace_id: &str, sampled: bool) -> SentRequest {
        let flags = if sampled { "01" } else { "00" };
        SentRequest {
            kind: RequestKind::BrowseProducts,
            traceparent: Some(format!("00-{trace_id}-00f067aa0ba902b7-{flags}")),
            traceresponse: None,
            status: Some(200),
            latency_ms: 8.0,
            sent_unix_nanos: 0,
            answered_unix_nanos: 0,
        }
    }

    /// The gateway's products series with one exemplar, `value` seconds.
    fn metrics(labels: &str, trace_id: &str, span_id: &str, value: f64) -> MetricsSnapshot {
        let exemplar = if trace_id.is_empty() {
            String::new()
        } else {
            format!("# {{trace_id=\"{trace_id}\",span_id=\"{span_id}\"}} {value} 100.0")
        };
        let text = format!(
            "http_server_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 0\n\
             http_server_request_duration_seconds_bucket{{{labels},le=\"0.01\"}} 1 {exemplar}\n\
             http_server_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 1\n\
             http_server_request_duration_seconds_count{{{labels}}} 1\n\
             http_server_request_duration_seconds_sum{{{labels}}} {value}\n# EOF\n"
        );
        let mut snapshot = MetricsSnapshot::default();
        snapshot.add_samples(&parse(&text).unwrap());
        snapshot
    }

    async fn check(
        snapshot: &MetricsSnapshot,
        traces: &[&SyntheticTrace],
        requests: &[SentRequest],
    ) -> Verdict {
        let traces: BTreeMap<String, Vec<SpanRecord>> = traces
            .iter()
            .map(|t| (t.trace_id().to_owned(), t.spans().to_vec()))
            .collect();
        let input = ExemplarInput {
            exemplars: &snapshot.exemplars,
            traffic: snapshot,
            requests,
            traces: &traces,
            window: (0.0, 1e12),
        };
        check_exemplars(&input, &EmbeddedSource::new(TraceStore::new(1000)))
            .await
            .verdict
    }

    #[tokio::test]
    async fn an_exemplar_naming_its_span_passes() {
        let trace = products_trace(1);
        let m = metrics(PRODUCTS, trace.trace_id(), trace.span_id(0), 0.00702);
        let v = check(&m, &[&trace], &[request(trace.trace_id(), true)]).await;
        assert!(v.passed, "{:?}", v.reasons);
        assert_eq!(v.figures["series_with_a_good_exemplar"], 1);
    }

    #[tokio::test]
    async fn an_exemplar_naming_an_unsampled_trace_fails() {
        let trace = products_trace(1);
        let unsampled = format!("{:032x}", 9);
        let m = metrics(PRODUCTS, &unsampled, trace.span_id(0), 0.007);
        let requests = [request(trace.trace_id(), true), request(&unsampled, false)];
        let v = check(&m, &[&trace], &requests).await;
        assert!(v.reasons[0].contains("sent unsampled"), "{:?}", v.reasons);
        // And the series, which had sampled traffic, has no good exemplar
        // left: but it does carry one, so it is not a dead end.
        assert_eq!(v.figures["exemplars_failed"], 1);
    }

    #[tokio::test]
    async fn an_exemplar_pointing_at_the_wrong_trace_fails() {
        let (first, second) = (products_trace(1), products_trace(2));
        // The second request's span id in the first request's trace.
        let m = metrics(PRODUCTS, first.trace_id(), second.span_id(0), 0.007);
        let requests = [
            request(first.trace_id(), true),
            request(second.trace_id(), true),
        ];
        let v = check(&m, &[&first, &second], &requests).await;
        assert!(
            v.reasons[0].contains(&format!("names span {} which trace", second.span_id(0))),
            "{:?}",
            v.reasons
        );
    }

    #[tokio::test]
    async fn a_value_that_is_not_the_spans_duration_fails() {
        let trace = products_trace(1);
        let m = metrics(PRODUCTS, trace.trace_id(), trace.span_id(0), 0.0071);
        let v = check(&m, &[&trace], &[request(trace.trace_id(), true)]).await;
        assert!(
            v.reasons[0].contains("says 7.100 ms but its span"),
            "{:?}",
            v.reasons
        );
    }

    #[tokio::test]
    async fn a_span_of_another_route_fails() {
        let trace = products_trace(1);
        let other = PRODUCTS.replace("/api/products", "/api/orders/{id}");
        let m = metrics(&other, trace.trace_id(), trace.span_id(0), 0.007);
        let v = check(&m, &[&trace], &[request(trace.trace_id(), true)]).await;
        assert!(
            v.reasons[0]
                .contains("http.route is /api/products where the series says /api/orders/{id}"),
            "{:?}",
            v.reasons
        );
    }

    #[tokio::test]
    async fn a_series_with_sampled_traffic_and_no_exemplar_fails() {
        let trace = products_trace(1);
        let m = metrics(PRODUCTS, "", "", 0.007);
        let v = check(&m, &[&trace], &[request(trace.trace_id(), true)]).await;
        assert!(!v.passed);
        assert!(
            v.reasons.iter().any(|r| r.contains("but no exemplar")),
            "{:?}",
            v.reasons
        );
    }
}
