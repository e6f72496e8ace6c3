//! What every service process shares: its common flags ([`CommonArgs`]), the
//! context handed to a service ([`ServiceContext`]), and [`run`], which
//! brings a service up and down in the right order.
//!
//! Start: telemetry, then the admin endpoint, then the service's listener.
//! Stop (ctrl-c or SIGTERM): stop accepting, let in-flight requests finish,
//! then flush the spans still queued, then exit.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;

use crate::config::ProcessEnv;
use crate::fault::{FaultConfig, Faults};
use crate::telemetry::{self, TelemetryConfig};
use crate::topology::Service;

/// Flags every service takes (each also readable from its variable).
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Address to serve on; port 0 picks a free port.
    #[arg(long, env = "TRACEMESH_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the service's SQLite file.
    #[arg(long, env = "TRACEMESH_DATA_DIR", default_value = "tracemesh-data")]
    pub data_dir: PathBuf,
    /// Address of the admin endpoint (faults at runtime).
    #[arg(long, env = "TRACEMESH_ADMIN_LISTEN", default_value = "127.0.0.1:0")]
    pub admin_listen: SocketAddr,
    /// Bearer token the admin endpoint requires; needed off loopback.
    #[arg(long, env = "TRACEMESH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// A fault configuration file (YAML or JSON) applied at start.
    #[arg(long, env = "TRACEMESH_FAULTS")]
    pub faults: Option<PathBuf>,
    /// Seed for fault decisions; overrides the file's `seed`.
    #[arg(long, env = "TRACEMESH_FAULT_SEED")]
    pub fault_seed: Option<u64>,
}

/// What a service gets from its process: where its data lives and its faults.
#[derive(Debug, Clone)]
pub struct ServiceContext {
    pub data_dir: PathBuf,
    pub faults: Faults,
}

/// A reason a service could not start or run, for `main` to print.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Telemetry(#[from] telemetry::TelemetryError),
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Service(#[from] ServeError),
}

/// A reason a service's `serve` stopped, or could not begin, serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// One of the service's own flags is unusable; the message names it.
    #[error("{0}")]
    Config(String),
    /// The service's database could not be opened.
    #[error("cannot open the store {}: {source}", path.display())]
    Store {
        path: PathBuf,
        source: crate::db::DbError,
    },
    /// The server failed while serving (a tonic or an axum server).
    #[error("the server failed: {0}")]
    Server(Box<dyn std::error::Error + Send + Sync>),
}

impl CommonArgs {
    /// Reads and validates the fault file and seed.
    pub fn load_faults(&self) -> Result<FaultConfig, StartError> {
        let mut config = match &self.faults {
            None => FaultConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| StartError::Config(format!("--faults {}: {e}", path.display())))?;
                FaultConfig::parse(&text)
                    .map_err(|e| StartError::Config(format!("--faults {}: {e}", path.display())))?
            }
        };
        if let Some(seed) = self.fault_seed {
            config.seed = Some(seed);
        }
        Ok(config)
    }
}

/// Runs one service until ctrl-c or SIGTERM: `serve` gets the bound
/// listener, the context and a shutdown future, and must return once it has
/// stopped accepting and finished its in-flight requests.
///
/// The service's name (its `service.name`) and its default address come
/// from the topology table.
pub async fn run<F, Fut>(service: Service, args: CommonArgs, serve: F) -> Result<(), StartError>
where
    F: FnOnce(TcpListener, ServiceContext, crate::shutdown::Shutdown) -> Fut,
    Fut: Future<Output = Result<(), ServeError>>,
{
    let service_name = service.name();
    let telemetry_config = TelemetryConfig::from_env(&ProcessEnv, service_name)
        .map_err(|e| StartError::Config(e.to_string()))?;
    let faults = Faults::new(args.load_faults()?);
    // Before anything records: every series says which service it is, and
    // the metric telemetry faults are read from the same live handle.
    crate::metrics::install(service_name, faults.telemetry());
    crate::admin::check_exposure(args.admin_listen, args.admin_token.as_deref())
        .map_err(StartError::Config)?;
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| StartError::Config(format!("--data-dir {}: {e}", args.data_dir.display())))?;

    // The faults' telemetry handle goes into the tracer provider (span
    // processor, sampler), so the admin endpoint's PUT reaches them too.
    let guard = telemetry::init(&telemetry_config, &faults.telemetry())?;
    // Said once, loudly: traces from this process are broken on purpose.
    for fault in faults.telemetry().list() {
        tracing::warn!(%fault, "telemetry fault planted");
    }
    let shutdown = crate::shutdown::Shutdown::on_signal();

    let (admin_listener, admin_addr) = bind(args.admin_listen).await?;
    let admin = crate::admin::router(faults.clone(), guard.handle(), args.admin_token.clone());
    let admin_shutdown = shutdown.clone();
    tokio::spawn(async move {
        let served = axum::serve(admin_listener, admin)
            .with_graceful_shutdown(admin_shutdown.wait())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "admin endpoint failed");
        }
    });

    let (listener, local) = bind(args.listen.unwrap_or(service.default_addr())).await?;
    tracing::info!(
        service = service_name,
        listen = %local,
        admin = %admin_addr,
        data_dir = %args.data_dir.display(),
        "service listening"
    );

    let ctx = ServiceContext {
        data_dir: args.data_dir.clone(),
        faults,
    };
    let result = serve(listener, ctx, shutdown).await;
    // In-flight requests are done: now flush their spans.
    guard.shutdown().await;
    Ok(result?)
}

/// Binds `addr` and reads back the address bound (port 0 picks one).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let bound = async {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok((listener, local))
    };
    bound
        .await
        .map_err(|source| StartError::Bind { addr, source })
}
