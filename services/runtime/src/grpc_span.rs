//! What gRPC server and client spans share: parsing `/package.Service/Method`,
//! reading `grpc-status`, and a response body that finishes the span when the
//! call's trailers arrive.
//!
//! A gRPC call's outcome is usually in the HTTP/2 *trailers*, after the last
//! message, not in the response headers (except for "trailers-only" error
//! responses). So the span cannot be closed when the handler returns: the
//! [`TracedBody`] holds it until the trailers pass by, records
//! `rpc.grpc.status_code` from them, and drops it at the end of the stream.
//!
//! [`CallSpan`] is that span with its duration histogram observation: the
//! observation is made when the `CallSpan` is dropped, which is where the
//! span ends whichever way the call ended (trailers, trailers-only,
//! transport error, or a body dropped unread).

use std::pin::Pin;
use std::task::{Context, Poll};

use crate::metrics::clock::SpanClock;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use opentelemetry::trace::Status;
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `/tracemesh.inventory.v1.InventoryService/Reserve` →
/// (`tracemesh.inventory.v1.InventoryService`, `Reserve`).
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/'))
        .then_some((service, method))
}

/// Health checks are probed constantly by `up`, the gateway's `/readyz` and
/// orchestrators; tracing them would bury the shop's traces, so neither the
/// client nor the server layer makes spans for them.
pub fn is_probe(service: &str) -> bool {
    service == "grpc.health.v1.Health"
}

/// The `grpc-status` in a header map, if any.
pub fn grpc_status(headers: &HeaderMap) -> Option<tonic::Code> {
    let raw = headers.get("grpc-status")?.to_str().ok()?;
    raw.parse::<i32>().ok().map(tonic::Code::from)
}

/// The `grpc-message` in a header map, percent-decoded: gRPC percent-encodes
/// it on the wire ("no%20user%20u-9999"), and the span's status message
/// should read as the status was written (TraceQL's `statusMessage`). Not
/// `tonic::Status::from_header_map`: it panics on a malformed
/// `grpc-status-details-bin`, which a peer controls.
pub fn grpc_message(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get("grpc-message")?.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            raw[i],
            raw.get(i + 1).copied().and_then(hex),
            raw.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                bytes.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                bytes.push(byte);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Which side of the call a span is on; the error rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// The rpc semantic conventions' error rule: a client span fails on every
/// non-OK status; a server span only on the codes that mean the server
/// failed (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
/// DATA_LOSS), since e.g. NOT_FOUND is a correct answer to a bad request.
pub fn is_error(side: Side, code: tonic::Code) -> bool {
    use tonic::Code::*;
    match side {
        Side::Client => code != Ok,
        Side::Server => matches!(
            code,
            Unknown | DeadlineExceeded | Unimplemented | Internal | Unavailable | DataLoss
        ),
    }
}

/// The status name as the semantic conventions spell it (`DEADLINE_EXCEEDED`).
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Records the call's final status on `span`.
#[allow(deprecated)] // rpc.grpc.status_code: see `crate::grpc_server` on the rpc.* names.
pub fn record_status(span: &tracing::Span, side: Side, code: tonic::Code, message: Option<&str>) {
    span.set_attribute(semconv::RPC_GRPC_STATUS_CODE, code as i64);
    if is_error(side, code) {
        span.set_attribute(semconv::ERROR_TYPE, code_name(code));
        span.set_status(Status::error(message.unwrap_or(code_name(code)).to_owned()));
    }
}

/// Records a failure that produced no gRPC status at all (connection
/// refused, deadline hit before an answer): `error.type` names it.
pub fn record_transport_error(span: &tracing::Span, error_type: &'static str, message: String) {
    span.set_attribute(semconv::ERROR_TYPE, error_type);
    span.set_status(Status::error(message));
}

/// A gRPC span and what its duration observation needs; observed on drop,
/// just before the span itself ends.
#[derive(Debug)]
pub struct CallSpan {
    span: tracing::Span,
    side: Side,
    service: String,
    method: String,
    /// Started as the span opens: the histogram's value is its duration.
    clock: SpanClock,
    code: Option<tonic::Code>,
    error_type: Option<&'static str>,
}

impl CallSpan {
    /// Wraps `span`, just opened, of a call to `service`/`method`.
    pub fn new(span: tracing::Span, side: Side, service: &str, method: &str) -> Self {
        CallSpan {
            span,
            side,
            service: service.to_owned(),
            method: method.to_owned(),
            clock: SpanClock::start(),
            code: None,
            error_type: None,
        }
    }

    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// [`record_status`], remembered for the observation.
    pub fn record_status(&mut self, code: tonic::Code, message: Option<&str>) {
        record_status(&self.span, self.side, code, message);
        self.code = Some(code);
    }

    /// [`record_transport_error`], remembered for the observation, with
    /// the status the caller will see (`None` when it has none).
    pub fn record_transport_error(
        &mut self,
        error_type: &'static str,
        message: String,
        code: Option<tonic::Code>,
    ) {
        record_transport_error(&self.span, error_type, message);
        if let Some(code) = code {
            #[allow(deprecated)] // rpc.grpc.status_code: see `crate::grpc_server`.
            self.span
                .set_attribute(semconv::RPC_GRPC_STATUS_CODE, code as i64);
        }
        self.code = code;
        self.error_type = Some(error_type);
    }
}

impl Drop for CallSpan {
    fn drop(&mut self) {
        use crate::metrics::labels::{RpcClientLabels, RpcServerLabels};
        let metrics = crate::metrics::global();
        let (rpc_service, rpc_method) = (
            std::mem::take(&mut self.service),
            std::mem::take(&mut self.method),
        );
        let rpc_grpc_status_code = self.code.map(|c| c as i32);
        match self.side {
            Side::Server => metrics.observe_rpc_server(
                RpcServerLabels {
                    rpc_system: "grpc",
                    rpc_service,
                    rpc_method,
                    rpc_grpc_status_code,
                },
                &self.span,
                self.clock.stop(),
            ),
            Side::Client => metrics.observe_rpc_client(
                RpcClientLabels {
                    rpc_system: "grpc",
                    rpc_service,
                    rpc_method,
                    rpc_grpc_status_code,
                    error_type: self.error_type,
                },
                &self.span,
                self.clock.stop(),
            ),
        }
        // The span field is dropped after this: the span ends now.
    }
}

pin_project_lite::pin_project! {
    /// A response body that ends `span` once the stream ends, recording the
    /// status carried by the trailers.
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        span: Option<CallSpan>,
    }
}

