//! Telemetry setup and shutdown: the one place that assembles the tracer
//! provider, the OTLP exporter and the `tracing` subscriber.
//!
//! Everything is configured from the standard `OTEL_*` variables, read through
//! [`Env`] so tests can pass a map. Call [`init`] once at process start, keep
//! the [`TelemetryGuard`] alive, and call [`TelemetryGuard::shutdown`] after the
//! server stopped accepting and finished its in-flight requests: that flushes
//! the spans still queued in the batch processor.
//!
//! One file per concern:
//!
//! - this one: [`TelemetryConfig`] (sampler, batch processor, resource,
//!   logs), [`init`], the tracer and its scope ([`tracer`]), the `tracing`
//!   layer that makes the spans ([`span_layer`]) and the processor chain
//!   ([`build`]);
//! - `otlp.rs`: the OTLP exporter's protocol, endpoint, headers, timeout
//!   and compression;
//! - `exporters.rs`: `OTEL_TRACES_EXPORTER` and `OTEL_LOGS_EXPORTER`
//!   (`otlp`, `console`, `none`);
//! - `console.rs`: the console span exporter;
//! - `log_export.rs`: the logger provider (OTLP logs, `OTEL_BLRP_*`) and
//!   the bridge from `tracing` events to log records; `log_console.rs` its
//!   console exporter;
//! - [`subscriber`]: the `tracing` subscriber, which layer sees what, and
//!   why every per-layer filter is asked on every span;
//! - [`chain`]: the one shape of the span processor chain's links;
//! - `limits.rs`: the span limits, and the attribute value length limit the
//!   SDK does not apply itself.
//!
//! `OTEL_PROPAGATORS` is parsed and installed by [`crate::w3c::Propagators`].

pub mod chain;
mod console;
mod exporters;
mod limits;
mod log_console;
mod log_export;
mod otlp;
pub mod subscriber;

pub use console::{ConsoleExporter, format_span};
pub use exporters::{ExporterKind, Fanout, LogsExporter, TracesExporter};
pub use limits::{CutValues, SpanLimitsConfig, ValueLengthLimit};
pub use log_console::{ConsoleLogExporter, format_record};
pub use log_export::{LogBatchSettings, LogsConfig};
pub use otlp::{OtlpConfig, OtlpHeaders, OtlpProtocol, Signal};

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::RetryPolicy;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SimpleSpanProcessor,
    SpanExporter, SpanProcessor,
};
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{ConfigError, Env, parse_bool, parse_key_values, parse_millis, parse_var};
use crate::export_stats::{CountingExporter, CountingProcessor, ExportCounters, ExportSnapshot};
use crate::fault::TelemetryFaults;
use crate::fault::sampler::TelemetryFaultSampler;
use crate::fault::span_processor::PlantSpanFaults;
use crate::logs;
use crate::metrics::clock::WriteMeasuredTimes;
use crate::w3c;
use chain::Link;

/// The sampler named by `OTEL_TRACES_SAMPLER` with its `OTEL_TRACES_SAMPLER_ARG`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio(f64),
}

impl SamplerConfig {
    fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        const VAR: &str = "OTEL_TRACES_SAMPLER";
        const ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
        // The specification's default ratio is 1.0 when the argument is unset.
        let ratio = || -> Result<f64, ConfigError> {
            let ratio = parse_var::<f64>(env, ARG)?.unwrap_or(1.0);
            if !(0.0..=1.0).contains(&ratio) {
                return Err(ConfigError::new(
                    ARG,
                    &ratio.to_string(),
                    "a ratio must be between 0.0 and 1.0",
                ));
            }
            Ok(ratio)
        };
        let Some(name) = env.get(VAR) else {
            return Ok(SamplerConfig::ParentBasedAlwaysOn);
        };
        match name.trim() {
            "always_on" => Ok(SamplerConfig::AlwaysOn),
            "always_off" => Ok(SamplerConfig::AlwaysOff),
            "traceidratio" => Ok(SamplerConfig::TraceIdRatio(ratio()?)),
            "parentbased_always_on" => Ok(SamplerConfig::ParentBasedAlwaysOn),
            "parentbased_always_off" => Ok(SamplerConfig::ParentBasedAlwaysOff),
            "parentbased_traceidratio" => Ok(SamplerConfig::ParentBasedTraceIdRatio(ratio()?)),
            _ => Err(ConfigError::new(
                VAR,
                &name,
                "expected always_on, always_off, traceidratio, parentbased_always_on, \
                 parentbased_always_off or parentbased_traceidratio",
            )),
        }
    }

    /// The ratio of a ratio-based sampler.
    pub fn ratio(self) -> Option<f64> {
        match self {
            SamplerConfig::TraceIdRatio(r) | SamplerConfig::ParentBasedTraceIdRatio(r) => Some(r),
            _ => None,
        }
    }

    fn to_sampler(self) -> Sampler {
        match self {
            SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
            SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
            SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
            SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            SamplerConfig::ParentBasedAlwaysOff => {
                Sampler::ParentBased(Box::new(Sampler::AlwaysOff))
            }
            SamplerConfig::ParentBasedTraceIdRatio(r) => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
            }
        }
    }
}

