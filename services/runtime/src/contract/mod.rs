//! The contracts between services: what one side writes and the other reads,
//! defined once so that both sides use the same name. A typo in a reason or
//! an attribute key is then a compile error, not a silent mismatch found in
//! a trace.
//!
//! - [`Reason`]: the machine-readable reason of a refusal or failure, with
//!   its wire string, its gRPC code and its HTTP status; the callee puts it
//!   on a gRPC status ([`Reason::status`]), the caller reads it back
//!   ([`Reason::of`]).
//! - [`attr`]: the span attribute keys the services write and the harness
//!   reads (faults, baggage).

pub mod attr;
mod reason;

pub use reason::{REASON_KEY, Reason};
