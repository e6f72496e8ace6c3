//! The ingest path shared by both transports: gRPC and HTTP differ only in how
//! the request is decoded and the response encoded; what happens to the spans
//! is the same, so it is written once, here.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::forward::Forwarder;
use crate::store::{InsertOutcome, TraceStore};

/// Forwards (if configured), stores, and builds the OTLP response.
pub(crate) fn ingest(
    store: &TraceStore,
    forwarder: Option<&Forwarder>,
    request: ExportTraceServiceRequest,
    transport: &'static str,
) -> ExportTraceServiceResponse {
    if let Some(forwarder) = forwarder {
        // Upstream gets the request as it was sent, invalid spans included:
        // deciding what is valid is the upstream's business.
        forwarder.forward(request.clone());
    }
    let outcome = store.insert(request.resource_spans);
    // One line per request, never per span: a load test sends thousands.
    tracing::debug!(
        transport,
        accepted = outcome.accepted,
        rejected = outcome.rejected,
        "OTLP export received"
    );
    export_response(outcome)
}

/// OTLP says: set `partial_success` when anything was rejected, and leave it
/// unset on full success (an empty one means the same, but unset is clearer).
pub(crate) fn export_response(outcome: InsertOutcome) -> ExportTraceServiceResponse {
    let partial_success = (outcome.rejected > 0 || outcome.error_message.is_some()).then(|| {
        ExportTracePartialSuccess {
            rejected_spans: i64::try_from(outcome.rejected).unwrap_or(i64::MAX),
            error_message: outcome.error_message.unwrap_or_default(),
        }
    });
    ExportTraceServiceResponse { partial_success }
}
