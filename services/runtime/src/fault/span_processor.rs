//! `drop_span`, `drop_attribute` and `lose_error_status`: one span processor
//! that edits (or discards) each finished span before the processors it wraps
//! see it.
//!
//! A link of the span processor chain ([`crate::telemetry::chain`]): the
//! SDK gives each registered processor its own copy of a span, so only a
//! wrapper can change what is exported.
//!
//! [`crate::telemetry`] wraps the counting processor of
//! [`crate::export_stats`] together with the batch processor, so a span
//! dropped here is never counted as ended: `ended - exported - failed` keeps
//! meaning "dropped by the full queue", and the export figures do not blame
//! the queue for a planted fault.

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_semantic_conventions::attribute as semconv;

use super::telemetry::{Planted, TelemetryFault, TelemetryFaults};
use crate::telemetry::chain::{Link, SpanStep};

/// Applies the span faults of a [`TelemetryFaults`] to every finished span,
/// then hands what is left to the processor it wraps.
pub type TelemetryFaultProcessor<P> = Link<PlantSpanFaults, P>;

impl<P> TelemetryFaultProcessor<P> {
    pub fn new(faults: TelemetryFaults, inner: P) -> Self {
        Link::wrap(PlantSpanFaults::new(faults), inner)
    }
}

/// The step of [`TelemetryFaultProcessor`].
#[derive(Debug)]
pub struct PlantSpanFaults {
    faults: TelemetryFaults,
}

impl PlantSpanFaults {
    pub fn new(faults: TelemetryFaults) -> Self {
        PlantSpanFaults { faults }
    }
}

impl SpanStep for PlantSpanFaults {
    fn on_end(&self, span: &mut SpanData) -> bool {
        match self.faults.current() {
            Some(planted) => apply(&planted, span),
            None => true,
        }
    }
}

/// Applies the active span faults to `span`; false when it is to be dropped.
fn apply(planted: &Planted, span: &mut SpanData) -> bool {
    for fault in planted.active() {
        match fault {
            TelemetryFault::DropSpan { span: name, .. } if *name == span.name => return false,
            TelemetryFault::DropAttribute {
                span: name,
                attribute,
                ..
            } if name.as_ref().is_none_or(|n| *n == span.name) => {
                span.attributes.retain(|kv| kv.key.as_str() != attribute);
            }
            TelemetryFault::LoseErrorStatus { operation, .. }
                if span.span_kind == SpanKind::Server
                    && matches!(span.status, Status::Error { .. })
                    && operation.as_deref().is_none_or(|op| is_operation(span, op)) =>
            {
                span.status = Status::Unset;
                span.attributes
                    .retain(|kv| kv.key.as_str() != semconv::ERROR_TYPE);
            }
            _ => {}
        }
    }
    true
}

