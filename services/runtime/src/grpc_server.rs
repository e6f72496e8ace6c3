//! The SERVER span of every gRPC call a tonic service handles, as a tower
//! layer: `Server::builder().layer(GrpcServerLayer::new(faults))`.
//!
//! Per call, once: extract the caller's context from the metadata, open a
//! SERVER span named `package.Service/Method` with the rpc attributes, apply
//! the faults configured for the method, and record `rpc.grpc.status_code`
//! when the response's trailers pass (see [`crate::grpc_span`]).
//!
//! On names: semantic conventions 1.37 fold `rpc.service` into `rpc.method`
//! and rename `rpc.system` to `rpc.system.name`; Tempo's and Jaeger's service
//! graphs and most dashboards still read the older names, so we write
//! `rpc.system`, `rpc.service`, `rpc.method` and `rpc.grpc.status_code`.
//!
//! Why our own layer: the tonic tracing crates pin other opentelemetry
//! versions, and faults belong in this one place too.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use opentelemetry_semantic_conventions::attribute as semconv;
use tonic::body::Body;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::fault::Faults;
use crate::grpc_span::{self, CallSpan, Side, TracedBody};
use crate::propagation;

/// See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct GrpcServerLayer {
    faults: Faults,
}

impl GrpcServerLayer {
    pub fn new(faults: Faults) -> Self {
        GrpcServerLayer { faults }
    }
}

impl<S> Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService {
            inner,
            faults: self.faults.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcServerService<S> {
    inner: S,
    faults: Faults,
}

impl<S> Service<Request<Body>> for GrpcServerService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<TracedBody<Body>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[allow(deprecated)] // rpc.system / rpc.service: see the module documentation.
    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The usual tower dance: use the clone that was made ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let faults = self.faults.clone();

        let path = req.uri().path().to_owned();
        let Some((service, method)) = grpc_span::split_path(&path) else {
            return Box::pin(async move {
                let res = inner.call(req).await?;
                Ok(res.map(|b| TracedBody::new(b, None)))
            });
        };
        if grpc_span::is_probe(service) {
            return Box::pin(async move {
                let res = inner.call(req).await?;
                Ok(res.map(|b| TracedBody::new(b, None)))
            });
        }
        let (service, method) = (service.to_owned(), method.to_owned());

        // A `&str` rather than `%`: the layer copies it as it is instead of
        // formatting it once more through `Debug`.
        let name = format!("{service}/{method}");
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = name.as_str(),
            otel.kind = "server"
        );
        let parent = propagation::extract(req.headers());
        for attribute in propagation::baggage_attributes(&parent) {
            span.set_attribute(attribute.key, attribute.value);
        }
        let _ = span.set_parent(parent);
        span.set_attribute(semconv::RPC_SYSTEM, "grpc");
        span.set_attribute(semconv::RPC_SERVICE, service.clone());
        span.set_attribute(semconv::RPC_METHOD, method.clone());
        let mut call = CallSpan::new(span, Side::Server, &service, &method);

        Box::pin(async move {
            let result = async {
                if let Err(injected) = faults.apply(&method).await {
                    let status =
                        tonic::Status::new(injected.kind.grpc_code(), injected.to_string());
                    return Ok(status.into_http());
                }
                inner.call(req).await
            }
            .instrument(call.span().clone())
            .await;
            let res = result?;
            // A "trailers-only" response (most errors) carries the status in
            // its headers; otherwise it comes in the trailers.
            if let Some(code) = grpc_span::grpc_status(res.headers()) {
                let message = grpc_span::grpc_message(res.headers());
                // Observed and ended here, as `call` drops.
                call.record_status(code, message.as_deref());
                return Ok(res.map(|b| TracedBody::new(b, None)));
            }
            Ok(res.map(|b| TracedBody::new(b, Some(call))))
        })
    }
}
