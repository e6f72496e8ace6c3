//! Load runs with goose: the shop's scenarios against the gateway, every
//! request recorded with the trace it made.
//!
//! - [`model`]: the plan ([`LoadPlan`], its [`Workload`]: the shop's mix
//!   or one `GET` route), and the record of every request
//!   sent ([`SentRequest`], [`LoadOutcome`]): the contract with the checks.
//! - `run`: [`run_load`], the entry point: health check, goose
//!   configuration, progress, and the outcome.
//! - [`scenario`]: the goose scenario (the shop's weighted transactions, or
//!   one route's), and how one request is sent and recorded.
//! - [`bottleneck`]: the load generator's and the services' CPU over the
//!   load window, and the rule that names what set the rate.
//! - [`shard`]: one share of a load split over processes (`--shard I/N`):
//!   its seed and its users.
//! - [`catalog`]: the seeded users, products and cards the load draws from.
//! - [`trace_context`]: the seeded `traceparent` generator.
//! - [`interrupt`]: what ctrl-c does during a run (goose's handler, and ours
//!   installed in its place so the process is never killed).
//! - `record`: the shared, lock-protected list of requests.
//! - [`LoadError`]: why a run could not start or finish.

pub mod bottleneck;
pub mod catalog;
mod error;
pub mod interrupt;
pub mod model;
mod record;
mod run;
pub mod scenario;
pub mod shard;
pub mod trace_context;

pub use error::LoadError;
pub use model::{LoadOutcome, LoadPlan, LoadProgress, RequestKind, SentRequest, Workload};
pub use run::run_load;
pub use shard::Shard;
pub use trace_context::{TraceContextGenerator, format_traceparent};
