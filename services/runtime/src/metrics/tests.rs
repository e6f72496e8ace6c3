//! The registry against the contract, exemplars against real SDK spans, and
//! the metric telemetry faults' effects.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

use super::labels::*;
use super::*;
use crate::fault::{FaultConfig, TelemetryFault};

/// One sample line of an OpenMetrics exposition.
#[derive(Debug)]
pub(crate) struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub exemplar: Option<Exemplar>,
}

#[derive(Debug)]
pub(crate) struct Exemplar {
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp: Option<f64>,
}

/// `{a="x",b="y"}` → pairs. Our values hold no quotes or commas.
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let inner = text.trim_start_matches('{').trim_end_matches('}');
    if inner.is_empty() {
        return Vec::new();
    }
    inner
        .split(',')
        .map(|pair| {
            let (key, value) = pair.split_once('=').expect("key=value");
            (key.to_owned(), value.trim_matches('"').to_owned())
        })
        .collect()
}

/// Parses the exposition, checking its framing: comments are `# HELP`,
/// `# TYPE`, `# UNIT`, and it ends with `# EOF`.
pub(crate) fn parse(exposition: &str) -> Vec<Sample> {
    assert!(exposition.ends_with("# EOF\n"), "{exposition}");
    let mut samples = Vec::new();
    for line in exposition.lines() {
        if line == "# EOF" {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                ["HELP ", "TYPE ", "UNIT "]
                    .iter()
                    .any(|p| comment.starts_with(p)),
                "{line}"
            );
            continue;
        }
        let (series, exemplar) = match line.split_once(" # ") {
            Some((series, exemplar)) => (series, Some(exemplar)),
            None => (line, None),
        };
        let (name_labels, value) = series.rsplit_once(' ').expect("a value");
        let (name, labels) = match name_labels.split_once('{') {
            Some((name, labels)) => (name, parse_labels(labels)),
            None => (name_labels, Vec::new()),
        };
        let exemplar = exemplar.map(|text| {
            let (labels, rest) = text.split_once("} ").expect("exemplar labels");
            let mut numbers = rest.split(' ');
            Exemplar {
                labels: parse_labels(labels),
                value: numbers.next().unwrap().parse().unwrap(),
                timestamp: numbers.next().map(|t| t.parse().unwrap()),
            }
        });
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value: value.parse().expect("a number"),
            exemplar,
        });
    }
    samples
}

fn server_labels(route: &str) -> HttpServerLabels {
    HttpServerLabels {
        http_request_method: "GET",
        http_route: route.to_owned(),
        http_response_status_code: 200,
    }
}

/// Runs `f` with a tracing subscriber exporting to memory through the real
/// SDK with `sampler`; returns the finished spans.
fn with_spans(sampler: Sampler, f: impl FnOnce()) -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::with_default(subscriber, f);
    provider.force_flush().unwrap();
    exporter.get_finished_spans().unwrap()
}

/// Every observation kind once, in a span each, plus the counters.
/// A span of 1.5 ms that started now.
fn measured() -> Measured {
    Measured {
        start: SystemTime::now(),
        elapsed: Duration::from_micros(1500),
    }
}

fn observe_everything(metrics: &Metrics) {
    let span = || tracing::info_span!("op");
    let now = measured;
    metrics.observe_http_server(server_labels("/api/x"), &span(), now());
    metrics.observe_http_client(
        HttpClientLabels {
            http_request_method: "POST",
            server_address: "payment:8084".into(),
            http_response_status_code: None,
            error_type: Some("timeout"),
        },
        &span(),
        now(),
    );
    metrics.observe_rpc_server(
        RpcServerLabels {
            rpc_system: "grpc",
            rpc_service: "tracemesh.inventory.v1.InventoryService".into(),
            rpc_method: "Reserve".into(),
            rpc_grpc_status_code: Some(9),
        },
        &span(),
        now(),
    );
    metrics.observe_rpc_client(
        RpcClientLabels {
            rpc_system: "grpc",
            rpc_service: "tracemesh.user.v1.UserService".into(),
            rpc_method: "ValidateUser".into(),
            rpc_grpc_status_code: Some(0),
            error_type: None,
        },
        &span(),
        now(),
    );
    metrics.observe_db_client(
        DbClientLabels {
            db_system_name: "sqlite",
            db_operation_name: "SELECT",
            db_collection_name: "products",
        },
        &span(),
        now(),
    );
    metrics.order_placed();
    metrics.stock_reservation_refused();
    metrics.payment_declined();
}

