//! The embedded collector beside a mesh: starting it, pointing the services
//! at it, stopping it.

use tracemesh_harness::collector::{self, CollectorConfig, RunningCollector};

use crate::error::MeshError;

/// Starts the embedded collector; the error names the flags (`grpc_flag`,
/// `http_flag`) that chose its ports, so a port in use points at its fix.
pub async fn start(
    config: CollectorConfig,
    grpc_flag: &'static str,
    http_flag: &'static str,
) -> Result<RunningCollector, MeshError> {
    let (grpc, http) = (config.grpc_addr, config.http_addr);
    collector::start(config)
        .await
        .map_err(|e| MeshError::Collector {
            grpc_flag,
            grpc,
            http_flag,
            http,
            message: e.to_string(),
        })
}

/// The environment that makes the services export to `collector` over
/// OTLP/gRPC: traces and logs alike, since both signals read the generic
/// `OTEL_EXPORTER_OTLP_*` variables unless their own (`_TRACES_`, `_LOGS_`)
/// are set; the collector serves `TraceService` and `LogsService` on the
/// same port.
pub fn telemetry_env(collector: &RunningCollector) -> Vec<(String, String)> {
    vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            collector.grpc_endpoint(),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(), "grpc".to_owned()),
    ]
}

/// Stops the collector, logging what its store received.
pub async fn stop(collector: RunningCollector) {
    let stats = collector.store().stats();
    if let Err(e) = collector.shutdown().await {
        tracing::warn!(error = %e, "the collector stopped with an error");
    }
    tracing::info!(?stats, "collector stopped");
}