/// The batch span processor's settings (`OTEL_BSP_*`), with the spec's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    pub max_queue_size: usize,
    pub scheduled_delay: Duration,
    pub max_export_batch_size: usize,
    /// Bounds each export call, unless `OTEL_EXPORTER_OTLP_TIMEOUT` is set
    /// (the Rust SDK's batch processor has no timeout of its own).
    pub export_timeout: Duration,
    /// How long a failing export keeps being retried before its spans are
    /// given up (`TRACEMESH_EXPORT_RETRY_SECS`, default 30, 0 = no retry).
    /// Meanwhile new spans wait in the queue: a queue that holds this long
    /// of traffic loses nothing to a collector outage this long.
    pub retry_for: Duration,
}

impl BatchSettings {
    fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let settings = BatchSettings {
            max_queue_size: parse_var(env, "OTEL_BSP_MAX_QUEUE_SIZE")?.unwrap_or(2048),
            scheduled_delay: parse_millis(env, "OTEL_BSP_SCHEDULE_DELAY")?
                .unwrap_or(Duration::from_millis(5000)),
            max_export_batch_size: parse_var(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE")?.unwrap_or(512),
            export_timeout: parse_millis(env, "OTEL_BSP_EXPORT_TIMEOUT")?
                .unwrap_or(Duration::from_millis(30_000)),
            retry_for: Duration::from_secs(
                parse_var(env, "TRACEMESH_EXPORT_RETRY_SECS")?.unwrap_or(30),
            ),
        };
        if settings.max_export_batch_size > settings.max_queue_size {
            return Err(ConfigError::new(
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                &settings.max_export_batch_size.to_string(),
                format!(
                    "must not exceed OTEL_BSP_MAX_QUEUE_SIZE ({})",
                    settings.max_queue_size
                ),
            ));
        }
        Ok(settings)
    }
}

/// Everything [`init`] needs, parsed and validated up front.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    pub service_name: String,
    pub service_version: String,
    pub instance_id: String,
    /// From `OTEL_RESOURCE_ATTRIBUTES`, added to the resource.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_SDK_DISABLED=true`: no tracer provider, no export, logs only.
    pub sdk_disabled: bool,
    /// `OTEL_TRACES_EXPORTER`, in order; empty for `none`.
    pub exporters: Vec<TracesExporter>,
    /// The OTLP exporter's settings (used when `exporters` has `otlp`).
    pub otlp: OtlpConfig,
    /// `OTEL_LOGS_EXPORTER`, the OTLP log exporter, `OTEL_BLRP_*`.
    pub logs: LogsConfig,
    /// `OTEL_PROPAGATORS`.
    pub propagators: w3c::Propagators,
    /// `OTEL_SPAN_*_LIMIT`, `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
    pub span_limits: SpanLimitsConfig,
    pub sampler: SamplerConfig,
    pub batch: BatchSettings,
    /// An `EnvFilter` directive for logs (`RUST_LOG`), default `info`.
    pub log_filter: String,
    pub log_format: logs::LogFormat,
}

