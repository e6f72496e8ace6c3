//! Log lines: `tracing` events, JSON when stderr is not a terminal, each
//! carrying the `trace_id` and `span_id` of the span it happened in, so a log
//! line leads straight to its trace in Tempo or Jaeger.

use std::fmt;
use std::io::{IsTerminal, Write};

use opentelemetry::trace::TraceContextExt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::config::{ConfigError, Env};
use crate::time_format::rfc3339_utc;

/// How log lines are written (`TRACEMESH_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line: for containers and log shippers.
    Json,
    /// Human-readable lines: for a terminal.
    Pretty,
}

impl LogFormat {
    /// `TRACEMESH_LOG_FORMAT=json|pretty`; by default JSON unless stderr is a terminal.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        match env.get("TRACEMESH_LOG_FORMAT").as_deref().map(str::trim) {
            None if std::io::stderr().is_terminal() => Ok(LogFormat::Pretty),
            None => Ok(LogFormat::Json),
            Some("json") => Ok(LogFormat::Json),
            Some("pretty") => Ok(LogFormat::Pretty),
            Some(other) => Err(ConfigError::new(
                "TRACEMESH_LOG_FORMAT",
                other,
                "expected json or pretty",
            )),
        }
    }
}

/// The log layer for `service`, writing to stderr.
pub fn layer<S>(format: LogFormat, service: &str) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    match format {
        LogFormat::Json => Box::new(JsonLines {
            service: service.to_string(),
        }),
        LogFormat::Pretty => Box::new(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        ),
    }
}

/// Installs logging alone, for processes that export no spans of their own
/// (`tracemesh up`, `tracemesh collector`): `RUST_LOG` and
/// `TRACEMESH_LOG_FORMAT` as for the services.
pub fn init_logs_only(env: &dyn Env, name: &str, default_filter: &str) -> Result<(), ConfigError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Asked on every call, as the services' filters are: a dropped `log`
    // record must not silence the next line (telemetry/subscriber.rs).
    use crate::telemetry::subscriber::AskEachTime;
    let filter_text = env
        .get("RUST_LOG")
        .unwrap_or_else(|| default_filter.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter_text)
        .map_err(|e| ConfigError::new("RUST_LOG", &filter_text, e.to_string()))?;
    // Fails only if a subscriber is already installed, which is then kept.
    let _ = tracing_subscriber::registry()
        .with(layer(LogFormat::from_env(env)?, name).with_filter(AskEachTime(filter)))
        .try_init();
    Ok(())
}

/// The JSON lines: one object per event with the current trace and span
/// ids, written to stderr as the event happens.
///
/// A layer of its own rather than `fmt::Layer` with a JSON event format:
/// `fmt::Layer` formats every span's fields into a string as the span
/// opens, for the formats that print them (the pretty one does). These
/// lines print none, and a service opens several spans per request, so
/// this layer does nothing for a span (BENCHMARKS.md, "span via the
/// services' subscriber").
struct JsonLines {
    service: String,
}

impl JsonLines {
    fn line(&self, event: &Event<'_>) -> String {
        let meta = event.metadata();
        let mut fields = JsonFields(serde_json::Map::new());
        event.record(&mut fields);
        let mut line = serde_json::Map::new();
        line.insert(
            "timestamp".into(),
            rfc3339_utc(std::time::SystemTime::now()).into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("service".into(), self.service.clone().into());
        line.insert("target".into(), meta.target().into());
        // The OpenTelemetry context of the span this event happened in.
        let cx = tracing::Span::current().context();
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            line.insert("trace_id".into(), sc.trace_id().to_string().into());
            line.insert("span_id".into(), sc.span_id().to_string().into());
        }
        line.extend(fields.0);
        let mut text = serde_json::Value::Object(line).to_string();
        text.push('\n');
        text
    }
}

impl<S> Layer<S> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = self.line(event);
        // One write of the whole line under the lock, so the lines of two
        // threads never interleave. A log line that cannot be written has
        // nowhere else to go.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Keeps the lines `JsonLines` would write.
    struct Captured(JsonLines, Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Captured {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            self.1.lock().unwrap().push(self.0.line(event));
        }
    }

    /// The fields of a line. Its trace and span ids come from the process's
    /// global dispatcher (`tracing::Span::current()` inside a layer sees
    /// none under a test's scoped one), so they are checked end to end:
    /// tests/mesh_traces.rs reads them from the services' log lines.
    #[test]
    fn a_json_line_is_one_object_with_the_event_s_level_service_and_fields() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let json = JsonLines {
            service: "order".into(),
        };
        let subscriber = tracing_subscriber::registry().with(Captured(json, lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(status = 503, elapsed_ms = 1.5, "GET /x");
        });

        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].ends_with('\n') && lines[0].matches('\n').count() == 1);
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["service"], "order");
        assert_eq!(line["target"], "tracemesh_runtime::logs::tests");
        assert_eq!(line["status"], 503);
        assert_eq!(line["elapsed_ms"], 1.5);
        assert_eq!(line["message"], "GET /x");
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'), "{line}");
    }
}
