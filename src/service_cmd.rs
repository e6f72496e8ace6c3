//! `tracemesh service <name>`: one service in this process.
//!
//! Every service starts the same way ([`tracemesh_runtime::service::run`]:
//! telemetry, admin endpoint, listener, graceful stop); only its own config
//! and `serve` differ, and its default address comes from the topology table.

use tracemesh_runtime::service::{self, StartError};
use tracemesh_runtime::topology::Service;

use crate::Failure;
use crate::cli::ServiceCommand;

pub async fn run(cmd: ServiceCommand) -> Result<(), Failure> {
    use ServiceCommand as S;
    let result = match cmd {
        S::Gateway { common, config } => {
            let serve = |l, ctx, s| tracemesh_gateway::serve(l, ctx, config, s);
            service::run(Service::Gateway, common, serve).await
        }
        S::User { common, config } => {
            let serve = |l, ctx, s| tracemesh_user::serve(l, ctx, config, s);
            service::run(Service::User, common, serve).await
        }
        S::Order { common, config } => {
            let serve = |l, ctx, s| tracemesh_order::serve(l, ctx, config, s);
            service::run(Service::Order, common, serve).await
        }
        S::Inventory { common, config } => {
            let serve = |l, ctx, s| tracemesh_inventory::serve(l, ctx, config, s);
            service::run(Service::Inventory, common, serve).await
        }
        S::Payment { common, config } => {
            let serve = |l, ctx, s| tracemesh_payment::serve(l, ctx, config, s);
            service::run(Service::Payment, common, serve).await
        }
    };
    result.map_err(|e| match e {
        StartError::Config(_) | StartError::Telemetry(_) => Failure::Usage(e.to_string()),
        StartError::Bind { .. } | StartError::Service(_) => Failure::Runtime(e.to_string()),
    })
}
