//! The user service: who may buy. A tonic gRPC service
//! (`tracemesh.user.v1.UserService`) over a small, seeded SQLite table.
//!
//! A map, in the order a request meets it:
//!
//! - [`serve`] (this file): opens the store, registers the gRPC health
//!   service, and serves until shutdown behind the runtime's
//!   [`GrpcServerLayer`], which owns the SERVER span, propagation and faults.
//! - [`server`]: the `UserService` trait implementation. Thin: parse the
//!   request, ask the store, shape the answer.
//! - [`domain`]: [`domain::UserId`] (validated in the runtime's `shop`,
//!   like every service) and [`domain::UserStatus`].
//! - [`store`]: the `users` table: schema, seed on first start, the queries.
//! - [`error`]: [`error::UserError`], the service's one error enum, and its
//!   mapping to a gRPC status (logged there, once).

pub mod domain;
pub mod error;
pub mod server;
pub mod store;

use tokio::net::TcpListener;
use tracemesh_proto::user::v1::user_service_server::UserServiceServer;
use tracemesh_runtime::grpc_server::GrpcServerLayer;
use tracemesh_runtime::listener;
use tracemesh_runtime::service::{ServeError, ServiceContext};
use tracemesh_runtime::shutdown::Shutdown;
use tracemesh_runtime::topology::Service;

use crate::server::UserServer;
use crate::store::Store;

/// Its SQLite file inside `--data-dir`, from the topology table.
const DB_FILE: &str = Service::User.data_file();

/// The user service's own flags. It has none yet; the struct exists so that
/// every service plugs into the binary the same way.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Config {}

/// Serves the user service on `listener` until `shutdown` fires, then lets
/// in-flight requests finish and returns.
pub async fn serve(
    listener: TcpListener,
    ctx: ServiceContext,
    _config: Config,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let path = ctx.data_dir.join(DB_FILE);
    let store = Store::open(&path).map_err(|source| ServeError::Store { path, source })?;

    // The gateway's /readyz and `tracemesh up` ask this health service
    // whether `tracemesh.user.v1.UserService` is SERVING.
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<UserServiceServer<UserServer>>()
        .await;

    tonic::transport::Server::builder()
        .layer(GrpcServerLayer::new(ctx.faults.clone()))
        .add_service(health_service)
        .add_service(UserServiceServer::new(UserServer::new(store)))
        .serve_with_incoming_shutdown(listener::grpc(listener), shutdown.wait())
        .await
        .map_err(|e| ServeError::Server(e.into()))
}
