//! OTLP/gRPC receiver: the `TraceService` from opentelemetry-proto's generated
//! tonic code, backed by the store, wrapped in [`OtlpGrpcService`] so that a
//! request tonic cannot decode is answered INVALID_ARGUMENT.
//!
//! Statuses, and who produces them (tonic 0.14's `codec/decode.rs` and
//! tonic-prost's `codec.rs`):
//! - a message over the limit: OUT_OF_RANGE (tonic, from the frame's length
//!   prefix, before reading the message);
//! - a gzip message whose *decompressed* size goes over it:
//!   RESOURCE_EXHAUSTED (tonic stops inflating at the limit);
//! - bytes prost cannot decode (invalid UTF-8 in a string, nesting past
//!   prost's recursion limit of 100, garbage) or gzip that does not inflate:
//!   tonic answers INTERNAL, following gRPC's status code guide. The OTLP
//!   specification asks for INVALID_ARGUMENT for data that can never be
//!   accepted (an exporter does not retry it either way), and INTERNAL reads
//!   as "the collector is broken", so [`OtlpGrpcService`] rewrites it: our
//!   `export` handler never fails, so every INTERNAL on this service comes
//!   from tonic refusing the request's bytes. The message is kept.

use std::convert::Infallible;
use std::task::{Context, Poll};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::codegen::{BoxFuture, Service, StdError, http};
use tonic::server::NamedService;
use tonic::{Code, Request, Response, Status};

use super::ingest::{IngestState, ingest};

/// The gRPC service implementation. Build the server with [`grpc_service`].
#[derive(Clone)]
pub struct OtlpGrpcReceiver {
    state: IngestState,
}

#[tonic::async_trait]
impl TraceService for OtlpGrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let response = ingest(&self.state, request.into_inner(), "grpc");
        Ok(Response::new(response))
    }
}

/// The tonic service, ready for `Server::builder().add_service(..)`.
pub fn grpc_service(state: IngestState) -> OtlpGrpcService {
    let max_message_bytes = state.max_body_bytes;
    let inner = TraceServiceServer::new(OtlpGrpcReceiver { state })
        .max_decoding_message_size(max_message_bytes)
        // Exporters commonly set `compression: gzip`; without this tonic
        // would answer UNIMPLEMENTED to every compressed export.
        .accept_compressed(CompressionEncoding::Gzip)
        // Only used when the client says it accepts gzip.
        .send_compressed(CompressionEncoding::Gzip);
    OtlpGrpcService { inner }
}

/// A generated OTLP server (`TraceServiceServer` by default, the logs'
/// `LogsServiceServer` too), with tonic's INTERNAL for an undecodable
/// request turned into INVALID_ARGUMENT (see the file comment).
#[derive(Clone)]
pub struct OtlpGrpcService<S = TraceServiceServer<OtlpGrpcReceiver>> {
    inner: S,
}

impl<S> OtlpGrpcService<S> {
    /// Wraps a generated server whose handler never fails.
    pub(super) fn new(inner: S) -> Self {
        OtlpGrpcService { inner }
    }
}

impl<S: NamedService> NamedService for OtlpGrpcService<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for OtlpGrpcService<S>
where
    S: Service<
            http::Request<B>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
            Future = BoxFuture<http::Response<tonic::body::Body>, Infallible>,
        >,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let answer = self.inner.call(request);
        Box::pin(async move { Ok(invalid_argument_for_internal(answer.await?)) })
    }
}

/// A decoding failure is answered before the handler runs, as a
/// "trailers-only" response: the status is in the headers. Anything else
/// (a normal response, whose status travels in the trailers) passes as is.
fn invalid_argument_for_internal(
    response: http::Response<tonic::body::Body>,
) -> http::Response<tonic::body::Body> {
    match Status::from_header_map(response.headers()) {
        Some(status) if status.code() == Code::Internal => {
            tracing::debug!(error = status.message(), "undecodable OTLP/gRPC export");
            Status::invalid_argument(status.message().to_owned()).into_http()
        }
        _ => response,
    }
}
