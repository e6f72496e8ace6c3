//! Logs over OTLP: the logger provider built beside the tracer provider, and
//! the bridge that turns our crates' `tracing` events into log records.
//!
//! - `OTEL_LOGS_EXPORTER` (`otlp` default, `console`, `none`, a comma list
//!   as for traces: [`super::exporters::names`]);
//! - the OTLP exporter reads `OTEL_EXPORTER_OTLP_LOGS_*` over the generic
//!   variables ([`super::otlp`], [`Signal::Logs`]), so by default logs go
//!   where traces go, to `/v1/logs`;
//! - the batch log processor's `OTEL_BLRP_*` settings, read here so a bad
//!   value names its variable (the SDK would skip it silently).
//!
//! The trace context: `opentelemetry-appender-tracing`'s bridge sets none
//! itself. The SDK's `Logger::emit` takes it from the current
//! OpenTelemetry context. `tracing-opentelemetry` could make each span's
//! context current on every enter (its "context activation"), but that
//! costs on every poll of every instrumented future, and the services turn
//! it off (`telemetry::span_layer`). So [`InSpanContext`] makes the context
//! of the span an event happened in current for that one event, just
//! before the bridge reads it: a record carries the trace and span ids of
//! that span, the same ids the stderr JSON line shows, and only a log
//! event pays for it.
//!
//! Only events from our own crates (target `tracemesh*`) are bridged, as
//! for spans: the exporter's own hyper/tonic/reqwest events would otherwise
//! become records to export, and their export more events.

use std::time::Duration;

use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::RetryPolicy;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, SdkLoggerProvider, SimpleLogProcessor,
};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use super::exporters::{self, LogsExporter};
use super::log_console::ConsoleLogExporter;
use super::otlp::{OtlpConfig, Signal};
use crate::config::{ConfigError, Env, parse_millis, parse_var};

/// The batch log processor's settings (`OTEL_BLRP_*`), with the spec's
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBatchSettings {
    pub max_queue_size: usize,
    pub scheduled_delay: Duration,
    pub max_export_batch_size: usize,
    /// Bounds each export call unless an OTLP timeout is set.
    pub export_timeout: Duration,
}

impl LogBatchSettings {
    fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let settings = LogBatchSettings {
            max_queue_size: parse_var(env, "OTEL_BLRP_MAX_QUEUE_SIZE")?.unwrap_or(2048),
            scheduled_delay: parse_millis(env, "OTEL_BLRP_SCHEDULE_DELAY")?
                .unwrap_or(Duration::from_millis(1000)),
            max_export_batch_size: parse_var(env, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE")?
                .unwrap_or(512),
            export_timeout: parse_millis(env, "OTEL_BLRP_EXPORT_TIMEOUT")?
                .unwrap_or(Duration::from_millis(30_000)),
        };
        if settings.max_export_batch_size > settings.max_queue_size {
            return Err(ConfigError::new(
                "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
                &settings.max_export_batch_size.to_string(),
                format!(
                    "must not exceed OTEL_BLRP_MAX_QUEUE_SIZE ({})",
                    settings.max_queue_size
                ),
            ));
        }
        Ok(settings)
    }
}

/// Where log records go, parsed and validated up front.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsConfig {
    /// `OTEL_LOGS_EXPORTER`, in order; empty for `none`.
    pub exporters: Vec<LogsExporter>,
    /// The OTLP log exporter's settings (used when `exporters` has `otlp`).
    pub otlp: OtlpConfig,
    pub batch: LogBatchSettings,
}

impl LogsConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        Ok(LogsConfig {
            exporters: exporters::names(env, "OTEL_LOGS_EXPORTER")?,
            otlp: OtlpConfig::for_signal(env, Signal::Logs)?,
            batch: LogBatchSettings::from_env(env)?,
        })
    }
}

/// The logger provider `config` describes, with the tracer provider's
/// resource; `None` for `OTEL_LOGS_EXPORTER=none` (no provider, no bridge:
/// an event then costs nothing beyond its stderr line). Must run inside the
/// tokio runtime (the gRPC exporter's channel).
pub(super) fn build_provider(
    config: &LogsConfig,
    resource: Resource,
    retry: RetryPolicy,
) -> Result<Option<SdkLoggerProvider>, String> {
    if config.exporters.is_empty() {
        return Ok(None);
    }
    let mut builder = SdkLoggerProvider::builder().with_resource(resource);
    for exporter in &config.exporters {
        builder = match exporter {
            LogsExporter::Otlp => {
                let exporter = config
                    .otlp
                    .log_exporter(config.batch.export_timeout, retry.clone())?;
                let batch = BatchConfigBuilder::default()
                    .with_max_queue_size(config.batch.max_queue_size)
                    .with_scheduled_delay(config.batch.scheduled_delay)
                    .with_max_export_batch_size(config.batch.max_export_batch_size)
                    .build();
                builder.with_log_processor(
                    BatchLogProcessor::builder(exporter)
                        .with_batch_config(batch)
                        .build(),
                )
            }
            LogsExporter::Console => {
                builder.with_log_processor(SimpleLogProcessor::new(ConsoleLogExporter))
            }
        };
    }
    Ok(Some(builder.build()))
}

/// The layer that hands events to `provider`, each in the OpenTelemetry
/// context of its span ([`InSpanContext`]). Which events: the filter
/// `subscriber.rs` puts on it (our crates', where `RUST_LOG` logs them).
pub(super) fn bridge<S>(provider: &SdkLoggerProvider) -> impl Layer<S> + Send + Sync
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    InSpanContext(OpenTelemetryTracingBridge::new(provider))
}

/// A log layer that sees each event with the OpenTelemetry context of the
/// event's `tracing` span as the current context (see the file comment).
/// Only `on_event` is passed on: the bridge acts on nothing else.
pub struct InSpanContext<L>(pub L);

impl<S, L> Layer<S> for InSpanContext<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        // An event outside any span keeps whatever context is current.
        let span = tracing::Span::current();
        let _attached = (!span.is_none()).then(|| span.context().attach());
        self.0.on_event(event, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;

    fn config(pairs: &[(&str, &str)]) -> Result<LogsConfig, ConfigError> {
        LogsConfig::from_env(&MapEnv::new(pairs.iter().copied()))
    }

    #[test]
    fn defaults_follow_the_specification() {
        let c = config(&[]).unwrap();
        assert_eq!(c.exporters, [LogsExporter::Otlp]);
        assert_eq!(c.otlp.endpoint, "http://localhost:4318/v1/logs");
        assert_eq!(c.batch.scheduled_delay, Duration::from_millis(1000));
        assert_eq!(c.batch.max_queue_size, 2048);
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        for (var, value) in [
            ("OTEL_LOGS_EXPORTER", "file"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "soon"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "udp"),
        ] {
            assert_eq!(config(&[(var, value)]).unwrap_err().var, var, "{value}");
        }
        let err = config(&[
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "8"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "9"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE");
    }

    #[test]
    fn none_builds_no_provider() {
        let c = config(&[("OTEL_LOGS_EXPORTER", "none")]).unwrap();
        let provider = build_provider(
            &c,
            Resource::builder_empty().build(),
            RetryPolicy::default(),
        );
        assert!(provider.unwrap().is_none());
    }
}