#[test]
fn every_label_key_is_the_contracts() {
    let metrics = Metrics::new("order", TelemetryFaults::default());
    with_spans(Sampler::AlwaysOn, || observe_everything(&metrics));
    let samples = parse(&metrics.encode());
    let mut seen = BTreeSet::new();
    for sample in &samples {
        let keys: BTreeSet<&str> = sample.labels.iter().map(|(k, _)| k.as_str()).collect();
        let (family, expected) = if let Some(family) = metric::HISTOGRAMS
            .into_iter()
            .find(|f| sample.name.starts_with(f.exposed))
        {
            let suffix = &sample.name[family.exposed.len()..];
            assert!(
                ["_bucket", "_count", "_sum"].contains(&suffix),
                "{sample:?}"
            );
            let mut expected: BTreeSet<&str> = family.labels.iter().copied().collect();
            if suffix == "_bucket" {
                expected.insert("le");
            }
            (family, expected)
        } else {
            let family = metric::COUNTERS
                .into_iter()
                .find(|f| sample.name == format!("{}_total", f.exposed))
                .unwrap_or_else(|| panic!("a family not in the contract: {sample:?}"));
            (family, BTreeSet::new())
        };
        let mut expected = expected;
        expected.insert(metric::SERVICE_NAME);
        assert_eq!(keys, expected, "{sample:?}");
        assert!(
            sample
                .labels
                .contains(&(metric::SERVICE_NAME.to_owned(), "order".to_owned()))
        );
        if let Some(exemplar) = &sample.exemplar {
            let keys: Vec<&str> = exemplar.labels.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(
                keys,
                [metric::EXEMPLAR_TRACE_ID, metric::EXEMPLAR_SPAN_ID],
                "{sample:?}"
            );
        }
        seen.insert(family.exposed);
    }
    // Every family of the contract was observed and exposed.
    let all: BTreeSet<&str> = metric::HISTOGRAMS
        .iter()
        .chain(metric::COUNTERS.iter())
        .map(|f| f.exposed)
        .collect();
    assert_eq!(seen, all);
}

#[test]
fn the_exposition_describes_every_family_with_the_contracts_names() {
    // A family with no series yet is left out of the exposition entirely.
    let metrics = Metrics::new("gateway", TelemetryFaults::default());
    observe_everything(&metrics);
    let text = metrics.encode();
    for family in metric::HISTOGRAMS {
        assert!(text.contains(&format!("# TYPE {} histogram\n", family.exposed)));
        assert!(text.contains(&format!("# UNIT {} seconds\n", family.exposed)));
        assert!(text.contains(&format!("# HELP {} {}\n", family.exposed, family.help)));
    }
    for family in metric::COUNTERS {
        assert!(text.contains(&format!("# TYPE {} counter\n", family.exposed)));
    }
}

#[test]
fn buckets_are_the_contracts() {
    let metrics = Metrics::new("user", TelemetryFaults::default());
    metrics.observe_http_server(server_labels("/"), &tracing::Span::none(), measured());
    let bounds: Vec<String> = parse(&metrics.encode())
        .into_iter()
        .filter(|s| s.name == "http_server_request_duration_seconds_bucket")
        .map(|s| s.labels.into_iter().find(|(k, _)| k == "le").unwrap().1)
        .collect();
    let mut expected: Vec<String> = metric::DURATION_BUCKETS
        .iter()
        .map(|b| format!("{b:?}"))
        .collect();
    expected.push("+Inf".into());
    assert_eq!(bounds, expected);
}

/// The one exemplar of the HTTP server histogram, if any.
fn server_exemplars(metrics: &Metrics) -> Vec<Exemplar> {
    parse(&metrics.encode())
        .into_iter()
        .filter(|s| s.name == "http_server_request_duration_seconds_bucket")
        .filter_map(|s| s.exemplar)
        .collect()
}

fn label<'a>(exemplar: &'a Exemplar, key: &str) -> &'a str {
    &exemplar.labels.iter().find(|(k, _)| k == key).unwrap().1
}

