//! Inject and extract of W3C trace context + baggage, the work every hop of
//! the mesh does twice (once as client, once as server): in HTTP headers
//! (`http::HeaderMap`, as axum and reqwest carry them) and in gRPC metadata
//! (`tonic::metadata::MetadataMap`, as a tonic `Request` carries it).
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use std::hint::black_box;

/// The allocator the `tracemesh` binary runs with (src/main.rs), so the
/// figures are what the services and the collector pay.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn sample_context() -> Context {
    let sc = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value([("vendor", "value")]).unwrap(),
    );
    Context::new()
        .with_remote_span_context(sc)
        .with_baggage([KeyValue::new("tenant", "workshop")])
}

fn propagation(c: &mut Criterion) {
    tracemesh_runtime::w3c::install_propagator();
    let cx = sample_context();
    c.bench_function("inject traceparent+tracestate+baggage", |b| {
        b.iter(|| {
            let mut headers = http::HeaderMap::new();
            tracemesh_runtime::propagation::inject(black_box(&cx), &mut headers);
            headers
        })
    });
    let mut headers = http::HeaderMap::new();
    tracemesh_runtime::propagation::inject(&cx, &mut headers);
    c.bench_function("extract traceparent+tracestate+baggage", |b| {
        b.iter(|| tracemesh_runtime::propagation::extract(black_box(&headers)))
    });
}

/// Writes into tonic's metadata (ASCII values; a bad key or value is skipped,
/// as the HTTP injector does).
struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct MetadataExtractor<'a>(&'a tonic::metadata::MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(|k| match k {
                tonic::metadata::KeyRef::Ascii(k) => k.as_str(),
                tonic::metadata::KeyRef::Binary(k) => k.as_str(),
            })
            .collect()
    }
}

fn grpc_metadata(c: &mut Criterion) {
    tracemesh_runtime::w3c::install_propagator();
    let cx = sample_context();
    c.bench_function("inject into gRPC metadata", |b| {
        b.iter(|| {
            let mut metadata = tonic::metadata::MetadataMap::new();
            opentelemetry::global::get_text_map_propagator(|p| {
                p.inject_context(black_box(&cx), &mut MetadataInjector(&mut metadata))
            });
            metadata
        })
    });
    let mut metadata = tonic::metadata::MetadataMap::new();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut MetadataInjector(&mut metadata))
    });
    c.bench_function("extract from gRPC metadata", |b| {
        b.iter(|| {
            opentelemetry::global::get_text_map_propagator(|p| {
                p.extract(&MetadataExtractor(black_box(&metadata)))
            })
        })
    });
    // What the mesh's own gRPC layers do: metadata *is* the request's
    // HTTP/2 headers, so they use the HTTP functions on `req.headers()`.
    let headers = metadata.clone().into_headers();
    c.bench_function("extract from gRPC request headers (the mesh's path)", |b| {
        b.iter(|| tracemesh_runtime::propagation::extract(black_box(&headers)))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = propagation, grpc_metadata
}
criterion_main!(benches);