/// Whether the SERVER span `span` is operation `op`, named as operation
/// faults name it: `*`, an HTTP span's name (`POST /v1/charges`), or a gRPC
/// method's short name (the span's `rpc.method`, as the server layer sets it).
fn is_operation(span: &SpanData, op: &str) -> bool {
    op == "*"
        || span.name == op
        || span
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == semconv::RPC_METHOD && kv.value.as_str() == op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::FaultConfig;
    use opentelemetry::trace::{Span as _, SpanKind, Tracer, TracerProvider as _};
    use opentelemetry::{KeyValue, Value};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};

    /// Spans made through a provider whose only processor is the fault
    /// processor around an in-memory exporter.
    struct Pipeline {
        provider: SdkTracerProvider,
        exporter: InMemorySpanExporter,
    }

    impl Pipeline {
        fn with(telemetry_yaml: &str) -> Pipeline {
            let config = FaultConfig::parse(telemetry_yaml).unwrap();
            let exporter = InMemorySpanExporter::default();
            let processor = TelemetryFaultProcessor::new(
                TelemetryFaults::new(config.telemetry),
                SimpleSpanProcessor::new(exporter.clone()),
            );
            let provider = SdkTracerProvider::builder()
                .with_span_processor(processor)
                .build();
            Pipeline { provider, exporter }
        }

        /// Ends one span of `kind` named `name` with `attributes`, failed
        /// (status Error plus `error.type`) if `failed`.
        fn span(&self, kind: SpanKind, name: &'static str, failed: bool, attrs: &[(&str, &str)]) {
            let tracer = self.provider.tracer("test");
            let mut span = tracer
                .span_builder(name)
                .with_kind(kind)
                .with_attributes(
                    attrs
                        .iter()
                        .map(|(k, v)| KeyValue::new(k.to_string(), v.to_string())),
                )
                .start(&tracer);
            if failed {
                span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, "UNAVAILABLE"));
                span.set_status(Status::error("down"));
            }
            span.end();
        }

        fn finished(&self) -> Vec<SpanData> {
            self.exporter.get_finished_spans().unwrap()
        }
    }

    fn keys(span: &SpanData) -> Vec<&str> {
        span.attributes.iter().map(|kv| kv.key.as_str()).collect()
    }

    #[test]
    fn drop_span_drops_exactly_the_named_spans() {
        let p = Pipeline::with("telemetry: [{kind: drop_span, span: INSERT orders}]");
        p.span(SpanKind::Client, "INSERT orders", false, &[]);
        p.span(
            SpanKind::Client,
            "SELECT orders",
            false,
            &[("db.system.name", "sqlite")],
        );
        p.span(SpanKind::Client, "INSERT orders", true, &[]);
        let spans = p.finished();
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_eq!(spans[0].name, "SELECT orders");
        assert_eq!(keys(&spans[0]), ["db.system.name"]);
    }

    #[test]
    fn drop_attribute_removes_one_key_from_the_named_spans_only() {
        let p = Pipeline::with(
            "telemetry: [{kind: drop_attribute, span: A/Validate, attribute: rpc.grpc.status_code}]",
        );
        let attrs = [("rpc.grpc.status_code", "0"), ("rpc.method", "Validate")];
        p.span(SpanKind::Server, "A/Validate", false, &attrs);
        p.span(SpanKind::Server, "A/Other", false, &attrs);
        let spans = p.finished();
        assert_eq!(spans.len(), 2);
        assert_eq!(keys(&spans[0]), ["rpc.method"]);
        assert_eq!(keys(&spans[1]), ["rpc.grpc.status_code", "rpc.method"]);
    }

    #[test]
    fn drop_attribute_without_a_span_name_applies_to_every_span() {
        let p = Pipeline::with("telemetry: [{kind: drop_attribute, attribute: k}]");
        p.span(SpanKind::Server, "a", false, &[("k", "1"), ("j", "2")]);
        p.span(SpanKind::Client, "b", true, &[("k", "1")]);
        let spans = p.finished();
        assert_eq!(keys(&spans[0]), ["j"]);
        assert_eq!(keys(&spans[1]), [semconv::ERROR_TYPE]);
        // Nothing else changed: the failed span still failed.
        assert!(matches!(spans[1].status, Status::Error { .. }));
    }

    #[test]
    fn lose_error_status_clears_failed_server_spans_only() {
        let p = Pipeline::with("telemetry: [{kind: lose_error_status}]");
        p.span(
            SpanKind::Server,
            "svc/Reserve",
            true,
            &[("rpc.method", "Reserve")],
        );
        p.span(SpanKind::Client, "svc/Reserve", true, &[]);
        p.span(SpanKind::Server, "svc/Release", false, &[]);
        let spans = p.finished();
        assert_eq!(spans.len(), 3);
        // The failed SERVER span: Unset, no error.type, the rest kept.
        assert_eq!(spans[0].status, Status::Unset);
        assert_eq!(keys(&spans[0]), ["rpc.method"]);
        // A CLIENT span keeps its error.
        assert!(matches!(spans[1].status, Status::Error { .. }));
        assert_eq!(keys(&spans[1]), [semconv::ERROR_TYPE]);
        // A healthy SERVER span is untouched.
        assert_eq!(spans[2].status, Status::Unset);
    }

    #[test]
    fn lose_error_status_can_name_an_operation_as_operation_faults_do() {
        let p = Pipeline::with(
            "telemetry: [{kind: lose_error_status, operation: Reserve}, \
             {kind: lose_error_status, operation: POST /v1/charges}]",
        );
        p.span(
            SpanKind::Server,
            "svc/Reserve",
            true,
            &[("rpc.method", "Reserve")],
        );
        p.span(
            SpanKind::Server,
            "svc/Release",
            true,
            &[("rpc.method", "Release")],
        );
        p.span(SpanKind::Server, "POST /v1/charges", true, &[]);
        let spans = p.finished();
        assert_eq!(spans[0].status, Status::Unset);
        assert!(matches!(spans[1].status, Status::Error { .. }));
        assert_eq!(
            spans[1]
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == semconv::ERROR_TYPE)
                .map(|kv| &kv.value),
            Some(&Value::from("UNAVAILABLE"))
        );
        assert_eq!(spans[2].status, Status::Unset);
    }

    #[test]
    fn without_faults_every_span_passes_unchanged() {
        let p = Pipeline::with("");
        p.span(SpanKind::Server, "INSERT orders", true, &[("k", "v")]);
        let spans = p.finished();
        assert_eq!(spans.len(), 1);
        assert_eq!(keys(&spans[0]), ["k", semconv::ERROR_TYPE]);
        assert!(matches!(spans[0].status, Status::Error { .. }));
    }
}
