//! Inject and extract of W3C trace context + baggage, the work every hop of
//! the mesh does twice (once as client, once as server).

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use std::hint::black_box;

fn install_propagators() {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
}

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
    install_propagators();
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

criterion_group!(benches, propagation);
criterion_main!(benches);
