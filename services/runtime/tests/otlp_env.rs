//! The OTLP exporter's variables, proved on the wire: a telemetry pipeline
//! built from a variable map (`telemetry::build`, what `init` installs)
//! exports to a real OTLP receiver in this test (`otlp_receiver`), which
//! shows what arrived: headers, encoding, spans, or nothing at all.

mod otlp_receiver;

use std::time::{Duration, Instant};

use opentelemetry::trace::{Link, Span as _, SpanContext, Tracer, TracerProvider as _};
use opentelemetry::{KeyValue, trace::TraceContextExt};
use opentelemetry_proto::tonic::common::v1::any_value;
use tracemesh_runtime::config::MapEnv;
use tracemesh_runtime::export_stats::ExportSnapshot;
use tracemesh_runtime::fault::TelemetryFaults;
use tracemesh_runtime::telemetry::{self, TelemetryConfig, TelemetryGuard};

/// A pipeline configured by `vars` alone.
fn pipeline(vars: &[(&str, &str)]) -> TelemetryGuard {
    let config = TelemetryConfig::from_env(&MapEnv::new(vars.iter().copied()), "payment")
        .expect("valid configuration");
    telemetry::build(&config, &TelemetryFaults::default()).expect("pipeline builds")
}

/// Makes one span named `name`, then exports what is queued (blocking, as
/// the admin endpoint's flush does) and reads the counters.
async fn one_span(guard: &TelemetryGuard, name: &'static str) -> ExportSnapshot {
    let tracer = guard.provider().expect("SDK enabled").tracer("test");
    tracer.in_span(name, |cx| assert!(cx.span().span_context().is_valid()));
    flush(guard).await
}

async fn flush(guard: &TelemetryGuard) -> ExportSnapshot {
    let handle = guard.handle();
    tokio::task::spawn_blocking(move || handle.flush_and_snapshot())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn http_sends_the_decoded_auth_header_and_gzips_when_asked() {
    let receiver = otlp_receiver::start(Duration::ZERO).await;
    let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_url.as_str());
    let headers = (
        "OTEL_EXPORTER_OTLP_HEADERS",
        "Authorization=Bearer%20s3cret,x-tenant=acme",
    );

    let gzipped = pipeline(&[
        endpoint,
        headers,
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
    ]);
    assert_eq!(one_span(&gzipped, "gzipped").await.spans_exported, 1);
    let plain = pipeline(&[endpoint, headers]);
    assert_eq!(one_span(&plain, "plain").await.spans_exported, 1);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for r in &requests {
        assert_eq!(r.header("authorization"), Some("Bearer s3cret"));
        assert_eq!(r.header("x-tenant"), Some("acme"));
    }
    assert_eq!(requests[0].spans[0].name, "gzipped");
    assert_eq!(requests[0].header("content-encoding"), Some("gzip"));
    assert_eq!(requests[1].spans[0].name, "plain");
    assert_eq!(requests[1].header("content-encoding"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_takes_the_traces_variables_over_the_generic_ones() {
    let receiver = otlp_receiver::start(Duration::ZERO).await;
    let guard = pipeline(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_url.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=generic"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "authorization=Bearer%20s3cret",
        ),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
    ]);
    assert_eq!(one_span(&guard, "over grpc").await.spans_exported, 1);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].header("authorization"), Some("Bearer s3cret"));
    assert_eq!(requests[0].header("grpc-encoding"), Some("gzip"));
    assert_eq!(requests[0].spans[0].name, "over grpc");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_otlp_timeout_gives_up_on_a_slow_collector() {
    // The receiver answers after 5 s; the exporter waits 300 ms, once.
    let receiver = otlp_receiver::start(Duration::from_secs(5)).await;
    for (protocol, url, timeout_var) in [
        (
            "http/protobuf",
            &receiver.http_url,
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ),
        (
            "grpc",
            &receiver.grpc_url,
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        ),
    ] {
        let guard = pipeline(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", url),
            (timeout_var, "300"),
            ("TRACEMESH_EXPORT_RETRY_SECS", "0"),
        ]);
        let started = Instant::now();
        let snapshot = one_span(&guard, "slow").await;
        let took = started.elapsed();
        assert_eq!(snapshot.spans_failed, 1, "{protocol}: {snapshot:?}");
        assert!(took < Duration::from_secs(3), "{protocol}: took {took:?}");
    }
    // Both requests did reach the receiver: the exporter gave up waiting.
    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_none_exporter_sends_nothing_and_counts_nothing() {
    let receiver = otlp_receiver::start(Duration::ZERO).await;
    for protocol in ["http/protobuf", "grpc"] {
        let url = if protocol == "grpc" {
            &receiver.grpc_url
        } else {
            &receiver.http_url
        };
        let guard = pipeline(&[
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", url),
        ]);
        // Spans are still made, with ids to propagate...
        let snapshot = one_span(&guard, "unseen").await;
        // ...but none is handed to an export, so none is counted.
        assert_eq!(snapshot, ExportSnapshot::default());
        guard.shutdown().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.requests().is_empty(), "{:?}", receiver.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn span_limits_are_applied_before_the_wire() {
    let receiver = otlp_receiver::start(Duration::ZERO).await;
    let guard = pipeline(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_url.as_str()),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "1"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "1"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4"),
    ]);
    let tracer = guard.provider().unwrap().tracer("test");
    let linked = |n: u64| {
        Link::with_context(SpanContext::new(
            opentelemetry::trace::TraceId::from(n as u128),
            opentelemetry::trace::SpanId::from(n),
            Default::default(),
            true,
            Default::default(),
        ))
    };
    let mut span = tracer
        .span_builder("limited")
        .with_attributes((0..5).map(|i| KeyValue::new(format!("a{i}"), "abcdefgh")))
        .with_links(vec![linked(1), linked(2)])
        .start(&tracer);
    for i in 0..3 {
        span.add_event(format!("e{i}"), vec![]);
    }
    span.end();
    assert_eq!(flush(&guard).await.spans_exported, 1);

    let requests = receiver.requests();
    let span = &requests[0].spans[0];
    assert_eq!(
        (span.attributes.len(), span.dropped_attributes_count),
        (2, 3)
    );
    assert_eq!((span.events.len(), span.dropped_events_count), (1, 2));
    assert_eq!((span.links.len(), span.dropped_links_count), (1, 1));
    let value = span.attributes[0]
        .value
        .as_ref()
        .and_then(|v| v.value.as_ref());
    assert_eq!(
        value,
        Some(&any_value::Value::StringValue("abcd".to_string()))
    );
}
