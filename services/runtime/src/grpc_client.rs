//! The CLIENT span of every outbound gRPC call, as a tower layer around a
//! tonic `Channel`, and [`connect`], the one way the mesh builds its channels.
//!
//! Per call, once: open a CLIENT span named `package.Service/Method` (a child
//! of whatever span is current: the handler's), inject its context and the
//! baggage into the request metadata, and record the status from headers or
//! trailers, or the transport error when there was no answer.
//!
//! A channel knows its callee (a [`crate::propagation::Hop`], given to
//! [`connect`]), so the service's telemetry faults can drop or corrupt the
//! context of the calls to that callee only.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use opentelemetry_semantic_conventions::attribute as semconv;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::grpc_span::{self, CallSpan, Side, TracedBody};
use crate::propagation::Hop;

/// How long an outbound call may take before it fails with DEADLINE_EXCEEDED,
/// and how long connecting may take. Every hop has a deadline so that a hung
/// service turns into an error span instead of a hung gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(3),
        }
    }
}

/// A traced channel: what the generated clients are built on, e.g.
/// `InventoryServiceClient::new(connect(faults.hop(Service::Inventory), url, deadlines)?)`.
pub type TracedChannel = GrpcClientService<Channel>;

/// A lazily connecting, traced channel to `url` (`http://host:port`), the
/// address of `hop`'s callee. Lazy, so services can start in any order and
/// a dead peer only fails the calls that need it.
pub fn connect(
    hop: Hop,
    url: &str,
    deadlines: Deadlines,
) -> Result<TracedChannel, tonic::transport::Error> {
    let endpoint = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(deadlines.connect)
        .timeout(deadlines.request);
    let (address, port) = {
        let uri = endpoint.uri();
        (uri.host().unwrap_or_default().to_owned(), uri.port_u16())
    };
    let channel = endpoint.connect_lazy();
    Ok(GrpcClientLayer { address, port, hop }.layer(channel))
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct GrpcClientLayer {
    /// The peer, for `server.address` / `server.port`.
    address: String,
    port: Option<u16>,
    /// The callee, whose context injection telemetry faults may break.
    hop: Hop,
}

impl<S> Layer<S> for GrpcClientLayer {
    type Service = GrpcClientService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcClientService {
            inner,
            address: self.address.clone(),
            port: self.port,
            hop: self.hop.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcClientService<S> {
    inner: S,
    address: String,
    port: Option<u16>,
    hop: Hop,
}

impl<S, B> Service<Request<Body>> for GrpcClientService<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
    B: http_body::Body,
{
    type Response = Response<TracedBody<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[allow(deprecated)] // rpc.system / rpc.service: see `crate::grpc_server`.
    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);

        let path = req.uri().path().to_owned();
        let (service, method) = grpc_span::split_path(&path).unwrap_or(("unknown", "unknown"));
        if grpc_span::is_probe(service) {
            return Box::pin(async move {
                let res = inner.call(req).await?;
                Ok(res.map(|b| TracedBody::new(b, None)))
            });
        }
        // A `&str` rather than `%`: see `crate::grpc_server`.
        let name = format!("{service}/{method}");
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = name.as_str(),
            otel.kind = "client"
        );
        span.set_attribute(semconv::RPC_SYSTEM, "grpc");
        span.set_attribute(semconv::RPC_SERVICE, service.to_owned());
        span.set_attribute(semconv::RPC_METHOD, method.to_owned());
        span.set_attribute(semconv::SERVER_ADDRESS, self.address.clone());
        if let Some(port) = self.port {
            span.set_attribute(semconv::SERVER_PORT, i64::from(port));
        }
        self.hop.inject(&span.context(), req.headers_mut());
        let mut call = CallSpan::new(span, Side::Client, service, method);

        Box::pin(async move {
            match inner.call(req).instrument(call.span().clone()).await {
                Ok(res) => {
                    if let Some(code) = grpc_span::grpc_status(res.headers()) {
                        let message = grpc_span::grpc_message(res.headers());
                        // Observed and ended here, as `call` drops.
                        call.record_status(code, message.as_deref());
                        return Ok(res.map(|b| TracedBody::new(b, None)));
                    }
                    Ok(res.map(|b| TracedBody::new(b, Some(call))))
                }
                Err(e) => {
                    let (error_type, code) = classify_transport_error(&e);
                    call.record_transport_error(error_type, error_chain(&e), Some(code));
                    Err(e)
                }
            }
        })
    }
}

/// A call that got no gRPC status: a timeout is DEADLINE_EXCEEDED, anything
/// else (refused, reset, DNS) is UNAVAILABLE, which is also what tonic turns
/// these errors into for the caller.
fn classify_transport_error(e: &(dyn std::error::Error + 'static)) -> (&'static str, tonic::Code) {
    let text = error_chain(e).to_ascii_lowercase();
    if text.contains("timeout") || text.contains("timed out") || text.contains("elapsed") {
        ("DEADLINE_EXCEEDED", tonic::Code::DeadlineExceeded)
    } else {
        ("UNAVAILABLE", tonic::Code::Unavailable)
    }
}

/// An error with its sources, `outer: inner: innermost`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
