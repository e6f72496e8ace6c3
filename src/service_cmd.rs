//! `tracemesh service <name>`: one service in this process.

use std::net::SocketAddr;

use tracemesh_runtime::service::{self, StartError};

use crate::Failure;
use crate::cli::ServiceCommand;

pub async fn run(cmd: ServiceCommand) -> Result<(), Failure> {
    let result = match cmd {
        ServiceCommand::Gateway { common, config } => {
            service::run(
                "gateway",
                default(tracemesh_gateway::DEFAULT_LISTEN),
                common,
                |l, ctx, s| tracemesh_gateway::serve(l, ctx, config, s),
            )
            .await
        }
        ServiceCommand::User { common, config } => {
            service::run(
                "user",
                default(tracemesh_user::DEFAULT_LISTEN),
                common,
                |l, ctx, s| tracemesh_user::serve(l, ctx, config, s),
            )
            .await
        }
        ServiceCommand::Order { common, config } => {
            service::run(
                "order",
                default(tracemesh_order::DEFAULT_LISTEN),
                common,
                |l, ctx, s| tracemesh_order::serve(l, ctx, config, s),
            )
            .await
        }
        ServiceCommand::Inventory { common, config } => {
            service::run(
                "inventory",
                default(tracemesh_inventory::DEFAULT_LISTEN),
                common,
                |l, ctx, s| tracemesh_inventory::serve(l, ctx, config, s),
            )
            .await
        }
        ServiceCommand::Payment { common, config } => {
            service::run(
                "payment",
                default(tracemesh_payment::DEFAULT_LISTEN),
                common,
                |l, ctx, s| tracemesh_payment::serve(l, ctx, config, s),
            )
            .await
        }
    };
    result.map_err(|e| match e {
        StartError::Config(_) | StartError::Telemetry(_) => Failure::Usage(e.to_string()),
        StartError::Bind { .. } | StartError::Service(_) => Failure::Runtime(e.to_string()),
    })
}

fn default(addr: &str) -> SocketAddr {
    // The defaults are constants of the service crates, checked by a test.
    addr.parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
}
