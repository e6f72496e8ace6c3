//! What every tracemesh service shares: telemetry, propagation, the span
//! layers, faults, SQLite, and the process life cycle.
//!
//! A map, in the order a request meets it:
//!
//! - [`topology`]: the mesh in one table: each [`topology::Service`], its
//!   default address, whom it calls by which flag, its data file.
//! - [`config`]: reading `OTEL_*` / `TRACEMESH_*` through the [`config::Env`]
//!   trait, with errors that name the variable and the value.
//! - [`telemetry`]: the one place that builds the tracer provider, the OTLP
//!   exporter (gRPC or HTTP), the sampler and the batch processor, installs
//!   the `tracing` subscriber, and flushes on shutdown. [`export_stats`]:
//!   counts spans ended, exported, failed and dropped. [`logs`]: JSON log
//!   lines carrying `trace_id` / `span_id`.
//! - [`w3c`]: the one parser and formatter of the W3C headers
//!   (`traceparent`, `traceresponse`, `tracestate`, `baggage` and its
//!   limits) and the one propagator; the harness, the benches and the fuzz
//!   targets use it too. [`propagation`]: those headers into a request's
//!   context and back (gRPC metadata are headers too).
//! - Server spans, once per request, never in handlers:
//!   [`http_server::trace_http`] (axum middleware) and
//!   [`grpc_server::GrpcServerLayer`] (tower layer for tonic).
//! - Client spans, once per call: [`grpc_client::connect`] (a traced tonic
//!   channel with deadlines) and [`http_client::TracedHttpClient`] (reqwest).
//!   [`grpc_span`] holds what gRPC client and server spans share.
//! - [`contract`]: what both sides of a call share, defined once: the
//!   [`contract::Reason`] of a refused call (on a gRPC status, as an HTTP
//!   status) and the span attribute keys the harness reads.
//! - [`db`]: SQLite with a CLIENT span per statement.
//! - [`metrics`]: RED metrics with exemplars (the span layers above and
//!   [`db`] record one observation per span, where it ends; the services
//!   count their domain events), OpenMetrics text on the admin listener.
//! - [`fault`]: latency and errors injected per operation, marked on spans,
//!   and telemetry faults ([`fault::telemetry`]) that break the traces
//!   instead (dropped or corrupted context, dropped spans and attributes,
//!   lost error status, a sampler ignoring its parent, unmarked latency);
//!   [`admin`]: the endpoint that changes them at runtime.
//! - [`service`]: common flags and [`service::run`], the start/stop order;
//!   [`listener`]: the services' listeners, with `TCP_NODELAY`;
//!   [`shutdown`]: ctrl-c / SIGTERM as a future many tasks can wait for.
//! - [`error_body`]: the JSON error body of every HTTP error.
//! - [`shop`]: the shop's values (SKU, user id, quantity) and their limits,
//!   validated in one `parse` by every service that reads them.
//! - [`time_format`]: [`time_format::rfc3339_utc`], the one date format.
//! - [`overlap`]: callers inside a section and their peak, how the planted
//!   bottlenecks' tests see a lock or a pool of one without timing it.

pub mod admin;
pub mod config;
pub mod contract;
pub mod db;
pub mod error_body;
pub mod export_stats;
pub mod fault;
pub mod grpc_client;
pub mod grpc_server;
pub mod grpc_span;
pub mod http_client;
pub mod http_server;
pub mod listener;
pub mod logs;
pub mod metrics;
pub mod overlap;
pub mod propagation;
pub mod service;
pub mod shop;
pub mod shutdown;
pub mod telemetry;
pub mod time_format;
pub mod topology;
pub mod w3c;
