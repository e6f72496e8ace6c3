//! Benchmarks of tracemesh: criterion micro-benchmarks (in `benches/`, run
//! with `cargo bench -p tracemesh-benches`) and the `tracemesh bench` suite
//! ([`suite`]), which the binary runs as a subcommand. Criterion is only a
//! dev-dependency: the binary links the suite, never criterion.
//!
//! Map of this crate:
//!
//! - `benches/propagation.rs`: inject and extract of W3C trace context and
//!   baggage, in HTTP headers and in gRPC metadata.
//! - `benches/spans.rs`: one span created and ended through
//!   tracing-opentelemetry (sampled, not sampled) and through the raw
//!   OpenTelemetry API.
//! - `benches/harness.rs`: the harness's hot paths: OTLP decode, store
//!   insert, tree assembly, critical path and self time.
//! - [`otlp`]: OTLP export requests shaped like the mesh's checkout traces.
//! - [`sender`]: a raw OTLP/gRPC client that sends pre-encoded batches, so
//!   the sender spends no time encoding while it measures a collector.
//! - [`load`]: a closed loop of N HTTP clients with keep-alive, counting
//!   answers and latencies.
//! - [`hello`]: the one-hop axum hello world, the practical limit of a hop.
//! - [`procfs`]: CPU time and resident memory of a process from `/proc`
//!   (the harness's module, re-exported: `tracemesh run` reads it too).
//! - [`suite`]: `tracemesh bench`: overhead, efficiency, ingest and
//!   readiness, measured on real meshes in alternating rounds.

pub mod hello;
pub mod load;
pub mod otlp;
pub use tracemesh_harness::procfs;
pub mod sender;
pub mod suite;
