//! Raw OTLP clients: they send protobuf bodies encoded in advance, so that
//! measuring a collector measures the collector, not the sender's encoding.
//! The bodies are exactly what an exporter sends, over gRPC to
//! `opentelemetry.proto.collector.trace.v1.TraceService/Export`
//! ([`RawOtlpClient`]) or over HTTP as `POST /v1/traces` with
//! `application/x-protobuf` ([`RawOtlpHttpClient`]).

use std::time::Duration;

use bytes::BufMut;
pub use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Sends already-encoded `ExportTraceServiceRequest`s; cheap to clone
/// (clones share one HTTP/2 connection, as an exporter's channel does).
#[derive(Clone)]
pub struct RawOtlpClient {
    grpc: tonic::client::Grpc<Channel>,
}

impl std::fmt::Debug for RawOtlpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawOtlpClient")
    }
}

impl RawOtlpClient {
    /// Connects to `endpoint` (`http://127.0.0.1:4317`).
    pub async fn connect(endpoint: &str) -> Result<RawOtlpClient, String> {
        let channel = Channel::from_shared(endpoint.to_owned())
            .map_err(|e| format!("{endpoint}: {e}"))?
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
        Ok(RawOtlpClient {
            grpc: tonic::client::Grpc::new(channel),
        })
    }

    /// Sends one export; `Ok(rejected spans)` once the collector answered.
    pub async fn export(&mut self, body: Bytes) -> Result<i64, Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let response = self
            .grpc
            .unary(
                tonic::Request::new(body),
                http::uri::PathAndQuery::from_static(EXPORT_PATH),
                RawCodec,
            )
            .await?;
        Ok(response
            .into_inner()
            .partial_success
            .map_or(0, |p| p.rejected_spans))
    }
}

/// Sends already-encoded `ExportTraceServiceRequest`s as OTLP/HTTP protobuf;
/// cheap to clone (clones share one connection pool, HTTP/1.1 keep-alive,
/// as the OTel SDKs' HTTP exporters do).
#[derive(Debug, Clone)]
pub struct RawOtlpHttpClient {
    client: reqwest::Client,
    url: String,
}

impl RawOtlpHttpClient {
    /// `endpoint`: the collector's HTTP side (`http://127.0.0.1:4318`).
    pub fn new(endpoint: &str) -> RawOtlpHttpClient {
        RawOtlpHttpClient {
            client: reqwest::Client::new(),
            url: format!("{}/v1/traces", endpoint.trim_end_matches('/')),
        }
    }

    /// Sends one export; `Ok(rejected spans)` once the collector answered
    /// 200 with an `ExportTraceServiceResponse`.
    pub async fn export(&self, body: Bytes) -> Result<i64, String> {
        let response = self
            .client
            .post(&self.url)
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?;
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        let answer = ExportTraceServiceResponse::decode(bytes).map_err(|e| e.to_string())?;
        Ok(answer.partial_success.map_or(0, |p| p.rejected_spans))
    }
}

/// Writes the pre-encoded body as is; decodes the response with prost.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        ExportTraceServiceResponse::decode(buf)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}