impl TelemetryConfig {
    /// Reads the configuration of service `default_service_name`;
    /// `OTEL_SERVICE_NAME` overrides the name as the specification says.
    pub fn from_env(env: &dyn Env, default_service_name: &str) -> Result<Self, ConfigError> {
        let resource_attributes = parse_key_values(env, "OTEL_RESOURCE_ATTRIBUTES")?;
        let service_name = env
            .get("OTEL_SERVICE_NAME")
            .unwrap_or_else(|| default_service_name.to_string());
        Ok(TelemetryConfig {
            service_name,
            service_version: env!("CARGO_PKG_VERSION").to_string(),
            instance_id: uuid::Uuid::new_v4().to_string(),
            resource_attributes,
            sdk_disabled: parse_bool(env, "OTEL_SDK_DISABLED")?.unwrap_or(false),
            exporters: exporters::from_env(env)?,
            otlp: OtlpConfig::from_env(env)?,
            logs: LogsConfig::from_env(env)?,
            propagators: w3c::Propagators::from_env(env)?,
            span_limits: SpanLimitsConfig::from_env(env)?,
            sampler: SamplerConfig::from_env(env)?,
            batch: BatchSettings::from_env(env)?,
            log_filter: env.get("RUST_LOG").unwrap_or_else(|| "info".to_string()),
            log_format: logs::LogFormat::from_env(env)?,
        })
    }
}

/// Errors [`init`] can return.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global tracing subscriber is already installed: {0}")]
    Subscriber(String),
}

/// Keeps the tracer provider alive; shut it down to flush spans on exit.
///
/// Call [`TelemetryGuard::shutdown`] on the normal path. `Drop` shuts down too,
/// as a fallback for early returns and panics (the opentelemetry-rust examples'
/// pattern), so queued spans are not lost silently.
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    /// `None` with the SDK disabled or `OTEL_LOGS_EXPORTER=none`.
    logger: Option<SdkLoggerProvider>,
    handle: TelemetryHandle,
}

/// What the admin endpoint needs: the export counters, and the provider to
/// flush. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TelemetryHandle {
    counters: Arc<ExportCounters>,
    provider: Option<SdkTracerProvider>,
    logger: Option<SdkLoggerProvider>,
}

impl TelemetryHandle {
    pub fn snapshot(&self) -> ExportSnapshot {
        self.counters.snapshot()
    }

    /// Exports what is queued, spans and log records (blocking: call it
    /// from a blocking thread), then reads the span counters. With the SDK
    /// disabled there is nothing to flush.
    pub fn flush_and_snapshot(&self) -> ExportSnapshot {
        flush(self.provider.as_ref(), self.logger.as_ref());
        self.counters.snapshot()
    }
}

/// Exports the spans and log records queued so far.
fn flush(provider: Option<&SdkTracerProvider>, logger: Option<&SdkLoggerProvider>) {
    if let Some(provider) = provider
        && let Err(e) = provider.force_flush()
    {
        tracing::warn!(error = %e, "span flush failed");
    }
    if let Some(logger) = logger
        && let Err(e) = logger.force_flush()
    {
        tracing::warn!(error = %e, "log flush failed");
    }
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("enabled", &self.provider.is_some())
            .finish()
    }
}

impl TelemetryGuard {
    /// The handle the admin endpoint serves the export counters through.
    pub fn handle(&self) -> TelemetryHandle {
        self.handle.clone()
    }

    /// Exports the spans and log records still queued and stops the
    /// exporters. It blocks on the batch processors' threads, so it runs on
    /// a blocking thread and the async runtime keeps driving the exporters'
    /// connections meanwhile. The tracer provider goes first: its shutdown
    /// may still log, and those records should reach the logger.
    pub async fn shutdown(mut self) {
        if let Some(provider) = self.provider.take() {
            let result = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            match result {
                Ok(Ok(())) => tracing::debug!("tracer provider shut down, spans flushed"),
                Ok(Err(e)) => tracing::warn!(error = %e, "tracer provider shutdown failed"),
                Err(e) => tracing::warn!(error = %e, "tracer provider shutdown panicked"),
            }
        }
        if let Some(logger) = self.logger.take() {
            let result = tokio::task::spawn_blocking(move || logger.shutdown()).await;
            match result {
                Ok(Ok(())) => {}
                // Said on stderr only: the logger is gone.
                Ok(Err(e)) => eprintln!("logger provider shutdown failed: {e}"),
                Err(e) => eprintln!("logger provider shutdown panicked: {e}"),
            }
        }
    }

