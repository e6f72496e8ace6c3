//! The checks: what the traces of the mesh must look like, each returning a
//! [`Verdict`] with its reasons and figures.
//!
//! - [`verdict`]: the result type shared by every check.
//! - [`expect`] and [`full_tree`]: declarative expected trees and the check
//!   that compares a trace against one.
//! - [`attribution`]: self time, critical path, and where latency went.
//! - [`baseline`]: this run against an earlier run's report
//!   (`--baseline`): growth nobody injected fails.
//! - [`budget`]: the latency budgets a scenario states.
//! - [`completeness`]: Tempo vulture's categories (not found, missing
//!   spans, incorrect result) and spans sent vs received.
//! - [`sampling`]: the ratio sampler's decisions recomputed exactly, the
//!   observed ratio with its interval, and parent-based obedience.
//! - [`error_status`]: every failed span ends in Error with `error.type`,
//!   on the whole way from an injected error up to the root.
//! - [`orphans`]: every span stored during a run belongs to a trace the
//!   run started; the rest are split traces, reported by service and name.
//! - [`exemplars`]: every exemplar names a sampled trace and the span of its
//!   series, whose duration is its value; every series with sampled
//!   traffic carries one.
//! - [`traceql`]: assertions written in TraceQL (every / no trace of an
//!   outcome matches, N spans per trace), also asked of the backend.
//! - [`metrics_agree`]: the gateway's request counts equal the load
//!   generator's, its latency histograms agree with the load's percentiles
//!   to the bucket.

pub mod attribution;
pub mod baseline;
pub mod budget;
pub mod completeness;
pub mod error_status;
pub mod exemplars;
pub mod expect;
pub mod full_tree;
pub mod metrics_agree;
pub mod orphans;
pub mod sampling;
pub mod traceql;
pub mod verdict;

pub use verdict::Verdict;
