//! Span attribute keys written by the runtime and read by the harness.
//!
//! A fault is marked on the span that incurred it; that is how the harness
//! tells planted latency and errors from real ones. Baggage members are
//! copied onto SERVER spans under [`BAGGAGE_PREFIX`], so a trace shows who
//! the request was for.

/// `true` on a span that had a fault injected.
pub const FAULT_INJECTED: &str = "fault.injected";
/// What the fault did: [`FAULT_KIND_ERROR`] or [`FAULT_KIND_LATENCY`].
pub const FAULT_KIND: &str = "fault.kind";
/// The fault failed the request (it may also have delayed it).
pub const FAULT_KIND_ERROR: &str = "error";
/// The fault only delayed the request.
pub const FAULT_KIND_LATENCY: &str = "latency";
/// The injected delay, in milliseconds.
pub const FAULT_DELAY_MS: &str = "fault.delay_ms";
/// The injected error (`unavailable`, `internal`...).
pub const FAULT_ERROR: &str = "fault.error";

/// The prefix of a baggage member copied onto a span: `baggage.tenant`.
pub const BAGGAGE_PREFIX: &str = "baggage.";

/// The attribute key of the baggage member `key`.
pub fn baggage(key: &str) -> String {
    format!("{BAGGAGE_PREFIX}{key}")
}
