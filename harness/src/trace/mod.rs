//! The trace model: the spans of one trace assembled into a tree, what can
//! be structurally wrong with it, and when a trace has finished arriving.
//!
//! - `tree.rs`: [`TraceTree`] — built from a parent -> children index,
//!   walked iteratively (a 10,000-deep trace must not overflow the stack),
//!   children ordered by start time; finds the [`StructuralDefect`]s.
//! - `defects.rs`: [`StructuralDefect`] — missing parents, several roots,
//!   duplicate span ids, spans of another trace, children outside their
//!   parent beyond a clock tolerance — each explained in its message.
//! - `readiness.rs`: [`ReadinessPolicy`] and [`Readiness`] — expected count,
//!   quiet period, deadline; [`wait_for_trace`] on the embedded store,
//!   [`wait_polling`] for any backend.
//! - `label.rs`: how spans and durations are named in reports.
//! - `synthetic.rs`: hand-built traces (a full mesh checkout among them) to
//!   prove checks on and to plant defects into.
//!
//! The checks in [`crate::checks`] all start from a [`TraceTree`].

mod defects;
pub mod label;
mod readiness;
pub mod synthetic;
mod tree;

pub use defects::{DefectKind, StructuralDefect};
pub use readiness::{Readiness, ReadinessPolicy, wait_for_trace, wait_polling};
pub use tree::{DEFAULT_CLOCK_TOLERANCE, TraceTree, TreeOptions};