#[test]
fn a_sampled_span_gives_its_ids_and_an_unsampled_one_none() {
    let metrics = Metrics::new("gateway", TelemetryFaults::default());
    let spans = with_spans(Sampler::AlwaysOn, || {
        let span = tracing::info_span!("sampled");
        metrics.observe_http_server(server_labels("/a"), &span, measured());
    });
    let exemplars = server_exemplars(&metrics);
    assert_eq!(exemplars.len(), 1);
    let span = &spans[0].span_context;
    assert_eq!(
        label(&exemplars[0], "trace_id"),
        span.trace_id().to_string()
    );
    assert_eq!(label(&exemplars[0], "span_id"), span.span_id().to_string());
    assert!(exemplars[0].timestamp.is_some(), "stamped");

    let metrics = Metrics::new("gateway", TelemetryFaults::default());
    let spans = with_spans(Sampler::AlwaysOff, || {
        let span = tracing::info_span!("unsampled");
        metrics.observe_http_server(server_labels("/a"), &span, measured());
    });
    assert!(spans.is_empty());
    assert!(server_exemplars(&metrics).is_empty());
    // Still counted: sampling thins traces, never metrics.
    assert!(
        metrics
            .encode()
            .contains("http_server_request_duration_seconds_count{")
    );
}

fn planted(yaml: &str) -> TelemetryFaults {
    let faults: Vec<TelemetryFault> = FaultConfig::parse(yaml).unwrap().telemetry;
    TelemetryFaults::new(faults)
}

#[test]
fn exemplar_unsampled_attaches_unsampled_spans() {
    let metrics = Metrics::new(
        "gateway",
        planted("telemetry: [{kind: exemplar_unsampled}]"),
    );
    let spans = with_spans(Sampler::AlwaysOff, || {
        let span = tracing::info_span!("unsampled");
        metrics.observe_http_server(server_labels("/a"), &span, measured());
    });
    assert!(spans.is_empty(), "the trace was never exported");
    let exemplars = server_exemplars(&metrics);
    assert_eq!(exemplars.len(), 1, "yet the exemplar names it");
    assert_eq!(label(&exemplars[0], "trace_id").len(), 32);
}

#[test]
fn exemplar_wrong_trace_names_the_previous_trace() {
    let metrics = Metrics::new(
        "gateway",
        planted("telemetry: [{kind: exemplar_wrong_trace}]"),
    );
    let spans = with_spans(Sampler::AlwaysOn, || {
        // Each a root of its own trace; different routes, so both
        // exemplars stay in the exposition.
        for route in ["/first", "/second"] {
            let span = tracing::info_span!("op");
            metrics.observe_http_server(server_labels(route), &span, measured());
        }
    });
    let (first, second) = (&spans[0].span_context, &spans[1].span_context);
    assert_ne!(first.trace_id(), second.trace_id());
    let exemplars = server_exemplars(&metrics);
    assert_eq!(exemplars.len(), 1, "the first had no previous trace");
    assert_eq!(
        label(&exemplars[0], "trace_id"),
        first.trace_id().to_string()
    );
    assert_eq!(
        label(&exemplars[0], "span_id"),
        second.span_id().to_string()
    );
}

fn server_count(metrics: &Metrics, family: &str) -> f64 {
    parse(&metrics.encode())
        .into_iter()
        .filter(|s| s.name == format!("{family}_count"))
        .map(|s| s.value)
        .sum()
}

#[test]
fn miss_count_drops_every_nth_server_observation_only() {
    let metrics = Metrics::new(
        "gateway",
        planted("telemetry: [{kind: miss_count, every: 3}]"),
    );
    with_spans(Sampler::AlwaysOn, || {
        for _ in 0..6 {
            observe_everything(&metrics);
        }
    });
    // HTTP and RPC server observations alternate and are counted together:
    // 12 made, the 3rd, 6th, 9th and 12th missed.
    let http = server_count(&metrics, "http_server_request_duration_seconds");
    let rpc = server_count(&metrics, "rpc_server_call_duration_seconds");
    assert_eq!(http + rpc, 8.0);
    // Client and database histograms are untouched.
    assert_eq!(
        server_count(&metrics, "rpc_client_call_duration_seconds"),
        6.0
    );
    assert_eq!(
        server_count(&metrics, "db_client_operation_duration_seconds"),
        6.0
    );
}

#[test]
fn without_faults_every_observation_is_counted() {
    let metrics = Metrics::new("gateway", TelemetryFaults::default());
    for _ in 0..5 {
        observe_everything(&metrics);
    }
    assert_eq!(
        server_count(&metrics, "http_server_request_duration_seconds"),
        5.0
    );
    assert!(
        metrics
            .encode()
            .contains("tracemesh_orders_placed_total{service_name=\"gateway\"} 5\n")
    );
}
