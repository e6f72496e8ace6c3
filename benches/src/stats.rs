//! Percentiles and medians of measurements: the harness's, so that a bench
//! and a run report rank samples the same way.

pub use tracemesh_harness::stats::{median, percentile};
