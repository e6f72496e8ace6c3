//! A real OTLP receiver for the tests, over HTTP and gRPC, that keeps what
//! the embedded collector does not: each export request's HTTP headers (the
//! auth header, `content-encoding`, `grpc-encoding`) next to its spans.
//!
//! Small on purpose: it accepts gzip (as a collector does), decodes the
//! protobuf, records, and answers success after an optional delay (to make
//! an exporter's timeout fire).

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;

/// One export request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub spans: Vec<Span>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone, Default)]
struct Shared {
    requests: Arc<Mutex<Vec<Received>>>,
    delay: Duration,
}

impl Shared {
    async fn record(&self, headers: HeaderMap, request: ExportTraceServiceRequest) {
        let spans = request
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect();
        self.requests
            .lock()
            .unwrap()
            .push(Received { headers, spans });
        tokio::time::sleep(self.delay).await;
    }
}

/// The running receiver: one port per protocol.
pub struct Receiver {
    /// `http://127.0.0.1:port`, to which OTLP/HTTP appends `/v1/traces`.
    pub http_url: String,
    pub grpc_url: String,
    shared: Shared,
}

impl Receiver {
    /// Every export request received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.shared.requests.lock().unwrap().clone()
    }
}

/// Starts both servers; each answers after `delay`.
pub async fn start(delay: Duration) -> Receiver {
    let shared = Shared {
        requests: Arc::default(),
        delay,
    };

    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_url = format!("http://{}", http.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/traces", post(http_export))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(http, app).await });

    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_url = format!("http://{}", grpc.local_addr().unwrap());
    let service = TraceServiceServer::new(GrpcReceiver(shared.clone()))
        .accept_compressed(CompressionEncoding::Gzip);
    // tonic moves the reserved headers (`grpc-encoding`, `te`...) out of a
    // request's metadata; copy every header into the extensions first.
    let keep_headers =
        tower::util::MapRequestLayer::new(|mut req: http::Request<tonic::body::Body>| {
            let headers = RawHeaders(req.headers().clone());
            req.extensions_mut().insert(headers);
            req
        });
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(keep_headers)
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(grpc))
            .await
    });
    Receiver {
        http_url,
        grpc_url,
        shared,
    }
}

async fn http_export(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    let gzipped = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v == "gzip");
    let body = if gzipped {
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut inflated)
            .expect("valid gzip");
        inflated
    } else {
        body.to_vec()
    };
    let request = ExportTraceServiceRequest::decode(&body[..]).expect("OTLP protobuf");
    shared.record(headers, request).await;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

#[derive(Clone)]
struct RawHeaders(HeaderMap);

struct GrpcReceiver(Shared);

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let headers = request
            .extensions()
            .get::<RawHeaders>()
            .map(|h| h.0.clone())
            .unwrap_or_default();
        self.0.record(headers, request.into_inner()).await;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}
