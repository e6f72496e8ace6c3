//! `OTEL_LOGS_EXPORTER=console`: each log record as one line on stdout, in
//! the shape of the console span exporter's lines so `grep trace=<id>`
//! finds a trace's spans and records together:
//!
//! ```text
//! log trace=4bf9…4736 span=00f0…02b7 INFO tracemesh_order::saga "card declined" order_id=17
//! ```

use std::fmt::Write as _;
use std::io::Write;

use opentelemetry::logs::AnyValue;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord};

/// Writes records to stdout.
#[derive(Debug, Default)]
pub struct ConsoleLogExporter;

/// One record, one line.
pub fn format_record(record: &SdkLogRecord) -> String {
    let (trace, span) = match record.trace_context() {
        Some(tc) => (tc.trace_id.to_string(), tc.span_id.to_string()),
        None => ("-".to_string(), "-".to_string()),
    };
    let mut line = format!(
        "log trace={trace} span={span} {} {} {}",
        record.severity_text().unwrap_or("-"),
        record.target().map(|t| t.as_ref()).unwrap_or("-"),
        record.body().map(show).unwrap_or_default(),
    );
    for (key, value) in record.attributes_iter() {
        let _ = write!(line, " {key}={}", show(value));
    }
    line
}

/// A value as the line shows it: strings quoted, so spaces stay readable.
fn show(value: &AnyValue) -> String {
    match value {
        AnyValue::String(s) => format!("{:?}", s.as_str()),
        AnyValue::Int(i) => i.to_string(),
        AnyValue::Double(d) => d.to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

impl LogExporter for ConsoleLogExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let mut text = String::new();
        for (record, _scope) in batch.iter() {
            text.push_str(&format_record(record));
            text.push('\n');
        }
        std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry::trace::{SpanId, TraceId};
    use opentelemetry_sdk::logs::SdkLoggerProvider;

    #[test]
    fn one_record_is_one_line_with_its_trace_and_fields() {
        let logger = SdkLoggerProvider::builder().build().logger("test");
        let mut record = logger.create_log_record();
        record.set_severity_text("WARN");
        record.set_target("tracemesh_order");
        record.set_body("card declined".into());
        record.add_attribute("order_id", 17);
        record.set_trace_context(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            None,
        );
        assert_eq!(
            format_record(&record),
            "log trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7 WARN \
             tracemesh_order \"card declined\" order_id=17"
        );
    }
}
