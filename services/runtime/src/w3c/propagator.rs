//! The OpenTelemetry propagator: W3C Trace Context, then W3C Baggage.
//!
//! Composed here once, so the services, the benches and the fuzz targets
//! cannot drift apart (one with baggage, one without, or in another order).
//! [`install_propagator`] is the one place that makes it process-wide:
//! `telemetry::init` calls it, and so does every test or bench that needs
//! propagation without the rest of the telemetry.

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// W3C trace context (`traceparent`, `tracestate`) and W3C baggage, the
/// propagator every hop uses, HTTP and gRPC alike.
pub fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// Makes [`propagator`] the global one, which [`crate::propagation`]'s
/// `extract` and `inject` use. Installing it again replaces it with an
/// identical one, so tests may call this in any order.
pub fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(propagator());
}
