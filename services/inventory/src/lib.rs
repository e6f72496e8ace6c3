//! The inventory service: the catalog, its stock, and reservations. A tonic
//! gRPC service (`tracemesh.inventory.v1.InventoryService`) over SQLite.
//!
//! A map, in the order a request meets it:
//!
//! - [`serve`] (this file): opens the store, registers the gRPC health
//!   service, and serves until shutdown behind the runtime's
//!   [`GrpcServerLayer`], which owns the SERVER span, propagation and faults.
//! - [`server`]: the `InventoryService` trait implementation. Thin: parse,
//!   warehouse check (Reserve only), store or catalog, answer.
//! - [`catalog`]: ListProducts' reads, a **planted bottleneck**: one query
//!   per product (N+1), replaced by one join with `--fix-catalog-queries`.
//! - [`domain`]: SKUs (from the runtime's `shop`), reservation ids and
//!   Reserve requests, each validated in one `parse`; the values the store
//!   returns.
//! - [`warehouse`]: the **planted bottleneck**: a slow check behind one
//!   global lock, removed by `--fix-inventory-lock`.
//! - [`store`]: the tables (`products`, `stock`, `reservations`), the seed
//!   on first start, and the transactions that make Reserve all-or-nothing,
//!   idempotent, and never oversold.
//! - [`error`]: [`error::InventoryError`], the service's one error enum, and
//!   its mapping to a gRPC status (logged there, once).

pub mod catalog;
pub mod domain;
pub mod error;
pub mod server;
pub mod store;
pub mod warehouse;

use tokio::net::TcpListener;
use tracemesh_proto::inventory::v1::inventory_service_server::InventoryServiceServer;
use tracemesh_runtime::grpc_server::GrpcServerLayer;
use tracemesh_runtime::listener;
use tracemesh_runtime::service::{ServeError, ServiceContext};
use tracemesh_runtime::shutdown::Shutdown;
use tracemesh_runtime::topology::Service;

use crate::catalog::{Catalog, CatalogQueries};
use crate::server::InventoryServer;
use crate::store::Store;
use crate::warehouse::Warehouse;

/// Its SQLite file inside `--data-dir`, from the topology table.
const DB_FILE: &str = Service::Inventory.data_file();

/// The inventory service's own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// How long the simulated warehouse check in Reserve takes, in ms.
    #[arg(
        long,
        env = "TRACEMESH_WAREHOUSE_CHECK_MS",
        default_value_t = 15,
        value_parser = clap::value_parser!(u64).range(0..=60_000)
    )]
    pub warehouse_check_ms: u64,
    /// Remove the planted warehouse lock, so checks run concurrently.
    #[arg(
        long,
        env = "TRACEMESH_FIX_INVENTORY_LOCK",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub fix_inventory_lock: bool,
    /// Read the catalog with one join instead of the planted N+1 (one
    /// query for the products, then one per product).
    #[arg(
        long,
        env = "TRACEMESH_FIX_CATALOG_QUERIES",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub fix_catalog_queries: bool,
}

/// Serves the inventory service on `listener` until `shutdown` fires, then
/// lets in-flight requests finish and returns.
pub async fn serve(
    listener: TcpListener,
    ctx: ServiceContext,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let path = ctx.data_dir.join(DB_FILE);
    let store = Store::open(&path).map_err(|source| ServeError::Store { path, source })?;
    let warehouse = Warehouse::from_config(&config);
    let catalog = Catalog::new(&store, CatalogQueries::from_config(&config));
    tracing::info!(
        warehouse_check_ms = config.warehouse_check_ms,
        fix_inventory_lock = config.fix_inventory_lock,
        fix_catalog_queries = config.fix_catalog_queries,
        "inventory configured"
    );

    // The gateway's /readyz and `tracemesh up` ask this health service
    // whether `tracemesh.inventory.v1.InventoryService` is SERVING.
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<InventoryServiceServer<InventoryServer>>()
        .await;

    tonic::transport::Server::builder()
        .layer(GrpcServerLayer::new(ctx.faults.clone()))
        .add_service(health_service)
        .add_service(InventoryServiceServer::new(InventoryServer::new(
            store, catalog, warehouse,
        )))
        .serve_with_incoming_shutdown(listener::grpc(listener), shutdown.wait())
        .await
        .map_err(|e| ServeError::Server(e.into()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn by_default_the_check_takes_15_ms_behind_the_planted_lock_and_the_catalog_is_n_plus_one() {
        let cli = Cli::try_parse_from(["inventory"]).unwrap();
        assert_eq!(cli.config.warehouse_check_ms, 15);
        assert!(!cli.config.fix_inventory_lock);
        assert!(!cli.config.fix_catalog_queries);
    }

    #[test]
    fn each_fix_flag_turns_its_bottleneck_off_alone() {
        let cli = Cli::try_parse_from(["inventory", "--fix-inventory-lock"]).unwrap();
        assert!(cli.config.fix_inventory_lock);
        assert!(!cli.config.fix_catalog_queries);
        let cli = Cli::try_parse_from(["inventory", "--fix-catalog-queries"]).unwrap();
        assert!(cli.config.fix_catalog_queries);
        assert!(!cli.config.fix_inventory_lock);
    }

    #[test]
    fn a_warehouse_check_time_out_of_range_is_refused_with_its_value() {
        let err = Cli::try_parse_from(["inventory", "--warehouse-check-ms", "99999999"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("99999999"), "{err}");
    }
}
