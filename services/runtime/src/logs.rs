//! Log lines: `tracing` events, JSON when stderr is not a terminal, each
//! carrying the `trace_id` and `span_id` of the span it happened in, so a log
//! line leads straight to its trace in Tempo or Jaeger.

use std::fmt;
use std::io::IsTerminal;

use opentelemetry::trace::TraceContextExt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
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
    let base = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Json => Box::new(base.event_format(JsonWithTraceIds {
            service: service.to_string(),
        })),
        LogFormat::Pretty => Box::new(base.with_target(false)),
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

/// Formats an event as one JSON object with the current trace and span ids.
struct JsonWithTraceIds {
    service: String,
}

impl<S, N> FormatEvent<S, N> for JsonWithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
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
        writeln!(writer, "{}", serde_json::Value::Object(line))
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
