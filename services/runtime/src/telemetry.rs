//! Telemetry setup and shutdown: the one place that assembles the tracer
//! provider, the OTLP exporter and the `tracing` subscriber.
//!
//! Everything is configured from the standard `OTEL_*` variables, read through
//! [`Env`] so tests can pass a map. Call [`init`] once at process start, keep
//! the [`TelemetryGuard`] alive, and call [`TelemetryGuard::shutdown`] after the
//! server stopped accepting and finished its in-flight requests: that flushes
//! the spans still queued in the batch processor.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{
    Protocol, RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{ConfigError, Env, parse_bool, parse_key_values, parse_millis, parse_var};
use crate::export_stats::{CountingExporter, CountingProcessor, ExportCounters, ExportSnapshot};
use crate::fault::TelemetryFaults;
use crate::fault::sampler::TelemetryFaultSampler;
use crate::fault::span_processor::TelemetryFaultProcessor;
use crate::logs;
use crate::w3c;

/// Which wire protocol the OTLP exporter speaks (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

impl OtlpProtocol {
    fn parse(var: &str, raw: &str) -> Result<Self, ConfigError> {
        match raw.trim() {
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            "http/json" => Ok(OtlpProtocol::HttpJson),
            _ => Err(ConfigError::new(
                var,
                raw,
                "expected grpc, http/protobuf or http/json",
            )),
        }
    }

    /// The endpoint the specification gives as default for this protocol.
    fn default_endpoint(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "http://localhost:4317",
            OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => "http://localhost:4318",
        }
    }
}

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
    /// Bounds each export call (set on the exporter).
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
    pub protocol: OtlpProtocol,
    /// The full URL spans are sent to (for HTTP it ends in `/v1/traces`).
    pub traces_endpoint: String,
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
        let protocol = match env
            .get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .map(|v| ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", v))
            .or_else(|| {
                env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                    .map(|v| ("OTEL_EXPORTER_OTLP_PROTOCOL", v))
            }) {
            Some((var, raw)) => OtlpProtocol::parse(var, &raw)?,
            // The specification's default; the embedded collector serves both.
            None => OtlpProtocol::HttpProtobuf,
        };
        let traces_endpoint = traces_endpoint(env, protocol)?;
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
            protocol,
            traces_endpoint,
            sampler: SamplerConfig::from_env(env)?,
            batch: BatchSettings::from_env(env)?,
            log_filter: env.get("RUST_LOG").unwrap_or_else(|| "info".to_string()),
            log_format: logs::LogFormat::from_env(env)?,
        })
    }
}

/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as given; the generic
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is a base URL to which HTTP appends
/// `/v1/traces` (both as the OTLP exporter specification says).
fn traces_endpoint(env: &dyn Env, protocol: OtlpProtocol) -> Result<String, ConfigError> {
    let (var, url, append) = if let Some(url) = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url, false)
    } else if let Some(url) = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        ("OTEL_EXPORTER_OTLP_ENDPOINT", url, true)
    } else {
        ("", protocol.default_endpoint().to_string(), true)
    };
    let url = url.trim().to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::new(
            var,
            &url,
            "expected an http:// or https:// URL",
        ));
    }
    Ok(match protocol {
        OtlpProtocol::Grpc => url,
        _ if append => format!("{}/v1/traces", url.trim_end_matches('/')),
        _ => url,
    })
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
    handle: TelemetryHandle,
}

/// What the admin endpoint needs: the export counters, and the provider to
/// flush. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TelemetryHandle {
    counters: Arc<ExportCounters>,
    provider: Option<SdkTracerProvider>,
}

impl TelemetryHandle {
    pub fn snapshot(&self) -> ExportSnapshot {
        self.counters.snapshot()
    }