    /// The logger provider (`None` with the SDK disabled or
    /// `OTEL_LOGS_EXPORTER=none`).
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.logger.as_ref()
    }

    /// The tracer provider (`None` with the SDK disabled), for a test or
    /// tool that makes spans through the OpenTelemetry API after [`build`].
    pub fn provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    /// Exports the spans and log records queued so far without shutting down.
    pub fn force_flush(&self) {
        flush(self.provider.as_ref(), self.logger.as_ref());
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
        if let Some(logger) = self.logger.take() {
            let _ = logger.shutdown();
        }
    }
}

/// Installs propagators, the tracer provider and the global `tracing`
/// subscriber. Must run inside the tokio runtime: the gRPC exporter's
/// channel is bound to it.
///
/// `faults` is the service's telemetry-fault handle (`Faults::telemetry`):
/// the span processor and the sampler read it, so faults planted later
/// through the admin endpoint take effect without rebuilding anything.
pub fn init(
    config: &TelemetryConfig,
    faults: &TelemetryFaults,
) -> Result<TelemetryGuard, TelemetryError> {
    // OTEL_PROPAGATORS on every hop, HTTP and gRPC alike.
    config.propagators.install();

    if config.sdk_disabled {
        subscriber::lines_only(config)?
            .try_init()
            .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
        tracing::info!("OTEL_SDK_DISABLED=true: tracing export is off");
        return Ok(TelemetryGuard {
            provider: None,
            logger: None,
            handle: TelemetryHandle::default(),
        });
    }

    let guard = build(config, faults)?;
    let provider = guard.provider().expect("the SDK is enabled");
    let tracer = tracer(provider);
    subscriber::services(config, tracer, guard.logger_provider())?
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
    let propagators: Vec<&str> = config
        .propagators
        .kinds()
        .iter()
        .map(|k| k.name())
        .collect();
    // The OTLP headers are logged by name only: their values are credentials.
    tracing::info!(
        exporters = ?config.exporters,
        endpoint = %config.otlp.endpoint,
        logs_exporters = ?config.logs.exporters,
        logs_endpoint = %config.logs.otlp.endpoint,
        protocol = ?config.otlp.protocol,
        otlp_headers = ?config.otlp.headers,
        gzip = config.otlp.gzip,
        sampler = ?config.sampler,
        propagators = ?propagators,
        "telemetry configured"
    );
    Ok(guard)
}

/// The `tracing-opentelemetry` layer as the services use it: every
/// `tracing` span becomes an OpenTelemetry span through `tracer`. Public so
/// the `spans` benchmark measures this very layer.
///
/// Two of the layer's defaults are off, because each costs on every span
/// and nothing reads what it gives (BENCHMARKS.md, "Profile of the traced
/// services"):
///
/// - the 8 attributes it adds to every span (source location 3, thread id
///   and name 2, target 1, busy/idle time 2, the last reading the clock on
///   every enter and exit): no check reads them, and they are bytes in
///   every export;
/// - *context activation*: making the span's OpenTelemetry `Context` the
///   current one on every enter (and restoring the previous on every exit).
///   An instrumented future is entered on every poll, so this was the
///   layer's largest cost in the services' profile. Nothing of ours reads
///   the current OpenTelemetry context on a poll: parents come from the
///   current `tracing` span, propagation takes the span's context
///   explicitly (`span.context()`), and the one reader, the OTLP log
///   bridge, gets the context attached per log event instead
///   (`log_export::bridge`), which is far rarer than a poll.
pub fn span_layer<S>(
    tracer: opentelemetry_sdk::trace::SdkTracer,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false)
}

/// The instrumentation scope of every span the services make: this crate's
/// instrumentation, named and versioned as OpenTelemetry asks (the service
/// is the resource's `service.name`, not the scope). Both are `'static`:
/// the SDK clones the tracer's scope into every span it ends, and an owned
/// name (the service's, as before) was one allocation and copy per span.
pub const INSTRUMENTATION_SCOPE: &str = "tracemesh";

