//! What one span costs: created and ended through tracing-opentelemetry
//! (as every span of the mesh is), sampled and not, and through the raw
//! OpenTelemetry API for comparison.
//!
//! The tracer provider is the services' shape: a batch span processor in
//! front of an exporter. The exporter here does nothing, so the figure is
//! the span's cost on the request's own thread (creation, attributes,
//! ending, handing it to the processor's queue), which is what instrumented
//! code pays; encoding and sending happen later on the processor's thread.
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};
use tracemesh_runtime::config::MapEnv;
use tracemesh_runtime::export_stats::ExportCounters;
use tracemesh_runtime::fault::TelemetryFaults;
use tracemesh_runtime::telemetry::{self, TelemetryConfig, subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// The allocator the `tracemesh` binary runs with (src/main.rs), so the
/// figures are what the services and the collector pay.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Drops every batch: the cost measured is the instrumented thread's alone.
#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(black_box(batch));
        Ok(())
    }
}

fn provider(sampler: Sampler) -> SdkTracerProvider {
    // A queue large enough that the benchmark never overflows it between
    // two exports: an overflowing queue drops spans and measures that instead.
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(1 << 16)
        .with_scheduled_delay(std::time::Duration::from_millis(100))
        .build();
    SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(NoopExporter)
                .with_batch_config(batch)
                .build(),
        )
        .with_sampler(sampler)
        .build()
}

/// A remote parent that said "not sampled", as a caller's traceparent with
/// flags 00 does.
fn unsampled_parent() -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::default(),
        true,
        TraceState::default(),
    ))
}

/// The span every case makes: two string attributes, like a typical span
/// of the mesh. Its target is one of ours, since the services' span layer
/// filters out any other (`through_services_subscriber`); the other cases
/// take every target.
fn db_span() -> tracing::Span {
    tracing::info_span!(
        target: "tracemesh_runtime::db",
        "SELECT products",
        db.system.name = "sqlite",
        db.operation.name = "SELECT"
    )
}

/// Which layer a benchmark runs spans through.
#[derive(Clone, Copy)]
enum Shape {
    /// As `tracing_opentelemetry::layer()` makes it.
    Defaults,
    /// Without the attributes it adds to every span by default (source
    /// location: 3, thread: 2, target: 1, busy/idle time: 2, which also
    /// reads the clock on every enter and exit); context activation on.
    Lean,
    /// What the services run: `tracemesh_runtime::telemetry::span_layer`
    /// (lean, and no context activation on enter).
    Services,
}

fn layer<S>(
    tracer: opentelemetry_sdk::trace::SdkTracer,
    shape: Shape,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let layer = tracing_opentelemetry::layer().with_tracer(tracer.clone());
    match shape {
        Shape::Defaults => layer,
        Shape::Lean => layer
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false),
        Shape::Services => tracemesh_runtime::telemetry::span_layer(tracer),
    }
}

fn through_tracing(c: &mut Criterion) {
    let mut group = c.benchmark_group("span via tracing-opentelemetry");
    let parent_based = || Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
    for (label, sampler, shape, parented) in [
        (
            "sampled (AlwaysOn)",
            Sampler::AlwaysOn,
            Shape::Defaults,
            false,
        ),
        (
            "not sampled (AlwaysOff)",
            Sampler::AlwaysOff,
            Shape::Defaults,
            false,
        ),
        (
            "not sampled (parent-based, unsampled parent)",
            parent_based(),
            Shape::Defaults,
            true,
        ),
        ("sampled, lean layer", Sampler::AlwaysOn, Shape::Lean, false),
        (
            "not sampled (AlwaysOff), lean layer",
            Sampler::AlwaysOff,
            Shape::Lean,
            false,
        ),
        (
            "sampled, services' layer",
            Sampler::AlwaysOn,
            Shape::Services,
            false,
        ),
    ] {
        let provider = provider(sampler);
        let tracer = match shape {
            Shape::Services => telemetry::tracer(&provider),
            _ => provider.tracer("bench"),
        };
        let subscriber = tracing_subscriber::registry().with(layer(tracer, shape));
        let parent = unsampled_parent();
        tracing::subscriber::with_default(subscriber, || {
            group.bench_function(label, |b| {
                b.iter(|| {
                    let span = db_span();
                    if parented {
                        let _ = span.set_parent(parent.clone());
                    }
                    span.in_scope(|| black_box(1))
                })
            });
        });
        let _ = provider.shutdown();
    }
    group.finish();
}

/// The services' whole subscriber (`telemetry::subscriber::services`): the
/// layer above, the per-layer filters, asked on every span
/// (`AskEachTime`), and the log lines' layer. The span's target is one of
/// ours, since the span layer's filter takes no other.
fn through_services_subscriber(c: &mut Criterion) {
    let mut group = c.benchmark_group("span via the services' subscriber");
    let provider = provider(Sampler::AlwaysOn);
    let config = TelemetryConfig::from_env(&MapEnv::new([("RUST_LOG", "info")]), "bench")
        .expect("a valid configuration");
    let subscriber = subscriber::services(&config, telemetry::tracer(&provider), None)
        .expect("RUST_LOG is valid");
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("sampled, RUST_LOG=info", |b| {
            b.iter(|| db_span().in_scope(|| black_box(1)))
        });
    });
    let _ = provider.shutdown();
    group.finish();
}

/// The services' layer again, now in front of the services' own tracer
/// provider (`telemetry::provider_with_outputs`): their sampler (parent
/// based, behind the telemetry-fault sampler) and their span processor
/// chain (measured times, telemetry faults, value length limit, the
/// counted batch output), the exporter still doing nothing. What a span of
/// the services costs on its thread, where the group above measures the
/// layer in front of a bare batch processor.
fn through_services_provider(c: &mut Criterion) {
    let mut group = c.benchmark_group("span via the services' tracer provider");
    // The batch processor's queue as large as above, for the same reason.
    let config = TelemetryConfig::from_env(
        &MapEnv::new([
            ("OTEL_BSP_MAX_QUEUE_SIZE", "65536"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ]),
        "bench",
    )
    .expect("a valid configuration");
    let counters = std::sync::Arc::new(ExportCounters::default());
    let output = telemetry::batch_output(&config, &counters, NoopExporter);
    let provider = telemetry::provider_with_outputs(
        &config,
        &TelemetryFaults::new(Vec::new()),
        vec![Box::new(output)],
    );
    let subscriber =
        tracing_subscriber::registry().with(telemetry::span_layer(telemetry::tracer(&provider)));
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("sampled, services' layer and span processors", |b| {
            b.iter(|| db_span().in_scope(|| black_box(1)))
        });
    });
    let _ = provider.shutdown();
    group.finish();
}

fn raw_api(c: &mut Criterion) {
    let mut group = c.benchmark_group("span via OpenTelemetry API");
    for (label, sampler) in [
        ("sampled (AlwaysOn)", Sampler::AlwaysOn),
        ("not sampled (AlwaysOff)", Sampler::AlwaysOff),
    ] {
        let provider = provider(sampler);
        let tracer = provider.tracer("bench");
        group.bench_function(label, |b| {
            b.iter(|| {
                let mut span = tracer.start("SELECT products");
                opentelemetry::trace::Span::set_attributes(
                    &mut span,
                    [
                        KeyValue::new("db.system.name", "sqlite"),
                        KeyValue::new("db.operation.name", "SELECT"),
                    ],
                );
                opentelemetry::trace::Span::end(&mut span);
            })
        });
        let _ = provider.shutdown();
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = through_tracing, through_services_subscriber, through_services_provider, raw_api
}
criterion_main!(benches);
