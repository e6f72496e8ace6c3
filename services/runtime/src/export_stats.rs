//! What happened to each finished span between the SDK and the collector.
//!
//! The SDK's batch processor drops a span when its queue is full and an
//! export fails when the collector cannot be reached; it logs the first drop
//! and nothing else. To *count* both, two small wrappers share one set of
//! counters:
//!
//! - [`CountingProcessor`], wrapped around the batch processor, counts
//!   every sampled span it hands on (everything the batch processor is
//!   given: a span a telemetry fault dropped before it is not, see
//!   [`crate::fault::span_processor`]);
//! - [`CountingExporter`] wraps the OTLP exporter and counts the spans of
//!   each export call that succeeded or failed (after the exporter's own
//!   retries).
//!
//! After a flush, `ended - exported - failed` is what the queue dropped.
//! The admin endpoint serves the figures (`GET /admin/telemetry`), and
//! `tracemesh run` adds them up over the mesh.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use serde::{Deserialize, Serialize};

use crate::telemetry::chain::{Link, SpanStep};

/// Shared counters; clone the `Arc` to read them.
#[derive(Debug, Default)]
pub struct ExportCounters {
    ended: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
}

/// A reading of [`ExportCounters`], as served by the admin endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSnapshot {
    /// Sampled spans that ended, all handed to the batch processor (a span
    /// a planted `drop_span` fault discarded is not one of them).
    pub spans_ended: u64,
    /// Spans in export calls the collector acknowledged.
    pub spans_exported: u64,
    /// Spans in export calls that failed after every retry: lost.
    pub spans_failed: u64,
    /// `ended - exported - failed`: still queued, or dropped because the
    /// queue was full. After a flush, only the dropped ones remain.
    pub spans_not_exported: u64,
}

impl ExportCounters {
    pub fn snapshot(&self) -> ExportSnapshot {
        // Read the outcomes before `ended`: a span is counted as ended before
        // it can be exported, so this order never yields exported > ended.
        let exported = self.exported.load(Ordering::Acquire);
        let failed = self.failed.load(Ordering::Acquire);
        let ended = self.ended.load(Ordering::Acquire);
        ExportSnapshot {
            spans_ended: ended,
            spans_exported: exported,
            spans_failed: failed,
            spans_not_exported: ended.saturating_sub(exported + failed),
        }
    }
}

impl std::ops::AddAssign for ExportSnapshot {
    fn add_assign(&mut self, other: ExportSnapshot) {
        self.spans_ended += other.spans_ended;
        self.spans_exported += other.spans_exported;
        self.spans_failed += other.spans_failed;
        self.spans_not_exported += other.spans_not_exported;
    }
}

/// Counts sampled spans as they end, then hands them to the batch
/// processor it wraps. A link of the chain rather than a processor
/// registered beside it, so that whatever filters spans before it (the
/// telemetry faults) filters what is counted too; and a span is counted
/// before it can be exported.
pub type CountingProcessor<P> = Link<CountEnded, P>;

impl<P> CountingProcessor<P> {
    pub fn new(counters: Arc<ExportCounters>, inner: P) -> Self {
        Link::wrap(CountEnded(counters), inner)
    }
}

/// The step of [`CountingProcessor`].
#[derive(Debug)]
pub struct CountEnded(Arc<ExportCounters>);

impl SpanStep for CountEnded {
    fn on_end(&self, span: &mut SpanData) -> bool {
        // The batch processor exports only sampled spans; count the same.
        if span.span_context.is_sampled() {
            self.0.ended.fetch_add(1, Ordering::Release);
        }
        true
    }
}

/// Counts the outcome of every export call of the exporter it wraps.
#[derive(Debug)]
pub struct CountingExporter<E> {
    inner: E,
    counters: Arc<ExportCounters>,
}

impl<E> CountingExporter<E> {
    pub fn new(inner: E, counters: Arc<ExportCounters>) -> Self {
        CountingExporter { inner, counters }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        let result = self.inner.export(batch).await;
        let counter = if result.is_ok() {
            &self.counters.exported
        } else {
            &self.counters.failed
        };
        counter.fetch_add(spans, Ordering::Release);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SimpleSpanProcessor};

    /// An exporter that fails while `failing` is set: the real OTLP exporter
    /// against a closed port does the same, more slowly.
    #[derive(Debug, Clone, Default)]
    struct Switchable {
        failing: Arc<std::sync::atomic::AtomicBool>,
    }

    impl SpanExporter for Switchable {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            if self.failing.load(Ordering::Relaxed) {
                Err(OTelSdkError::InternalFailure("collector down".into()))
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn counts_ended_exported_and_failed_spans() {
        let counters = Arc::new(ExportCounters::default());
        let exporter = Switchable::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(CountingProcessor::new(
                counters.clone(),
                SimpleSpanProcessor::new(CountingExporter::new(exporter.clone(), counters.clone())),
            ))
            .with_sampler(Sampler::AlwaysOn)
            .build();
        let tracer = provider.tracer("test");
        for _ in 0..3 {
            tracer.in_span("ok", |_| {});
        }
        exporter.failing.store(true, Ordering::Relaxed);
        for _ in 0..2 {
            tracer.in_span("lost", |_| {});
        }
        assert_eq!(
            counters.snapshot(),
            ExportSnapshot {
                spans_ended: 5,
                spans_exported: 3,
                spans_failed: 2,
                spans_not_exported: 0,
            }
        );
    }

    #[test]
    fn unsampled_spans_are_not_counted() {
        let counters = Arc::new(ExportCounters::default());
        let provider = SdkTracerProvider::builder()
            .with_span_processor(CountingProcessor::new(
                counters.clone(),
                SimpleSpanProcessor::new(Switchable::default()),
            ))
            .with_sampler(Sampler::AlwaysOff)
            .build();
        provider
            .tracer("test")
            .in_span("dropped by sampling", |_| {});
        assert_eq!(counters.snapshot().spans_ended, 0);
    }
}
