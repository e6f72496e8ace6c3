//! The embedded collector: receives OTLP traces over gRPC and HTTP into a
//! [`TraceStore`], and serves Tempo's query API over that store; receives
//! OTLP logs into a [`LogStore`] and serves them by trace.
//!
//! - `grpc.rs`: OTLP/gRPC `TraceService` (port 4317 by convention).
//! - `http.rs`: OTLP/HTTP `POST /v1/traces`, protobuf or JSON, gzip.
//! - `query.rs`: Tempo's query API (`/api/traces/..`, `/api/search`, ...),
//!   with `query_params.rs` (Go durations, logfmt, limits, windows),
//!   `tempo_json.rs` (Tempo's JSON rendering of traces),
//!   `search_traceql.rs` (`/api/search?q=`) and `tags_api.rs` (tag names
//!   and values).
//! - `ingest.rs`: what both receivers do with a request.
//! - `logs.rs`: OTLP logs, gRPC `LogsService` and `POST /v1/logs`, through
//!   the same gates, and `GET /api/logs/{trace_id}`.
//! - `limits.rs`: what one request may cost (body size, gzip, nesting,
//!   attribute value length) and the `attributes_truncated` counter; its
//!   table lists every limit and the status each one answers with.
//! - `viewer.rs`: a web page over the store (`/` the latest traces and a
//!   TraceQL search, `/trace/{id}` a waterfall), with `viewer.css`.
//! - `forward.rs`: optional tap to an upstream OTLP/gRPC endpoint.
//! - `error.rs`: the HTTP error type (`{"error": ".."}` bodies).
//!
//! Ports: two. gRPC on one; on the other, HTTP ingest *and* the query API
//! together. Real deployments split them (collector on 4318, Tempo on 3200),
//! but the paths do not collide, and one port fewer is one thing less to
//! configure, wait for and shut down.

mod error;
mod forward;
mod grpc;
mod http;
mod ingest;
mod limits;
mod logs;
mod query;
mod query_params;
mod search_traceql;
mod tags_api;
mod tempo_json;
mod viewer;

pub use error::ApiError;
pub use forward::{ForwardStats, Forwarder};
pub use grpc::{OtlpGrpcReceiver, OtlpGrpcService, grpc_service};
pub use http::{JSON_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE, TRACES_PATH, decode_otlp_body};
pub use ingest::IngestState;
pub use limits::{
    DEFAULT_MAX_ATTRIBUTE_BYTES, IngestCounters, IngestStats, truncate_attribute_values,
};
pub use logs::OtlpLogsReceiver;
pub use query_params::{parse_go_duration, parse_logfmt_tags};

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::store::{DEFAULT_MAX_LOG_RECORDS, DEFAULT_MAX_SPANS, LogStore, TraceStore};

/// Default limit on one request: the same 4 MiB tonic uses for gRPC.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The OTLP/gRPC server's HTTP/2 frame and flow-control sizes (see
/// `serve`). The frame size is what the server accepts, not a limit on the
/// export: tonic still refuses a message over `max_body_bytes`.
const GRPC_MAX_FRAME_BYTES: u32 = 1024 * 1024;
const GRPC_STREAM_WINDOW_BYTES: u32 = 4 * 1024 * 1024;
const GRPC_CONNECTION_WINDOW_BYTES: u32 = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// Where [`start`] binds OTLP/gRPC (default 127.0.0.1:4317; port 0 picks one).
    pub grpc_addr: SocketAddr,
    /// Where [`start`] binds OTLP/HTTP + query API (default 127.0.0.1:4318).
    pub http_addr: SocketAddr,
    /// Limit on one export: the gRPC decoded message, the HTTP body, and the
    /// HTTP body after gzip decompression.
    pub max_body_bytes: usize,
    /// Longer string or bytes attribute values are cut to this many bytes
    /// (at a UTF-8 boundary) and counted in `/api/stats`.
    pub max_attribute_bytes: usize,
    /// Store bound, used when [`start`] creates the store.
    pub max_spans: usize,
    /// Upstream OTLP/gRPC endpoint (`http://host:4317`) to copy exports to.
    pub forward_to: Option<String>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 4317)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 4318)),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_attribute_bytes: DEFAULT_MAX_ATTRIBUTE_BYTES,
            max_spans: DEFAULT_MAX_SPANS,
            forward_to: None,
        }
    }
}