/// The services' tracer, scoped [`INSTRUMENTATION_SCOPE`] at this crate's
/// version. [`init`] makes its tracer here, and the benchmarks theirs.
pub fn tracer(provider: &SdkTracerProvider) -> opentelemetry_sdk::trace::SdkTracer {
    let scope = opentelemetry::InstrumentationScope::builder(INSTRUMENTATION_SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    provider.tracer_with_scope(scope)
}

/// The tracer and logger providers [`init`] installs, without touching anything
/// process-wide (no propagator, no `tracing` subscriber): tests build one
/// from a [`TelemetryConfig`] and make spans through the OpenTelemetry API.
/// With `OTEL_SDK_DISABLED=true`, a guard without a provider. Must run
/// inside the tokio runtime (the gRPC exporter's channel).
pub fn build(
    config: &TelemetryConfig,
    faults: &TelemetryFaults,
) -> Result<TelemetryGuard, TelemetryError> {
    if config.sdk_disabled {
        return Ok(TelemetryGuard {
            provider: None,
            logger: None,
            handle: TelemetryHandle::default(),
        });
    }
    let counters = Arc::new(ExportCounters::default());
    let provider = build_provider(config, &counters, faults)?;
    let logger = log_export::build_provider(
        &config.logs,
        resource(config),
        retry_policy(config.batch.retry_for),
    )
    .map_err(TelemetryError::Exporter)?;
    Ok(TelemetryGuard {
        handle: TelemetryHandle {
            counters,
            provider: Some(provider.clone()),
            logger: logger.clone(),
        },
        provider: Some(provider),
        logger,
    })
}

/// The OTLP exporter's retries (exponential backoff, 100 ms doubling to at
/// most 2 s) as many as fit in `retry_for`.
fn retry_policy(retry_for: Duration) -> RetryPolicy {
    const FIRST: Duration = Duration::from_millis(100);
    const LONGEST: Duration = Duration::from_secs(2);
    let (mut retries, mut waited, mut delay) = (0, Duration::ZERO, FIRST);
    while waited < retry_for {
        waited += delay;
        retries += 1;
        delay = (delay * 2).min(LONGEST);
    }
    RetryPolicy::default()
        .with_max_retries(retries)
        .with_initial_delay(FIRST)
        .with_max_delay(LONGEST)
}

fn build_provider(
    config: &TelemetryConfig,
    counters: &Arc<ExportCounters>,
    faults: &TelemetryFaults,
) -> Result<SdkTracerProvider, TelemetryError> {
    // One output per `OTEL_TRACES_EXPORTER` name.
    let mut outputs: Vec<Box<dyn SpanProcessor>> = Vec::new();
    for exporter in &config.exporters {
        match exporter {
            TracesExporter::Otlp => outputs.push(Box::new(otlp_output(config, counters)?)),
            TracesExporter::Console => outputs.push(Box::new(SimpleSpanProcessor::new(
                ConsoleExporter::stdout(),
            ))),
        }
    }
    Ok(provider_with_outputs(config, faults, outputs))
}

/// The services' tracer provider, sending finished spans to `outputs`: the
/// sampler, the span limits, the resource and the processor chain
/// [`init`] installs. Public so the `spans` benchmark measures a span
/// through this very chain, with an exporter that sends nothing.
pub fn provider_with_outputs(
    config: &TelemetryConfig,
    faults: &TelemetryFaults,
    outputs: Vec<Box<dyn SpanProcessor>>,
) -> SdkTracerProvider {
    let sampler = TelemetryFaultSampler::new(
        config.sampler.to_sampler(),
        config.sampler.ratio(),
        faults.clone(),
    );
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_span_limits(config.span_limits.to_sdk())
        .with_resource(resource(config));
    // `none`: no processor at all. Spans are still made and sampled (ids
    // still propagate), nothing is sent, and the counters stay at zero.
    if !outputs.is_empty() {
        // One chain, each wrapping the next: the times the layers measured
        // replace the SDK's (`metrics::clock`: a span's duration is its
        // exemplar's value), the telemetry faults drop or
        // edit a finished span, its long values are cut, then each output
        // gets it. A span a fault dropped is thus never counted, and
        // `ended - exported - failed` still means "dropped by the full queue".
        let steps = (
            WriteMeasuredTimes::new(),
            PlantSpanFaults::new(faults.clone()),
            CutValues::new(config.span_limits.value_length),
        );
        builder = builder.with_span_processor(Link::wrap(steps, Fanout(outputs)));
    }
    builder.build()
}

/// The OTLP output: counted as ended, batched, exported (and counted again
/// as exported or failed).
fn otlp_output(
    config: &TelemetryConfig,
    counters: &Arc<ExportCounters>,
) -> Result<CountingProcessor<BatchSpanProcessor>, TelemetryError> {
    let retry = retry_policy(config.batch.retry_for);
    let exporter = config
        .otlp
        .exporter(config.batch.export_timeout, retry)
        .map_err(TelemetryError::Exporter)?;
    Ok(batch_output(config, counters, exporter))
}

/// A batching output to `exporter` with the configured queue, delay and
/// batch size, counted as [`otlp_output`] counts: spans ended before the
/// queue, and each export's outcome. The `spans` benchmark's output too.
pub fn batch_output<E: SpanExporter + 'static>(
    config: &TelemetryConfig,
    counters: &Arc<ExportCounters>,
    exporter: E,
) -> CountingProcessor<BatchSpanProcessor> {
    let exporter = CountingExporter::new(exporter, counters.clone());
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(config.batch.max_queue_size)
        .with_scheduled_delay(config.batch.scheduled_delay)
        .with_max_export_batch_size(config.batch.max_export_batch_size)
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch)
        .build();
    CountingProcessor::new(counters.clone(), processor)
}

