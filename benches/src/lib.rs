//! Criterion benchmarks of tracemesh's hot paths; they live in `benches/`
//! and run with `cargo bench -p tracemesh-benches`.
//!
//! - `propagation`: injecting and extracting W3C trace context and baggage
//!   through the headers every hop carries (HTTP and gRPC alike).
