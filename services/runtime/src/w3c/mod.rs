//! W3C Trace Context and W3C Baggage: every header the mesh reads or writes
//! about a trace, parsed and formatted here and nowhere else.
//!
//! - [`traceparent`](TraceParent): `traceparent` and `traceresponse`, which
//!   share one grammar (`version-traceid-parentid-flags`), as one type.
//! - `tracestate`: vendor entries, [`TraceStateList`], with the key,
//!   value and list rules of Trace Context Level 2.
//! - `incoming`: the one decision about what a request carried, taken
//!   from *every* `traceparent` and `tracestate` field
//!   ([`IncomingContext::from_fields`]): several `tracestate` fields are
//!   one list, two `traceparent` fields restart the trace, an invalid
//!   `tracestate` is dropped whole while the `traceparent` is kept.
//!   [`combine_fields`] is RFC 9110's join of repeated fields, which
//!   `baggage` uses too.
//! - `baggage`: the W3C Baggage limits ([`MAX_BAGGAGE_MEMBERS`],
//!   [`MAX_BAGGAGE_BYTES`]) and [`limit_baggage`], which cuts a header to them.
//! - `propagator`: the OpenTelemetry propagators. [`propagator`] is the W3C
//!   one (trace context, then baggage), which the harness, benches and fuzz
//!   targets use; [`Propagators`] is what a service's `OTEL_PROPAGATORS`
//!   selects (W3C, B3, Jaeger or none), installed process-wide by
//!   `telemetry::init`.
//! - `jaeger`: Jaeger's `uber-trace-id` header, the one non-W3C format
//!   parsed here (B3 is `opentelemetry-zipkin`'s).
//!
//! Why one module: the services (through [`crate::propagation`]), the
//! harness (the sampling checks and the load generator), the benches and
//! the fuzz targets all call the same parser, so a fix to the grammar
//! reaches all of them at once, and a fuzz finding in one is fixed for all.

mod baggage;
mod incoming;
mod jaeger;
mod propagator;
mod traceparent;
mod tracestate;

pub use baggage::{MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, limit_baggage};
pub use incoming::{IncomingContext, combine_fields};
pub use jaeger::{JAEGER_HEADER, JaegerPropagator, parse_uber_trace_id};
pub use propagator::{
    PROPAGATORS_VAR, PropagatorKind, Propagators, install_propagator, propagator,
};
pub use traceparent::{MalformedHeader, TraceParent, lower_hex};
pub use tracestate::{MAX_KEY_LEN, MAX_TRACESTATE_MEMBERS, MAX_VALUE_LEN, TraceStateList};

/// The header a caller's trace context arrives in.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// The header vendor-specific trace entries travel in, next to `traceparent`.
pub const TRACESTATE_HEADER: &str = "tracestate";
/// The header a server names its own span in (Trace Context Level 2).
pub const TRACERESPONSE_HEADER: &str = "traceresponse";
/// The W3C Baggage header.
pub const BAGGAGE_HEADER: &str = "baggage";