impl<B> TracedBody<B> {
    /// `span = None` when the status was already recorded (trailers-only).
    pub fn new(inner: B, span: Option<CallSpan>) -> Self {
        TracedBody { inner, span }
    }
}

impl<B: Body> Body for TracedBody<B>
where
    B::Error: std::fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        // Polled inside the span: the exported span ends at its last exit
        // (tracing-opentelemetry), so this makes it end with the trailers,
        // when the histogram observes it, rather than when the headers came.
        // Entered by reference, not through a clone: a clone and its drop
        // cost a trip through every layer on every frame.
        let polled = {
            let _entered = this.span.as_ref().map(|call| call.span().enter());
            this.inner.poll_frame(cx)
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(mut span) = this.span.take()
                {
                    let code = grpc_status(trailers).unwrap_or(tonic::Code::Unknown);
                    let message = grpc_message(trailers);
                    span.record_status(code, message.as_deref());
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(mut span) = this.span.take() {
                    span.record_transport_error("stream_error", e.to_string(), None);
                }
            }
            // End of stream without trailers: nothing more to learn, the
            // span ends here when dropped.
            Poll::Ready(None) => {
                this.span.take();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grpc_message_is_percent_decoded() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(super::grpc_message(&headers), None);
        headers.insert(
            "grpc-message",
            "no%20user%20u-9999%3A%20caf%C3%A9%zz%4".parse().unwrap(),
        );
        // A malformed escape is kept as written.
        assert_eq!(
            super::grpc_message(&headers).as_deref(),
            Some("no user u-9999: café%zz%4")
        );
    }

    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/tracemesh.inventory.v1.InventoryService/Reserve"),
            Some(("tracemesh.inventory.v1.InventoryService", "Reserve"))
        );
        assert_eq!(split_path("/nomethod"), None);
        assert_eq!(split_path("/a/b/c"), None);
        assert_eq!(split_path(""), None);
    }

    #[test]
    fn server_spans_fail_only_on_server_side_codes() {
        assert!(!is_error(Side::Server, tonic::Code::NotFound));
        assert!(!is_error(Side::Server, tonic::Code::FailedPrecondition));
        assert!(is_error(Side::Server, tonic::Code::Unavailable));
        assert!(is_error(Side::Client, tonic::Code::NotFound));
        assert!(!is_error(Side::Client, tonic::Code::Ok));
    }
}