fn resource(config: &TelemetryConfig) -> Resource {
    // OTEL_RESOURCE_ATTRIBUTES first, so the service's own identity wins
    // where both name the same key.
    let from_env = config
        .resource_attributes
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()));
    Resource::builder_empty()
        .with_attributes(from_env)
        .with_attributes([
            KeyValue::new(semconv::SERVICE_NAME, config.service_name.clone()),
            KeyValue::new(semconv::SERVICE_VERSION, config.service_version.clone()),
            KeyValue::new(semconv::SERVICE_INSTANCE_ID, config.instance_id.clone()),
            KeyValue::new(semconv::SERVICE_NAMESPACE, "tracemesh"),
        ])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;

    fn config(pairs: &[(&str, &str)]) -> Result<TelemetryConfig, ConfigError> {
        TelemetryConfig::from_env(&MapEnv::new(pairs.iter().copied()), "inventory")
    }

    #[test]
    fn defaults_follow_the_specification() {
        let c = config(&[]).unwrap();
        assert_eq!(c.service_name, "inventory");
        assert_eq!(c.otlp.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(c.otlp.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(c.exporters, [TracesExporter::Otlp]);
        assert_eq!(c.propagators, w3c::Propagators::default());
        assert_eq!(c.span_limits, SpanLimitsConfig::default());
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        assert_eq!(c.batch.max_queue_size, 2048);
        assert_eq!(c.batch.scheduled_delay, Duration::from_millis(5000));
        assert!(!c.sdk_disabled);
    }

    #[test]
    fn parentbased_traceidratio_reads_its_argument() {
        let c = config(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])
        .unwrap();
        assert_eq!(c.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.25));
    }

    #[test]
    fn a_ratio_outside_zero_to_one_is_rejected() {
        let err = config(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "OTEL_TRACES_SAMPLER_ARG");
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        for (var, value) in [
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_PROPAGATORS", "w3c"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "many"),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value}");
        }
    }

    #[test]
    fn sdk_disabled_and_batch_settings_are_read() {
        let c = config(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50"),
        ])
        .unwrap();
        assert!(c.sdk_disabled);
        assert_eq!(c.batch.scheduled_delay, Duration::from_millis(200));
        assert_eq!(c.batch.max_queue_size, 100);
    }

    #[test]
    fn a_batch_larger_than_the_queue_is_rejected() {
        let err = config(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
    }

    #[test]
    fn service_name_can_be_overridden_and_resource_attributes_are_kept() {
        let c = config(&[
            ("OTEL_SERVICE_NAME", "stock"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=ci"),
        ])
        .unwrap();
        assert_eq!(c.service_name, "stock");
        assert_eq!(
            c.resource_attributes,
            vec![("deployment.environment.name".into(), "ci".into())]
        );
    }
}
