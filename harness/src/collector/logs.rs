//! OTLP logs: the receivers (gRPC `LogsService/Export`, HTTP `POST
//! /v1/logs`) and the query route `GET /api/logs/{trace_id}`.
//!
//! Both receivers pass the traces' gates (`limits.rs`: message and body
//! size, gzip inflated under the same limit, undecodable bytes answered
//! INVALID_ARGUMENT or 400) because they are the same code: the wrapped
//! gRPC service of `grpc.rs` and the decoding of `http.rs`. Records with
//! ids of the wrong length are counted in `partial_success.rejected_log_records`.
//! Logs are not forwarded upstream: the forwarder speaks the trace service only.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Status};

use super::error::ApiError;
use super::grpc::OtlpGrpcService;
use super::http::{decode_request, encode_export_response};
use super::ingest::IngestState;
use crate::model::normalize_trace_id;
use crate::store::{LogInsertOutcome, LogStore};

/// The gRPC logs receiver. Build the server with [`logs_grpc_service`].
#[derive(Clone)]
pub struct OtlpLogsReceiver {
    logs: LogStore,
}

#[tonic::async_trait]
impl LogsService for OtlpLogsReceiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        let response = ingest(&self.logs, &request.into_inner(), "grpc");
        Ok(tonic::Response::new(response))
    }
}

/// The tonic logs service, with the traces' message limit and gzip.
pub fn logs_grpc_service(
    state: &IngestState,
) -> OtlpGrpcService<LogsServiceServer<OtlpLogsReceiver>> {
    let inner = LogsServiceServer::new(OtlpLogsReceiver {
        logs: state.logs.clone(),
    })
    .max_decoding_message_size(state.max_body_bytes)
    .accept_compressed(CompressionEncoding::Gzip)
    .send_compressed(CompressionEncoding::Gzip);
    OtlpGrpcService::new(inner)
}

/// `POST /v1/logs` and `GET /api/logs/{trace_id}`.
pub fn router(state: IngestState) -> Router {
    let logs = state.logs.clone();
    Router::new()
        .route("/v1/logs", post(export_logs))
        .with_state(state)
        .merge(
            Router::new()
                .route("/api/logs/{trace_id}", get(trace_logs))
                .with_state(logs),
        )
}

async fn export_logs(State(state): State<IngestState>, headers: HeaderMap, body: Body) -> Response {
    match decode_request::<ExportLogsServiceRequest>(&state, &headers, body).await {
        Ok((encoding, request)) => {
            let response = ingest(&state.logs, &request, "http");
            encode_export_response(encoding, &response, response.partial_success.as_ref())
        }
        Err(error) => error.into_response(),
    }
}

/// The trace's records in time order: `{"trace_id": .., "records": [..]}`,
/// each record a [`crate::logs::LogLine`]. A trace that logged nothing (or
/// is unknown) has no records; that is an answer, not a 404.
async fn trace_logs(State(logs): State<LogStore>, Path(raw_id): Path<String>) -> Response {
    let Some(trace_id) = normalize_trace_id(&raw_id) else {
        return ApiError::BadRequest(format!(
            "malformed trace id {raw_id:?}: expected 1 to 32 hex characters"
        ))
        .into_response();
    };
    let records = logs.trace(&trace_id);
    axum::Json(serde_json::json!({ "trace_id": trace_id, "records": records })).into_response()
}

fn ingest(
    logs: &LogStore,
    request: &ExportLogsServiceRequest,
    transport: &'static str,
) -> ExportLogsServiceResponse {
    let outcome = logs.insert(&request.resource_logs);
    tracing::debug!(
        transport,
        accepted = outcome.accepted,
        rejected = outcome.rejected,
        "OTLP logs export received"
    );
    export_response(outcome)
}

/// `partial_success` when anything was rejected, unset on full success (as
/// for traces, `ingest.rs`).
fn export_response(outcome: LogInsertOutcome) -> ExportLogsServiceResponse {
    let partial_success = (outcome.rejected > 0).then(|| ExportLogsPartialSuccess {
        rejected_log_records: i64::try_from(outcome.rejected).unwrap_or(i64::MAX),
        error_message: outcome.error_message.unwrap_or_default(),
    });
    ExportLogsServiceResponse { partial_success }
}
