//! `OTEL_TRACES_EXPORTER=console`: each finished span as one readable line
//! on stdout (logs go to stderr, so the two do not mix).
//!
//! ```text
//! span trace=4bf9…4736 id=00f0…02b7 parent=- SERVER "POST /api/checkout" 12.345ms status=Ok service=gateway http.route="/api/checkout" …
//! ```
//!
//! Ours rather than `opentelemetry-stdout` (0.33.1, which does match our
//! opentelemetry version): that crate prints each batch as a multi-line
//! debug dump, which `grep` cannot follow span by span.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_semantic_conventions::attribute as semconv;

/// Writes spans to `W` (stdout in a service, a buffer in tests).
#[derive(Debug)]
pub struct ConsoleExporter<W> {
    out: Mutex<W>,
    service: String,
}

impl ConsoleExporter<std::io::Stdout> {
    pub fn stdout() -> Self {
        ConsoleExporter::new(std::io::stdout())
    }
}

impl<W> ConsoleExporter<W> {
    pub fn new(out: W) -> Self {
        ConsoleExporter {
            out: Mutex::new(out),
            service: String::new(),
        }
    }

    /// The writer, for tests to read back.
    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

/// One span, one line.
pub fn format_span(span: &SpanData, service: &str) -> String {
    let sc = &span.span_context;
    let parent = if span.parent_span_id == SpanId::INVALID {
        "-".to_string()
    } else {
        span.parent_span_id.to_string()
    };
    let took = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let status = match &span.status {
        Status::Unset => "Unset".to_string(),
        Status::Ok => "Ok".to_string(),
        Status::Error { description } => format!("Error({description:?})"),
    };
    let kind = match span.span_kind {
        SpanKind::Server => "SERVER",
        SpanKind::Client => "CLIENT",
        SpanKind::Producer => "PRODUCER",
        SpanKind::Consumer => "CONSUMER",
        SpanKind::Internal => "INTERNAL",
    };
    let mut line = format!(
        "span trace={} id={} parent={parent} {kind} {:?} {:.3}ms status={status} service={service}",
        sc.trace_id(),
        sc.span_id(),
        span.name,
        took.as_secs_f64() * 1000.0,
    );
    for kv in &span.attributes {
        // `{:?}` quotes strings and escapes newlines: one span stays one line.
        let _ = write!(line, " {}={:?}", kv.key, kv.value.as_str());
    }
    for event in span.events.iter() {
        let _ = write!(line, " event={:?}", event.name);
    }
    line
}

impl<W: Write + Send + std::fmt::Debug> SpanExporter for ConsoleExporter<W> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut out = self
            .out
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("console writer poisoned".into()))?;
        for span in &batch {
            writeln!(out, "{}", format_span(span, &self.service))
                .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?;
        }
        out.flush()
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.service = resource
            .get(&opentelemetry::Key::from_static_str(semconv::SERVICE_NAME))
            .map(|v| v.as_str().into_owned())
            .unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Span as _, Tracer, TracerProvider as _};
    use opentelemetry_sdk::trace::{SdkTracerProvider, SimpleSpanProcessor};

    /// A writer the test keeps a handle on.
    #[derive(Debug, Clone, Default)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_span_is_one_line_with_ids_name_service_and_attributes() {
        let out = Shared::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(SimpleSpanProcessor::new(ConsoleExporter::new(out.clone())))
            .with_resource(
                Resource::builder_empty()
                    .with_service_name("payment")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("t");
        let mut span = tracer
            .span_builder("POST /v1/charges")
            .with_kind(SpanKind::Server)
            .start(&tracer);
        span.set_attribute(KeyValue::new("note", "two\nlines"));
        let trace_id = span.span_context().trace_id().to_string();
        span.end();
        tracer.in_span("child", |_| {});
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].starts_with(&format!("span trace={trace_id} id=")),
            "{text}"
        );
        assert!(
            lines[0].contains(" parent=- SERVER \"POST /v1/charges\" "),
            "{text}"
        );
        assert!(lines[0].contains(" service=payment "), "{text}");
        assert!(lines[0].contains(r#"note="two\nlines""#), "{text}");
        assert!(lines[1].contains("INTERNAL \"child\""), "{text}");
    }
}
