//! The CLIENT span of every outbound HTTP request: [`TracedHttpClient`].
//!
//! One `send` does, for every request: open a CLIENT span named after the
//! method, inject trace context and baggage into the headers, and record the
//! status or the transport error. Why not reqwest-middleware/reqwest-tracing:
//! those pin their own reqwest and opentelemetry versions, which do not match
//! the ones this workspace is built on; this is forty lines.
//!
//! The client is built for one callee (a [`Hop`]), so the service's
//! telemetry faults can drop or corrupt the context of its calls only.

use std::time::Duration;

use opentelemetry::trace::Status;
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::clock::SpanClock;
use crate::metrics::labels::HttpClientLabels;
use crate::propagation::Hop;

/// A reqwest client whose requests are traced and bounded by a deadline.
#[derive(Debug, Clone)]
pub struct TracedHttpClient {
    client: reqwest::Client,
    hop: Hop,
}

impl TracedHttpClient {
    /// A client of `hop`'s callee. `timeout` bounds each whole request:
    /// connect, send, and read the body.
    pub fn new(
        hop: Hop,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .build()?;
        Ok(TracedHttpClient { client, hop })
    }

    /// The underlying client, to build requests with.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` inside a CLIENT span.
    pub async fn send(
        &self,
        mut request: reqwest::Request,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let method = request.method().as_str().to_owned();
        let span = tracing::info_span!(
            "http.client",
            otel.name = method.as_str(),
            otel.kind = "client"
        );
        // Taken as the span starts: the histogram's value is its duration.
        let clock = SpanClock::start();
        let mut labels = HttpClientLabels {
            http_request_method: crate::metrics::labels::http_method(&method),
            server_address: server_address(request.url()),
            http_response_status_code: None,
            error_type: None,
        };
        span.set_attribute(semconv::HTTP_REQUEST_METHOD, method);
        // url.full without credentials or query: the query may carry secrets.
        let url = request.url();
        let mut full = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
        if let Some(port) = url.port() {
            full.push_str(&format!(":{port}"));
        }
        full.push_str(url.path());
        span.set_attribute(semconv::URL_FULL, full);
        span.set_attribute(
            semconv::SERVER_ADDRESS,
            url.host_str().unwrap_or_default().to_owned(),
        );
        if let Some(port) = url.port_or_known_default() {
            span.set_attribute(semconv::SERVER_PORT, i64::from(port));
        }
        self.hop.inject(&span.context(), request.headers_mut());

        let result = self.client.execute(request).instrument(span.clone()).await;
        match &result {
            Ok(response) => {
                let status = response.status();
                labels.http_response_status_code = Some(status.as_u16());
                span.set_attribute(
                    semconv::HTTP_RESPONSE_STATUS_CODE,
                    i64::from(status.as_u16()),
                );
                // For a CLIENT span every 4xx and 5xx is an error.
                if status.is_client_error() || status.is_server_error() {
                    span.set_attribute(semconv::ERROR_TYPE, status.as_u16().to_string());
                    span.set_status(Status::error(
                        status.canonical_reason().unwrap_or("error").to_owned(),
                    ));
                }
            }
            Err(e) => {
                let error_type = if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect_error"
                } else {
                    "request_error"
                };
                labels.error_type = Some(error_type);
                span.set_attribute(semconv::ERROR_TYPE, error_type);
                span.set_status(Status::error(crate::grpc_client::error_chain(e)));
            }
        }
        // Last, as the span ends (it is dropped on return).
        crate::metrics::global().observe_http_client(labels, &span, clock.stop());
        result
    }
}

/// The callee as the duration histogram labels it: `host[:port]`, the port
/// only when the URL names one.
fn server_address(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_address_label_is_host_and_port_as_written() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert_eq!(
            server_address(&url("http://payment:8084/v1/charges")),
            "payment:8084"
        );
        assert_eq!(server_address(&url("http://payment/v1/charges")), "payment");
        assert_eq!(server_address(&url("http://[::1]:80/x")), "[::1]");
        assert_eq!(server_address(&url("http://[::1]:81/x")), "[::1]:81");
    }
}
