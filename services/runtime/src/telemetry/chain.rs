//! The one shape of a link in the span processor chain: a [`SpanStep`]
//! sees each finished span, may change or drop it, and a [`Link`] hands
//! what is left to the processor it wraps.
//!
//! Why wrappers and not processors registered side by side: the SDK hands
//! every registered processor its *own copy* of a finished span, so a
//! processor registered before the batch processor could look at a span but
//! never change what the batch processor exports. Wrapping is the SDK's
//! documented way to filter (see `SpanProcessor::on_end`). The chain
//! [`super::init`] builds: one link whose step is three steps in order (the
//! layers' measured times, `metrics::clock`; the telemetry faults,
//! `fault::span_processor`; the attribute value length limit, `limits.rs`),
//! around the outputs; per output, a link counting ended spans
//! (`export_stats`) around the batch processor. Each step also has a
//! processor of its own (`MeasuredTimesProcessor`, ...), one step in one
//! link, for tests and for providers that need only that step.

use std::fmt::Debug;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

/// What one link does to a finished span.
pub trait SpanStep: Debug + Send + Sync {
    /// Changes `span` in place; `false` drops it (the processors behind
    /// never see it).
    fn on_end(&self, span: &mut SpanData) -> bool;
}

/// Three steps run as one, in order; the first that drops the span ends
/// it. The services' chain is one [`Link`] around such a tuple rather than
/// a link per step: a link hands the span on by value, and each hand-off
/// copied the whole `SpanData` (64 instructions of `memcpy` a link in the
/// `spans` bench, "span via the services' tracer provider", even with the
/// links inlined into one function).
impl<A: SpanStep, B: SpanStep, C: SpanStep> SpanStep for (A, B, C) {
    fn on_end(&self, span: &mut SpanData) -> bool {
        self.0.on_end(span) && self.1.on_end(span) && self.2.on_end(span)
    }
}

/// `step`, then `inner`. Everything but `on_end` is passed straight through.
#[derive(Debug)]
pub struct Link<S, P> {
    step: S,
    inner: P,
}

impl<S, P> Link<S, P> {
    /// Each link's type alias has its own `new`, which calls this.
    pub fn wrap(step: S, inner: P) -> Self {
        Link { step, inner }
    }
}

impl<S: SpanStep, P: SpanProcessor> SpanProcessor for Link<S, P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        if self.step.on_end(&mut span) {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};

    use super::*;

    /// Records the names of the spans it sees, and adds an attribute to
    /// them (or drops those named `drop`).
    #[derive(Debug, Default)]
    struct Step {
        name: &'static str,
        seen: Mutex<Vec<String>>,
    }

    impl SpanStep for &'static Step {
        fn on_end(&self, span: &mut SpanData) -> bool {
            self.seen.lock().unwrap().push(span.name.to_string());
            if span.name == "drop" && self.name == "second" {
                return false;
            }
            span.attributes.push(KeyValue::new(self.name, true));
            true
        }
    }

    fn step(name: &'static str) -> &'static Step {
        Box::leak(Box::new(Step {
            name,
            seen: Mutex::default(),
        }))
    }

    #[test]
    fn three_steps_run_in_order_and_a_drop_stops_the_rest() {
        let (first, second, third) = (step("first"), step("second"), step("third"));
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(Link::wrap(
                (first, second, third),
                SimpleSpanProcessor::new(exporter.clone()),
            ))
            .build();
        let tracer = provider.tracer("t");
        tracer.start("keep").end();
        tracer.start("drop").end();

        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1, "the dropped span reached the exporter");
        let keys: Vec<&str> = spans[0]
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert_eq!(keys, ["first", "second", "third"]);
        assert_eq!(*first.seen.lock().unwrap(), ["keep", "drop"]);
        assert_eq!(*second.seen.lock().unwrap(), ["keep", "drop"]);
        assert_eq!(*third.seen.lock().unwrap(), ["keep"]);
    }
}
