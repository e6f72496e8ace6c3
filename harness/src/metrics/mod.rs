//! The mesh's metrics as the checks read them.
//!
//! - [`openmetrics`]: a reader of the OpenMetrics text the services serve
//!   (`/metrics` on their admin listener), exemplars included.
//! - [`snapshot`]: [`MetricsSnapshot`], histograms, counters and exemplars
//!   per series of [`tracemesh_runtime::contract::metric`], and the delta
//!   between two readings.
//! - [`prometheus`]: a real Prometheus, started here or given by URL: its
//!   query and exemplar APIs turned into the same snapshot.
//!
//! A run reads the metrics before the load and after it: from the services
//! themselves when no Prometheus is used, from Prometheus when one is. The
//! checks over them are `checks::exemplars` and `checks::metrics_agree`.

pub mod openmetrics;
pub mod prometheus;
pub mod snapshot;

pub use snapshot::{Histogram, MetricsSnapshot, Series, SeriesExemplar};
