//! The contracts between services: what one side writes and the other
//! reads, defined once, so that a typo is a compile error rather than a
//! mismatch found in a trace.
//!
//! - [`Reason`]: the machine-readable reason of a refusal or failure, with
//!   its wire string, its gRPC code and its HTTP status; the callee puts it
//!   on a gRPC status ([`Reason::status`]), the caller reads it back
//!   ([`Reason::of`]).
//! - [`attr`]: the span attribute keys the services write and the harness
//!   reads (faults, baggage).
//! - [`metric`]: the metric families the services expose and the harness
//!   reads: names, label keys, buckets.

pub mod attr;
pub mod metric;
mod reason;

pub use reason::{REASON_KEY, Reason};