impl CollectorConfig {
    /// Loopback, OS-chosen ports: what tests want.
    pub fn ephemeral() -> CollectorConfig {
        CollectorConfig {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..CollectorConfig::default()
        }
    }
}

/// A collector not yet serving: the store, the limits, the forwarder. Exposes
/// the gRPC service and HTTP router separately for callers that want to mount
/// them in their own servers.
pub struct Collector {
    store: TraceStore,
    logs: LogStore,
    config: CollectorConfig,
    forwarder: Option<Forwarder>,
    stats: IngestStats,
}

impl Collector {
    /// Fails only if `forward_to` is not a valid URI. Call inside a tokio
    /// runtime when forwarding (the forwarder spawns its task here).
    pub fn new(store: TraceStore, config: CollectorConfig) -> io::Result<Collector> {
        let forwarder = config
            .forward_to
            .as_deref()
            .map(Forwarder::start)
            .transpose()?;
        Ok(Collector {
            store,
            logs: LogStore::new(DEFAULT_MAX_LOG_RECORDS),
            config,
            forwarder,
            stats: IngestStats::default(),
        })
    }

    pub fn store(&self) -> &TraceStore {
        &self.store
    }

    /// The OTLP log records received, by trace.
    pub fn log_store(&self) -> &LogStore {
        &self.logs
    }

    pub fn forward_stats(&self) -> Option<ForwardStats> {
        self.forwarder.as_ref().map(Forwarder::stats)
    }

    /// The receivers' own counters (the store has its own).
    pub fn ingest_stats(&self) -> IngestStats {
        self.stats.clone()
    }

    fn ingest_state(&self) -> IngestState {
        IngestState {
            store: self.store.clone(),
            logs: self.logs.clone(),
            forwarder: self.forwarder.clone(),
            max_body_bytes: self.config.max_body_bytes,
            max_attribute_bytes: self.config.max_attribute_bytes,
            stats: self.stats.clone(),
        }
    }

    pub fn grpc_service(&self) -> OtlpGrpcService {
        grpc_service(self.ingest_state())
    }

    /// The OTLP/gRPC logs service, beside [`Collector::grpc_service`].
    pub fn logs_grpc_service(
        &self,
    ) -> OtlpGrpcService<
        opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsServiceServer<
            OtlpLogsReceiver,
        >,
    > {
        logs::logs_grpc_service(&self.ingest_state())
    }

    /// `POST /v1/traces`, `POST /v1/logs`, the query API and the logs'
    /// route, on one router.
    pub fn http_router(&self) -> Router {
        http::router(self.ingest_state())
            .merge(logs::router(self.ingest_state()))
            .merge(query::router(self.store.clone(), self.stats.clone()))
            .merge(viewer::router(self.store.clone(), self.logs.clone()))
    }

    /// Serves both listeners until `shutdown` completes, then stops both
    /// gracefully (no new connections; in-flight requests finish).
    pub async fn serve(
        self,
        grpc: TcpListener,
        http: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        // One shutdown future, two servers: broadcast it through a watch channel.
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            // An error means the sender is gone, which also means "stop".
            let _ = rx.wait_for(|stop| *stop).await;
        };

