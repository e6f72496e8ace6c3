//! The tracemesh harness: everything that receives, stores and inspects the
//! traces the mesh produces.
//!
//! Map of this crate:
//!
//! - [`model`]: [`SpanRecord`](model::SpanRecord), one received span
//!   flattened for checks (hex ids, service name, attribute map), and the
//!   conversion from OTLP that also validates ids.
//! - [`store`]: [`TraceStore`](store::TraceStore), the in-memory store —
//!   per-trace index, memory bound with counted eviction, Tempo-style
//!   search (`store/search.rs`), and async waits woken by inserts
//!   (`store/wait.rs`) so tests never sleep-and-hope.
//! - [`collector`]: the embedded OTLP collector — gRPC (`grpc.rs`) and HTTP
//!   (`http.rs`) receivers, Tempo's query API (`query.rs`), optional
//!   forwarding upstream (`forward.rs`), and [`collector::start`] /
//!   [`collector::serve`] to run it all.
//!
//! - [`logs`]: [`LogLine`](logs::LogLine), one log line tied to a trace,
//!   from an OTLP log record or a service's stderr JSON line; the run's log
//!   file read by trace (for `tracemesh logs` and the HTML report).
//!
//! - [`checks`]: the checks over traces, each returning a
//!   [`Verdict`](checks::Verdict) with reasons and figures, never a bool.
//!
//! - [`load`]: goose scenarios that drive the gateway and record every
//!   request with its trace id.
//! - [`report`]: the run's report, rendered for the terminal, JSON, JUnit
//!   XML and HTML; the shards of a split load merged into one.
//!
//! - [`metrics`]: the services' metrics and exemplars, read from their
//!   OpenMetrics endpoints or from a real Prometheus.
//! - [`run`]: a load run's analysis: every check, and the report.
//! - [`scenario`]: fault scenario files (which faults, and what the run
//!   must then report).
//! - [`view`]: a trace and a trace list laid out for people: the terminal
//!   waterfall and table (`tracemesh trace`, `tracemesh traces`); the
//!   collector's web page (`collector/viewer.rs`) draws the same view.
//! - [`procfs`]: CPU time and resident memory of a process, and the
//!   machine's busy time, from `/proc` (`tracemesh run`'s bottleneck
//!   figures and every figure of `tracemesh bench`).
//! - [`stats`]: the one nearest-rank percentile, for the report, the checks
//!   and the benches.
//!
//! Data flow: exporter --OTLP--> `collector::{grpc,http}` -> `ingest` ->
//! `TraceStore::insert` -> checks read `SpanRecord`s; people and Grafana
//! read the same store through `collector::query`.

pub mod checks;
pub mod collector;
pub mod load;
pub mod logs;
pub mod metrics;
pub mod model;
pub mod procfs;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sources;
pub mod stats;
pub mod store;
pub mod trace;
pub mod traceql;
pub mod view;

pub use collector::{CollectorConfig, RunningCollector};
pub use model::SpanRecord;
pub use store::TraceStore;
