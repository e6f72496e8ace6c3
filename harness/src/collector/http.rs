//! OTLP/HTTP receiver: `POST /v1/traces`, as the OTLP spec defines it.
//!
//! The request passes four gates, each with its own answer:
//! 1. Content-Type: `application/x-protobuf` or `application/json`, else 415.
//! 2. Body size: over the limit -> 413 (checked on the bytes read, not only
//!    on Content-Length, which a client may omit or get wrong).
//! 3. Content-Encoding: none or `gzip`; gzip is inflated under the same size
//!    limit, so a small "zip bomb" cannot expand into gigabytes. Else 415.
//! 4. Decoding: protobuf (prost) or OTLP/JSON (the `with-serde` feature of
//!    opentelemetry-proto, which reads hex ids as the spec requires) -> 400
//!    naming the failure: invalid UTF-8 in a string, nesting past prost's
//!    recursion limit (100 messages) or serde_json's (128 levels), garbage.
//!
//! Then `ingest.rs` cuts attribute values over `max_attribute_bytes` (see
//! `limits.rs`). The response is an `ExportTraceServiceResponse` in the
//! request's encoding; every refusal is a status plus `{"error": ".."}`.

use std::io::Read;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flate2::read::MultiGzDecoder;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::ingest::{IngestState, ingest};

pub const PROTOBUF_CONTENT_TYPE: &str = "application/x-protobuf";
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Where OTLP/HTTP exports of spans are posted.
pub const TRACES_PATH: &str = "/v1/traces";

/// The router with `POST /v1/traces`.
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route(TRACES_PATH, post(export_traces))
        .with_state(state)
}

/// The body's encoding, which the response answers in too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Protobuf,
    Json,
}

async fn export_traces(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match decode_request(&state, &headers, body).await {
        Ok((encoding, request)) => {
            let response = ingest(&state, request, "http");
            encode_response(encoding, &response)
        }
        Err(error) => error.into_response(),
    }
}

/// The four gates of the file comment, for any signal's export request
/// (`/v1/logs` passes the same ones).
pub(super) async fn decode_request<M: Message + Default + DeserializeOwned>(
    state: &IngestState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Encoding, M), ApiError> {
    let encoding = content_type(headers)?;
    let gzipped = is_gzipped(headers)?;
    let wire_bytes = read_body_limited(headers, body, state.max_body_bytes).await?;
    let bytes = if gzipped {
        gunzip_limited(&wire_bytes, state.max_body_bytes)?
    } else {
        wire_bytes
    };
    Ok((encoding, decode_as(encoding, &bytes)?))
}

/// Decodes one OTLP/HTTP export body (already inflated) as its
/// `Content-Type` says: `application/x-protobuf` or `application/json`,
/// parameters and case ignored. This is the decoding `POST /v1/traces` does
/// after its size and gzip gates; it is public so the fuzz targets
/// (`fuzz/fuzz_targets/otlp_json.rs`) drive exactly this path. Another type
/// is `UnsupportedMediaType` (415), a body that does not decode `BadRequest`
/// (400).
pub fn decode_otlp_body(
    content_type: &str,
    body: &[u8],
) -> Result<ExportTraceServiceRequest, ApiError> {
    decode_as(encoding_of(content_type)?, body)
}

fn decode_as<M: Message + Default + DeserializeOwned>(
    encoding: Encoding,
    body: &[u8],
) -> Result<M, ApiError> {
    match encoding {
        Encoding::Protobuf => M::decode(body)
            .map_err(|e| ApiError::BadRequest(format!("invalid OTLP protobuf body: {e}"))),
        Encoding::Json => serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("invalid OTLP/JSON body: {e}"))),
    }
}

fn content_type(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    encoding_of(raw)
}

fn encoding_of(raw: &str) -> Result<Encoding, ApiError> {
    // Ignore parameters such as `; charset=utf-8`.
    let mime = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        PROTOBUF_CONTENT_TYPE => Ok(Encoding::Protobuf),
        JSON_CONTENT_TYPE => Ok(Encoding::Json),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {raw:?}: use {PROTOBUF_CONTENT_TYPE} or {JSON_CONTENT_TYPE}"
        ))),
    }
}

fn is_gzipped(headers: &HeaderMap) -> Result<bool, ApiError> {
    let raw = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(false),
        "gzip" | "x-gzip" => Ok(true),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Encoding {raw:?}: use gzip or none"
        ))),
    }
}

async fn read_body_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    // Fast path: an honest Content-Length over the limit is refused unread.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::PayloadTooLarge { limit })
        }
        Err(error) => Err(ApiError::BadRequest(format!(
            "could not read request body: {error}"
        ))),
    }
}

/// Inflates gzip, stopping one byte past `limit` so we never hold more than
/// that, whatever the compression ratio. Done inline: with a 4 MiB cap it
/// takes milliseconds, not worth a blocking-pool hop.
fn gunzip_limited(compressed: &[u8], limit: usize) -> Result<Bytes, ApiError> {
    let mut inflated = Vec::new();
    MultiGzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| ApiError::BadRequest(format!("invalid gzip body: {e}")))?;
    if inflated.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(Bytes::from(inflated))
}

fn encode_response(encoding: Encoding, response: &ExportTraceServiceResponse) -> Response {
    encode_export_response(encoding, response, response.partial_success.as_ref())
}

/// Any signal's export response, in the request's encoding. In JSON, `{}`
/// on full success rather than `{"partialSuccess":null}`.
pub(super) fn encode_export_response<M: Message, P: Serialize>(
    encoding: Encoding,
    response: &M,
    partial_success: Option<&P>,
) -> Response {
    match encoding {
        Encoding::Protobuf => (
            [(header::CONTENT_TYPE, PROTOBUF_CONTENT_TYPE)],
            response.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => match partial_success {
            Some(partial) => Json(serde_json::json!({ "partialSuccess": partial })).into_response(),
            None => Json(serde_json::json!({})).into_response(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn content_type_ignores_parameters_and_case() {
        let h = headers(&[(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")]);
        assert_eq!(content_type(&h).unwrap(), Encoding::Json);
        let h = headers(&[(header::CONTENT_TYPE, "text/plain")]);
        assert!(matches!(
            content_type(&h),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            content_type(&HeaderMap::new()),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn gunzip_stops_at_the_limit() {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(
            bomb.len() < 10_000,
            "1 MiB of zeros compresses to a few KiB"
        );
        assert!(matches!(
            gunzip_limited(&bomb, 64 * 1024),
            Err(ApiError::PayloadTooLarge { .. })
        ));
        assert_eq!(gunzip_limited(&bomb, 1 << 20).unwrap().len(), 1 << 20);
        assert!(matches!(
            gunzip_limited(b"not gzip", 1024),
            Err(ApiError::BadRequest(_))
        ));
    }
}