        tracing::debug!(grpc = ?grpc.local_addr().ok(), http = ?http.local_addr().ok(), "collector serving");
        let grpc_server = tonic::transport::Server::builder()
            // An export is one message of up to `max_body_bytes` (a batch of
            // 512 spans is about 100 KiB). HTTP/2's defaults (16 KiB frames,
            // 64 KiB windows) cut it into frames and window updates that each
            // cost a trip through h2; an export now arrives in a few frames.
            .max_frame_size(GRPC_MAX_FRAME_BYTES)
            .initial_stream_window_size(GRPC_STREAM_WINDOW_BYTES)
            .initial_connection_window_size(GRPC_CONNECTION_WINDOW_BYTES)
            .add_service(self.grpc_service())
            .add_service(self.logs_grpc_service())
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(grpc),
                stopped(stop_rx.clone()),
            );
        let http_server =
            axum::serve(http, self.http_router()).with_graceful_shutdown(stopped(stop_rx));

        tokio::try_join!(
            async { grpc_server.await.map_err(io::Error::other) },
            async { http_server.await },
        )?;
        Ok(())
    }
}

/// Serves an existing store on two bound listeners until `shutdown`.
/// (`config.grpc_addr`/`http_addr`/`max_spans` are not used here: the
/// listeners and the store are already made.)
pub async fn serve(
    grpc: TcpListener,
    http: TcpListener,
    store: TraceStore,
    config: CollectorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    Collector::new(store, config)?
        .serve(grpc, http, shutdown)
        .await
}

/// Binds both addresses, creates the store and serves in a background task.
pub async fn start(config: CollectorConfig) -> io::Result<RunningCollector> {
    let grpc = TcpListener::bind(config.grpc_addr).await?;
    let http = TcpListener::bind(config.http_addr).await?;
    let (grpc_addr, http_addr) = (grpc.local_addr()?, http.local_addr()?);
    let store = TraceStore::new(config.max_spans);
    let collector = Collector::new(store.clone(), config)?;
    let logs = collector.logs.clone();
    let forwarder = collector.forwarder.clone();
    let stats = collector.ingest_stats();
    let (stop, stop_requested) = oneshot::channel::<()>();
    // Dropping the handle drops `stop`, which also ends the server.
    let task = tokio::spawn(collector.serve(grpc, http, async move {
        let _ = stop_requested.await;
    }));
    tracing::info!(%grpc_addr, %http_addr, "embedded collector started");
    Ok(RunningCollector {
        grpc_addr,
        http_addr,
        store,
        logs,
        forwarder,
        stats,
        stop: Some(stop),
        task,
    })
}

/// A collector serving in the background. Stop it with
/// [`shutdown`](RunningCollector::shutdown); dropping it stops it too, just
/// without waiting.
pub struct RunningCollector {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    store: TraceStore,
    logs: LogStore,
    forwarder: Option<Forwarder>,
    stats: IngestStats,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

/// The first words of the lines `tracemesh collector` prints once both
/// receivers listen, each followed by its endpoint (OTLP/HTTP's with
/// [`TRACES_PATH`]). `tracemesh bench` starts its collectors on port 0 and
/// reads the ports they got from these lines (`benches/src/suite/announce.rs`).
pub const ANNOUNCE_GRPC: &str = "OTLP/gRPC:";
pub const ANNOUNCE_HTTP: &str = "OTLP/HTTP:";

impl RunningCollector {
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `http://ip:port` of the gRPC receiver, ready for an OTLP exporter.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// `http://ip:port` of the HTTP side (append `/v1/traces` or `/api/..`).
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    pub fn store(&self) -> &TraceStore {
        &self.store
    }

    /// The OTLP log records received, by trace (`GET /api/logs/{trace_id}`).
    pub fn log_store(&self) -> &LogStore {
        &self.logs
    }

    pub fn forward_stats(&self) -> Option<ForwardStats> {
        self.forwarder.as_ref().map(Forwarder::stats)
    }

    /// The receivers' own counters, as `/api/stats` adds them to the store's.
    pub fn ingest_stats(&self) -> IngestCounters {
        self.stats.snapshot()
    }

    /// Stops both servers and waits until they have finished.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(join_error) => Err(io::Error::other(join_error)),
        }
    }
}

impl std::fmt::Debug for RunningCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningCollector")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}