    /// Exports what is queued (blocking: call it from a blocking thread),
    /// then reads the counters. With the SDK disabled there is nothing to flush.
    pub fn flush_and_snapshot(&self) -> ExportSnapshot {
        if let Some(provider) = &self.provider
            && let Err(e) = provider.force_flush()
        {
            tracing::warn!(error = %e, "span flush failed");
        }
        self.counters.snapshot()
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

    /// Exports the spans still queued and stops the exporter. It blocks on
    /// the batch processor's thread, so it runs on a blocking thread and the
    /// async runtime keeps driving the exporter's connection meanwhile.
    pub async fn shutdown(mut self) {
        if let Some(provider) = self.provider.take() {
            let result = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            match result {
                Ok(Ok(())) => tracing::debug!("tracer provider shut down, spans flushed"),
                Ok(Err(e)) => tracing::warn!(error = %e, "tracer provider shutdown failed"),
                Err(e) => tracing::warn!(error = %e, "tracer provider shutdown panicked"),
            }
        }
    }

    /// Exports the spans queued so far without shutting down.
    pub fn force_flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(e) = provider.force_flush()
        {
            tracing::warn!(error = %e, "span flush failed");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
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
    // W3C trace context and W3C baggage on every hop, HTTP and gRPC alike.
    w3c::install_propagator();

    let env_filter = EnvFilter::try_new(&config.log_filter)
        .map_err(|e| ConfigError::new("RUST_LOG", &config.log_filter, e.to_string()))?;

    if config.sdk_disabled {
        tracing_subscriber::registry()
            .with(logs::layer(config.log_format, &config.service_name).with_filter(env_filter))
            .try_init()
            .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
        tracing::info!("OTEL_SDK_DISABLED=true: tracing export is off");
        return Ok(TelemetryGuard {
            provider: None,
            handle: TelemetryHandle::default(),
        });
    }

    let counters = Arc::new(ExportCounters::default());
    let provider = build_provider(config, &counters, faults)?;
    let tracer = provider.tracer(config.service_name.clone());
    // Only our own crates' spans become OpenTelemetry spans. Without this
    // filter the exporter's own hyper/tonic/h2/reqwest spans would be traced
    // and exported, which makes more spans to export: a loop.
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // By default the layer adds 8 attributes to every span (source
        // location, thread id and name, target, busy/idle time, the last
        // reading the clock on every enter and exit). No check reads them,
        // and they cost about 30% of a span's creation (BENCHMARKS.md, the
        // `spans` bench) plus their bytes in every export.
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.target().starts_with("tracemesh")
        }));
    tracing_subscriber::registry()
        .with(otel_layer)
        .with(logs::layer(config.log_format, &config.service_name).with_filter(env_filter))
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
    tracing::info!(
        endpoint = %config.traces_endpoint,
        protocol = ?config.protocol,
        sampler = ?config.sampler,
        "exporting spans over OTLP"
    );
    Ok(TelemetryGuard {
        handle: TelemetryHandle {
            counters,
            provider: Some(provider.clone()),
        },
        provider: Some(provider),
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
    let retry = retry_policy(config.batch.retry_for);
    let exporter = match config.protocol {
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(&config.traces_endpoint)
            .with_timeout(config.batch.export_timeout)
            .with_retry_policy(retry)
            .build(),
        OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => {
            let protocol = if config.protocol == OtlpProtocol::HttpJson {
                Protocol::HttpJson
            } else {
                Protocol::HttpBinary
            };
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(&config.traces_endpoint)
                .with_timeout(config.batch.export_timeout)
                .with_retry_policy(retry)
                .build()
        }
    }
    .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let exporter = CountingExporter::new(exporter, counters.clone());

    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(config.batch.max_queue_size)
        .with_scheduled_delay(config.batch.scheduled_delay)
        .with_max_export_batch_size(config.batch.max_export_batch_size)
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch)
        .build();

    // One chain, each wrapping the next: the telemetry faults drop or edit
    // a finished span, then it is counted as ended, then queued for export.
    // A span a fault dropped is thus never counted, and `ended - exported -
    // failed` still means "dropped by the full queue".
    let processor = TelemetryFaultProcessor::new(
        faults.clone(),
        CountingProcessor::new(counters.clone(), processor),
    );
    let sampler = TelemetryFaultSampler::new(
        config.sampler.to_sampler(),
        config.sampler.ratio(),
        faults.clone(),
    );

    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler)
        .with_resource(resource(config))
        .build())
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
        assert_eq!(c.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(c.traces_endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        assert_eq!(c.batch.max_queue_size, 2048);
        assert_eq!(c.batch.scheduled_delay, Duration::from_millis(5000));
        assert!(!c.sdk_disabled);
    }

    #[test]
    fn grpc_uses_the_endpoint_as_given() {
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ])
        .unwrap();
        assert_eq!(c.traces_endpoint, "http://collector:4317");
    }

    #[test]
    fn http_appends_the_signal_path_to_the_generic_endpoint_only() {
        let c = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]).unwrap();
        assert_eq!(c.traces_endpoint, "http://c:4318/v1/traces");
        let c = config(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:9/custom")]).unwrap();
        assert_eq!(c.traces_endpoint, "http://c:9/custom");
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
    fn an_unknown_sampler_or_protocol_names_the_variable() {
        let err = config(&[("OTEL_TRACES_SAMPLER", "sometimes")]).unwrap_err();
        assert_eq!(err.var, "OTEL_TRACES_SAMPLER");
        let err = config(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")]).unwrap_err();
        assert_eq!(err.var, "OTEL_EXPORTER_OTLP_PROTOCOL");
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
