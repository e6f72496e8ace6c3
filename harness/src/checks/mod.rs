//! The checks: what the traces of the mesh must look like, each returning a
//! [`Verdict`] with its reasons and figures.
//!
//! - [`verdict`]: the result type shared by every check.
//! - [`expect`] and [`full_tree`]: declarative expected trees and the check
//!   that compares a trace against one.
//! - [`attribution`]: self time, critical path, and where latency went.
//! - [`completeness`]: Tempo vulture's categories (not found, missing
//!   spans, incorrect result) and spans sent vs received.
//! - [`sampling`]: the ratio sampler's decisions recomputed exactly, the
//!   observed ratio with its interval, and parent-based obedience.

pub mod attribution;
pub mod completeness;
pub mod expect;
pub mod full_tree;
pub mod sampling;
pub mod verdict;

pub use verdict::Verdict;
