//! The ingest path shared by both transports: gRPC and HTTP differ only in how
//! the request is decoded and the response encoded; what happens to the spans
//! is the same, so it is written once, here: forward (if configured), cut
//! attribute values over the limit (`limits.rs`), store, answer.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::forward::Forwarder;
use super::limits::{IngestStats, truncate_attribute_values};
use crate::store::{InsertOutcome, LogStore, TraceStore};

/// What both receivers need: where spans go, and the limits.
#[derive(Clone)]
pub struct IngestState {
    pub store: TraceStore,
    /// Where OTLP log records go (`logs.rs`).
    pub logs: LogStore,
    pub forwarder: Option<Forwarder>,
    /// Limit on one export: the gRPC decoded message, the HTTP body, and the
    /// HTTP body after gzip decompression.
    pub max_body_bytes: usize,
    /// Longer string or bytes attribute values are cut to this many bytes.
    pub max_attribute_bytes: usize,
    pub stats: IngestStats,
}

/// Forwards (if configured), truncates, stores, and builds the OTLP response.
pub(crate) fn ingest(
    state: &IngestState,
    mut request: ExportTraceServiceRequest,
    transport: &'static str,
) -> ExportTraceServiceResponse {
    if let Some(forwarder) = &state.forwarder {
        // Upstream gets the request as it was sent, invalid spans and long
        // values included: deciding what to keep is the upstream's business.
        forwarder.forward(request.clone());
    }
    let truncated = truncate_attribute_values(&mut request, state.max_attribute_bytes);
    state.stats.add_truncated(truncated);
    let outcome = state.store.insert(request.resource_spans);
    // One line per request, never per span: a load test sends thousands.
    tracing::debug!(
        transport,
        accepted = outcome.accepted,
        rejected = outcome.rejected,
        attributes_truncated = truncated,
        "OTLP export received"
    );
    export_response(outcome)
}

/// OTLP says: set `partial_success` when anything was rejected, and leave it
/// unset on full success (an empty one means the same, but unset is clearer).
/// Truncated values are not reported there: the spans were accepted.
pub(crate) fn export_response(outcome: InsertOutcome) -> ExportTraceServiceResponse {
    let partial_success = (outcome.rejected > 0 || outcome.error_message.is_some()).then(|| {
        ExportTracePartialSuccess {
            rejected_spans: i64::try_from(outcome.rejected).unwrap_or(i64::MAX),
            error_message: outcome.error_message.unwrap_or_default(),
        }
    });
    ExportTraceServiceResponse { partial_success }
}
