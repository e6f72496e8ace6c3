//! The one error type of the collector's HTTP side (OTLP/HTTP ingest and the
//! query API). Every failure becomes a status code plus `{"error": "..."}`,
//! and is logged here, once, instead of at every place that can fail.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: undecodable body, bad trace id, bad parameter.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// Body (or its decompressed form) over the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A Content-Type or Content-Encoding we do not speak.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A Tempo feature the embedded store does not serve (501), so a client
    /// written for Tempo learns why rather than meeting a bare 404.
    #[error("{0} is not supported by the embedded store; use Tempo")]
    NotImplemented(String),
    /// Our bug, not the client's.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.to_string();
        tracing::debug!(status = status.as_u16(), error = %message, "collector request failed");
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}
