//! OTLP/gRPC receiver: the `TraceService` from opentelemetry-proto's generated
//! tonic code, backed by the store.
//!
//! Size limit: tonic enforces `max_decoding_message_size` before our code
//! runs. Note the status codes tonic 0.14 uses (see tonic's
//! `codec/decode.rs`): an uncompressed message over the limit is answered
//! with OUT_OF_RANGE, a gzip message whose *decompressed* size goes over it
//! with RESOURCE_EXHAUSTED. Both are client errors the exporter will log.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::forward::Forwarder;
use super::ingest::ingest;
use crate::store::TraceStore;

/// The gRPC service implementation. Build the server with [`grpc_service`].
#[derive(Clone)]
pub struct OtlpGrpcReceiver {
    store: TraceStore,
    forwarder: Option<Forwarder>,
}

#[tonic::async_trait]
impl TraceService for OtlpGrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let response = ingest(
            &self.store,
            self.forwarder.as_ref(),
            request.into_inner(),
            "grpc",
        );
        Ok(Response::new(response))
    }
}

/// The tonic service, ready for `Server::builder().add_service(..)`.
pub fn grpc_service(
    store: TraceStore,
    forwarder: Option<Forwarder>,
    max_message_bytes: usize,
) -> TraceServiceServer<OtlpGrpcReceiver> {
    TraceServiceServer::new(OtlpGrpcReceiver { store, forwarder })
        .max_decoding_message_size(max_message_bytes)
        // Exporters commonly set `compression: gzip`; without this tonic
        // would answer UNIMPLEMENTED to every compressed export.
        .accept_compressed(CompressionEncoding::Gzip)
        // Only used when the client says it accepts gzip.
        .send_compressed(CompressionEncoding::Gzip)
}
