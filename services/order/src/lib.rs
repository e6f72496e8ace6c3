//! The order service: places orders as a small saga over inventory (gRPC)
//! and payment (HTTP), and keeps them in SQLite (`order.db`).
//!
//! A map, in the order a PlaceOrder meets it:
//!
//! - [`serve`] (this file): the tonic server, behind the runtime's gRPC
//!   server layer (SERVER span, propagation, faults), with gRPC health.
//! - `server`: the `OrderService` handlers.
//! - `request`: [`request::PlaceOrder::parse`], every validation rule, and
//!   the card kept away from `Debug`.
//! - `saga`: the steps: Reserve, charge, store; Release if the charge fails.
//! - `payment_client`: `POST /v1/charges` over the traced HTTP client, and
//!   payment's answers as order errors.
//! - `payment_pool`: the **planted bottleneck**: one call to payment at a
//!   time, the others queued before their CLIENT span starts; removed by
//!   `--fix-payment-pool`.
//! - `store`: the orders and order_lines tables.
//! - `error`: [`error::OrderError`] and its gRPC code and reason, logged once.

pub mod error;
mod payment_client;
pub mod payment_pool;
pub mod request;
mod saga;
mod server;
mod store;

use std::time::Duration;

use tracemesh_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use tracemesh_proto::order::v1::order_service_server::OrderServiceServer;
use tracemesh_runtime::grpc_client::{self, Deadlines};
use tracemesh_runtime::grpc_server::GrpcServerLayer;
use tracemesh_runtime::listener;
use tracemesh_runtime::service::{ServeError, ServiceContext};
use tracemesh_runtime::shutdown::Shutdown;
use tracemesh_runtime::topology::Service;

/// Its SQLite file inside `--data-dir`, from the topology table.
const DB_FILE: &str = Service::Order.data_file();

/// The order service's own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// The inventory service (gRPC).
    #[arg(
        long,
        env = "TRACEMESH_INVENTORY_URL",
        default_value_t = Service::Inventory.default_url()
    )]
    pub inventory_url: String,
    /// The payment service (HTTP).
    #[arg(
        long,
        env = "TRACEMESH_PAYMENT_URL",
        default_value_t = Service::Payment.default_url()
    )]
    pub payment_url: String,
    /// How long a charge may take, the wait for a connection and connecting
    /// included, before it fails with DEADLINE_EXCEEDED (and the
    /// reservation is released).
    #[arg(long, env = "TRACEMESH_PAYMENT_TIMEOUT_MS", default_value_t = 2000)]
    pub payment_timeout_ms: u64,
    /// Remove the planted pool of one, so charges go to payment concurrently.
    #[arg(
        long,
        env = "TRACEMESH_FIX_PAYMENT_POOL",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub fix_payment_pool: bool,
}

/// Serves order on `listener` until `shutdown`, then lets in-flight calls
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: ServiceContext,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let path = ctx.data_dir.join(DB_FILE);
    let store =
        store::OrderStore::open(&path).map_err(|source| ServeError::Store { path, source })?;
    let inventory = grpc_client::connect(
        ctx.faults.hop(Service::Inventory),
        &config.inventory_url,
        Deadlines::default(),
    )
    .map_err(|e| ServeError::Config(format!("--inventory-url {}: {e}", config.inventory_url)))?;
    let payment = payment_client::PaymentClient::new(
        ctx.faults.hop(Service::Payment),
        &config.payment_url,
        Duration::from_millis(config.payment_timeout_ms),
        payment_pool::PaymentPool::from_config(&config),
    )
    .map_err(ServeError::Config)?;
    let saga = saga::Saga::new(
        InventoryServiceClient::new(inventory),
        payment,
        store.clone(),
    );

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<OrderServiceServer<server::OrderServer>>()
        .await;

    tonic::transport::Server::builder()
        .layer(GrpcServerLayer::new(ctx.faults.clone()))
        .add_service(health_service)
        .add_service(OrderServiceServer::new(server::OrderServer::new(
            saga, store,
        )))
        .serve_with_incoming_shutdown(listener::grpc(listener), shutdown.wait())
        .await
        .map_err(|e| ServeError::Server(e.into()))
}
