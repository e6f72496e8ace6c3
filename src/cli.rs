//! Every flag of the `tracemesh` binary. Each flag can also be set through
//! the environment variable named beside it in `--help`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tracemesh_runtime::service::CommonArgs;

#[derive(Debug, Parser)]
#[command(
    name = "tracemesh",
    version,
    about = "A traced demo microservice mesh and the harness that checks its traces"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one service of the mesh in this process.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Start the whole mesh (five processes) and the embedded collector.
    Up(UpArgs),
    /// Run the embedded OTLP collector and trace store alone.
    Collector(CollectorArgs),
}

/// `tracemesh service <name>`: the common flags plus the service's own.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// The public HTTP edge (axum): products, users, checkout, orders.
    Gateway {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        config: tracemesh_gateway::Config,
    },
    /// Users (gRPC, SQLite).
    User {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        config: tracemesh_user::Config,
    },
    /// Orders and the checkout saga (gRPC, SQLite).
    Order {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        config: tracemesh_order::Config,
    },
    /// Catalog and stock (gRPC, SQLite).
    Inventory {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        config: tracemesh_inventory::Config,
    },
    /// A simulated card payment provider (HTTP).
    Payment {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        config: tracemesh_payment::Config,
    },
}

/// `tracemesh up`.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Address every process binds to.
    #[arg(long, env = "TRACEMESH_UP_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Gateway port (0: a free one).
    #[arg(long, env = "TRACEMESH_GATEWAY_PORT", default_value_t = 8080)]
    pub gateway_port: u16,
    /// User service port (0: a free one).
    #[arg(long, env = "TRACEMESH_USER_PORT", default_value_t = 0)]
    pub user_port: u16,
    /// Order service port (0: a free one).
    #[arg(long, env = "TRACEMESH_ORDER_PORT", default_value_t = 0)]
    pub order_port: u16,
    /// Inventory service port (0: a free one).
    #[arg(long, env = "TRACEMESH_INVENTORY_PORT", default_value_t = 0)]
    pub inventory_port: u16,
    /// Payment service port (0: a free one).
    #[arg(long, env = "TRACEMESH_PAYMENT_PORT", default_value_t = 0)]
    pub payment_port: u16,
    /// Directory for the services' SQLite files; a fresh temporary one when unset.
    #[arg(long, env = "TRACEMESH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A fault file for one service, as `service=path` (repeatable).
    #[arg(long = "faults", value_name = "SERVICE=FILE", value_parser = parse_service_file)]
    pub faults: Vec<(String, PathBuf)>,
    /// Seed for every service's fault decisions.
    #[arg(long, env = "TRACEMESH_FAULT_SEED")]
    pub fault_seed: Option<u64>,
    /// Remove the planted bottleneck in inventory (the warehouse lock).
    #[arg(long, env = "TRACEMESH_FIX_INVENTORY_LOCK")]
    pub fix_inventory_lock: bool,
    /// Embedded collector's OTLP/gRPC port; unused when
    /// OTEL_EXPORTER_OTLP_ENDPOINT points the services elsewhere.
    #[arg(long, env = "TRACEMESH_COLLECTOR_GRPC_PORT", default_value_t = 4317)]
    pub collector_grpc_port: u16,
    /// Embedded collector's OTLP/HTTP port, which also serves Tempo's query API.
    #[arg(long, env = "TRACEMESH_COLLECTOR_HTTP_PORT", default_value_t = 4318)]
    pub collector_http_port: u16,
    /// Seconds to wait for the mesh to become ready.
    #[arg(long, default_value_t = 30)]
    pub ready_timeout_secs: u64,
}

/// `tracemesh collector`.
#[derive(Debug, Clone, Args)]
pub struct CollectorArgs {
    /// Address to bind.
    #[arg(long, env = "TRACEMESH_COLLECTOR_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// OTLP/gRPC port.
    #[arg(long, env = "TRACEMESH_COLLECTOR_GRPC_PORT", default_value_t = 4317)]
    pub grpc_port: u16,
    /// OTLP/HTTP port, also serving Tempo's query API.
    #[arg(long, env = "TRACEMESH_COLLECTOR_HTTP_PORT", default_value_t = 4318)]
    pub http_port: u16,
    /// Largest accepted export request, in bytes.
    #[arg(long, env = "TRACEMESH_COLLECTOR_MAX_BODY_BYTES", default_value_t = tracemesh_harness::collector::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Spans kept in memory before the oldest traces are evicted (and counted).
    #[arg(long, env = "TRACEMESH_COLLECTOR_MAX_SPANS", default_value_t = tracemesh_harness::store::DEFAULT_MAX_SPANS)]
    pub max_spans: usize,
    /// Copy every export to this upstream OTLP/gRPC endpoint (a collector or Tempo).
    #[arg(long, env = "TRACEMESH_COLLECTOR_FORWARD_TO")]
    pub forward_to: Option<String>,
}

fn parse_service_file(raw: &str) -> Result<(String, PathBuf), String> {
    let (service, path) = raw
        .split_once('=')
        .ok_or_else(|| format!("{raw:?} is not SERVICE=FILE"))?;
    if !crate::children::SERVICES.contains(&service) {
        return Err(format!(
            "unknown service {service:?}; expected one of {}",
            crate::children::SERVICES.join(", ")
        ));
    }
    Ok((service.to_owned(), PathBuf::from(path)))
}
