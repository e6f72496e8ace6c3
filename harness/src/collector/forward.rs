//! Optional forwarding of every received export to an upstream OTLP/gRPC
//! endpoint (a real collector, Tempo, Jaeger), so the harness can check
//! traces and a person can still look at them in Grafana.
//!
//! Forwarding must never slow down or fail the receiving side, so requests go
//! through a bounded queue to one background task. When the queue is full
//! the request is dropped and counted; when the upstream fails the request is
//! counted as failed. Nothing is retried: this is a tap, not a pipeline.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use serde::Serialize;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

/// Requests waiting to be forwarded before new ones are dropped.
const QUEUE_CAPACITY: usize = 256;

/// Handle to the forwarding task. Cloning shares the queue and counters; the
/// task ends once every handle is gone and the queue is drained.
#[derive(Clone)]
pub struct Forwarder {
    queue: mpsc::Sender<ExportTraceServiceRequest>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    forwarded: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// Forwarding counters, in export requests (not spans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ForwardStats {
    pub requests_forwarded: u64,
    /// The upstream answered with an error or could not be reached.
    pub requests_failed: u64,
    /// The queue was full; the request was never sent.
    pub requests_dropped: u64,
}

impl Forwarder {
    /// Starts forwarding to `endpoint` (for example `http://127.0.0.1:4317`).
    /// The connection is made lazily, so a down upstream does not stop the
    /// collector from starting. Must be called inside a tokio runtime.
    pub fn start(endpoint: &str) -> io::Result<Forwarder> {
        let channel: Channel = Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("invalid forward_to endpoint {endpoint:?}: {e}"),
                )
            })?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .connect_lazy();
        let (queue, requests) = mpsc::channel(QUEUE_CAPACITY);
        let counters = Arc::new(Counters::default());
        tokio::spawn(forward_all(
            TraceServiceClient::new(channel),
            requests,
            counters.clone(),
        ));
        Ok(Forwarder { queue, counters })
    }

    /// Queues one request; never waits.
    pub fn forward(&self, request: ExportTraceServiceRequest) {
        if self.queue.try_send(request).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("forward queue full, export request dropped");
        }
    }

    pub fn stats(&self) -> ForwardStats {
        ForwardStats {
            requests_forwarded: self.counters.forwarded.load(Ordering::Relaxed),
            requests_failed: self.counters.failed.load(Ordering::Relaxed),
            requests_dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}

async fn forward_all(
    mut client: TraceServiceClient<Channel>,
    mut requests: mpsc::Receiver<ExportTraceServiceRequest>,
    counters: Arc<Counters>,
) {
    while let Some(request) = requests.recv().await {
        match client.export(request).await {
            Ok(_) => {
                counters.forwarded.fetch_add(1, Ordering::Relaxed);
            }
            Err(status) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(code = ?status.code(), message = status.message(), "forwarding export failed");
            }
        }
    }
}
