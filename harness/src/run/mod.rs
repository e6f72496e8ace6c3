//! A run's analysis: the requests the load sent and the traces they left,
//! turned into verdicts and a [`crate::report::RunReport`].
//!
//! - [`expectations`]: the shipped expected trees, compiled in, looked up
//!   by endpoint and status.
//! - [`analyse`]: every check of a run, and the report.
//! - [`figures`]: load table, percentiles, critical-path shares, waterfalls.
//! - [`latency`]: latency without injected faults per service, operation
//!   and endpoint; budgets and the `--baseline` comparison.
//! - [`metrics`]: the run's metrics before and after, the `exemplars` and
//!   `metrics_agree` verdicts, and the exemplar the report follows.
//! - [`traceql`]: the TraceQL assertions of the expected trees' files and
//!   of the scenario.
//! - [`repeated`]: same-name calls repeated under one parent (an N+1's
//!   shape), counted over the run's traces.
//! - [`settle`]: after the load, wait until the traces are in and measure
//!   each one's readiness.

pub mod analyse;
pub mod expectations;
pub mod figures;
pub mod latency;
pub mod metrics;
pub mod repeated;
pub mod settle;
pub mod traceql;

pub use analyse::{RunInput, analyse};
