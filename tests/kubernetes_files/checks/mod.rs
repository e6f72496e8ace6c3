//! The agreement checks. Each returns every problem found, one line each,
//! naming both sides of a disagreement.

mod cli;
mod mesh;
mod metrics;
mod pods;
mod wiring;

pub(crate) use cli::*;
pub(crate) use mesh::*;
pub(crate) use metrics::*;
pub(crate) use pods::*;
pub(crate) use wiring::*;
