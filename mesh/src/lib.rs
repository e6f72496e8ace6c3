//! The mesh as a library: start the five services as processes of the
//! `tracemesh` binary, wired by the topology table, watch them, talk to
//! their admin endpoints, stop them. `tracemesh up`, `run` and `bench` and
//! the end-to-end tests all start meshes through this crate; the services
//! themselves are real processes, as in production.
//!
//! Map of this crate:
//!
//! - [`mesh`]: [`Mesh::start`] with [`MeshOptions`], typed accessors (the
//!   gateway URL, each service's pid and admin endpoint), [`Mesh::stop`].
//!   Who calls whom comes from [`tracemesh_runtime::topology`].
//! - [`ports`]: the port asked for, or a free one held until its child binds it.
//! - [`process`]: one service process: spawn, restart as it was, stop
//!   (SIGTERM, then SIGKILL), and the guards that leave no orphan.
//! - [`supervisor`]: report a service that exits on its own; restart it
//!   with backoff when asked (`up --restart`).
//! - [`admin`]: the typed admin client: faults, flush and export counters,
//!   metrics.
//! - [`collector`]: the embedded collector beside a mesh.
//! - [`prometheus`]: a real Prometheus scraping a mesh (`--prometheus start`).
//! - [`error`]: why a mesh could not start, why an admin call failed.

pub mod admin;
pub mod collector;
pub mod error;
pub mod mesh;
pub mod ports;
pub mod process;
pub mod prometheus;
pub mod supervisor;

pub use admin::{AdminClient, AdminEndpoint};
pub use error::{AdminError, MeshError};
pub use mesh::{Mesh, MeshOptions, temporary_data_dir};
pub use process::Stopped;
pub use supervisor::{Event, Supervisor};
pub use tracemesh_runtime::topology::Service;
