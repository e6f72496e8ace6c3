//! The agreement checks. Each returns every problem found, one line each,
//! naming both sides of a disagreement.

mod mesh;
mod pods;
mod wiring;

pub(crate) use mesh::*;
pub(crate) use pods::*;
pub(crate) use wiring::*;
