//! A run's analysis: the requests the load sent and the traces they left,
//! turned into verdicts and a [`crate::report::RunReport`].
//!
//! - [`expectations`]: the shipped expected trees, compiled in, looked up
//!   by endpoint and status.
//! - [`analyse`]: every check of a run, and the report.
//! - [`figures`]: load table, percentiles, critical-path shares, waterfalls.

pub mod analyse;
pub mod expectations;
pub mod figures;

pub use analyse::{RunInput, analyse};
