//! `tracemesh up`: the whole mesh on this machine.
//!
//! 1. Choose the data directory (the user's, or a temporary one).
//! 2. Start the embedded collector, unless `OTEL_EXPORTER_OTLP_ENDPOINT`
//!    sends the spans elsewhere (a real collector, Tempo, Jaeger).
//! 3. Start the five services ([`crate::mesh`]), wired to each other, and
//!    wait until they are ready.
//! 4. Print the URLs, then wait for ctrl-c / SIGTERM (a child that dies on
//!    its own is reported, the rest keep running; with `--restart` it is
//!    started again), and stop everything in order: gateway first, collector
//!    last.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tracemesh_harness::collector::{self, CollectorConfig, RunningCollector};
use tracemesh_runtime::config::{Env, ProcessEnv};

use crate::Failure;
use crate::cli::UpArgs;
use crate::mesh::{Mesh, MeshOptions};

pub async fn run(args: UpArgs) -> Result<(), Failure> {
    tracemesh_runtime::logs::init_logs_only(&ProcessEnv, "up", "info")
        .map_err(|e| Failure::Usage(e.to_string()))?;
    check_fault_files(&args.faults)?;
    let temp_dir;
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp_dir = temporary_data_dir()?;
            temp_dir.path().to_owned()
        }
    };

    let collector = if exporter_configured() {
        None
    } else {
        let config = CollectorConfig {
            grpc_addr: SocketAddr::new(args.host, args.collector_grpc_port),
            http_addr: SocketAddr::new(args.host, args.collector_http_port),
            ..CollectorConfig::default()
        };
        Some(start_collector(config, "--collector-grpc-port", "--collector-http-port").await?)
    };
    let options = MeshOptions {
        host: args.host,
        ports: vec![
            ("gateway", args.gateway_port),
            ("user", args.user_port),
            ("order", args.order_port),
            ("inventory", args.inventory_port),
            ("payment", args.payment_port),
        ],
        data_dir: data_dir.clone(),
        faults: args.faults.clone(),
        fault_seed: args.fault_seed,
        fix_inventory_lock: args.fix_inventory_lock,
        env: collector.as_ref().map(telemetry_env).unwrap_or_default(),
        ready_timeout: Duration::from_secs(args.ready_timeout_secs),
        log_file: None,
    };
    let result = match Mesh::start(&options).await {
        Ok(mut mesh) => {
            print_banner(&mesh, collector.as_ref(), &data_dir);
            wait_for_stop(&mut mesh, args.restart).await;
            mesh.stop().await;
            Ok(())
        }
        Err(e) => Err(e),
    };
    if let Some(c) = collector {
        stop_collector(c).await;
    }
    result
}

/// Every `--faults SERVICE=FILE` names a readable file.
pub fn check_fault_files(faults: &[(String, std::path::PathBuf)]) -> Result<(), Failure> {
    for (service, path) in faults {
        if !path.is_file() {
            return Err(Failure::Usage(format!(
                "--faults {service}={}: no such file",
                path.display()
            )));
        }
    }
    Ok(())
}

/// A fresh data directory, removed when the returned value is dropped.
pub fn temporary_data_dir() -> Result<tempfile::TempDir, Failure> {
    tempfile::Builder::new()
        .prefix("tracemesh-")
        .tempdir()
        .map_err(|e| Failure::Runtime(format!("cannot create a data directory: {e}")))
}

/// True when the user points the services' exporter somewhere themselves.
pub fn exporter_configured() -> bool {
    let env = ProcessEnv;
    match env
        .get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .or_else(|| env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    {
        Some(endpoint) => {
            tracing::info!(%endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT is set: no embedded collector");
            true
        }
        None => false,
    }
}

/// Starts the embedded collector; the error names the flags that chose its ports.
pub async fn start_collector(
    config: CollectorConfig,
    grpc_flag: &str,
    http_flag: &str,
) -> Result<RunningCollector, Failure> {
    let (grpc, http) = (config.grpc_addr.port(), config.http_addr.port());
    collector::start(config).await.map_err(|e| {
        Failure::Runtime(format!(
            "cannot start the embedded collector on {grpc_flag} {grpc} / {http_flag} {http}: {e} \
             (set OTEL_EXPORTER_OTLP_ENDPOINT to use another collector, or choose free ports)"
        ))
    })
}

/// The services export to the embedded collector over OTLP/gRPC.
pub fn telemetry_env(collector: &RunningCollector) -> Vec<(String, String)> {
    vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            collector.grpc_endpoint(),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(), "grpc".to_owned()),
    ]
}

pub async fn stop_collector(collector: RunningCollector) {
    let stats = collector.store().stats();
    if let Err(e) = collector.shutdown().await {
        tracing::warn!(error = %e, "the collector stopped with an error");
    }
    tracing::info!(?stats, "collector stopped");
}

fn print_banner(mesh: &Mesh, collector: Option<&RunningCollector>, data_dir: &Path) {
    println!("tracemesh is up");
    for child in &mesh.children {
        println!(
            "  {:<10} http://{:<22} admin http://{}/admin/faults  pid {}",
            child.name,
            child.addr,
            child.admin_addr,
            child.pid().unwrap_or_default()
        );
    }
    if let Some(c) = collector {
        println!(
            "  {:<10} {} (OTLP/gRPC), {}/v1/traces (OTLP/HTTP)",
            "collector",
            c.grpc_endpoint(),
            c.http_endpoint()
        );
        println!(
            "  {:<10} curl {}/api/traces/<trace-id>   (the id is in the gateway's traceresponse header)",
            "traces",
            c.http_endpoint()
        );
    }
    println!("  {:<10} {}", "data", data_dir.display());
    println!("try: curl -i {}/api/products", mesh.gateway_url());
    println!("press ctrl-c to stop");
}

/// First wait before restarting a crashed service, and the longest.
const FIRST_RESTART_DELAY: Duration = Duration::from_secs(1);
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);
/// A service that ran at least this long before exiting starts over at
/// [`FIRST_RESTART_DELAY`]; one that crashes sooner waits twice as long.
const STABLE_UPTIME: Duration = Duration::from_secs(10);

/// Waits for ctrl-c / SIGTERM. A child that dies on its own is reported
/// once and the rest keep running: a crashed service is a lesson in what the
/// traces of a partial outage look like (the gateway answers 503 and the
/// error span sits at the failed hop), not a reason to stop the demo.
///
/// With `restart`, the dead child is started again after a delay, and a
/// line `restarted <service> pid <pid>` on stdout says so (tests read it).
async fn wait_for_stop(mesh: &mut Mesh, restart: bool) {
    let signal = tracemesh_runtime::shutdown::signal();
    tokio::pin!(signal);
    let mut watch = tokio::time::interval(Duration::from_millis(250));
    let mut reported = Vec::new();
    // Per crashed service: when to restart it.
    let mut pending: Vec<(&'static str, tokio::time::Instant)> = Vec::new();
    let mut last_delay: Vec<(&'static str, Duration)> = Vec::new();
    loop {
        tokio::select! {
            () = &mut signal => return,
            _ = watch.tick() => {
                for (service, status) in mesh.newly_exited(&mut reported) {
                    tracing::error!(service, %status, "a service exited on its own; the others keep running");
                    if restart {
                        let crashed_early = mesh.child(service).is_some_and(|c| c.uptime() < STABLE_UPTIME);
                        let previous = last_delay.iter().find(|(s, _)| *s == service).map(|(_, d)| *d);
                        let delay = match previous {
                            Some(d) if crashed_early => (d * 2).min(MAX_RESTART_DELAY),
                            _ => FIRST_RESTART_DELAY,
                        };
                        last_delay.retain(|(s, _)| *s != service);
                        last_delay.push((service, delay));
                        tracing::info!(service, ?delay, "restarting after a delay");
                        pending.push((service, tokio::time::Instant::now() + delay));
                    }
                }
                let now = tokio::time::Instant::now();
                let (due, later): (Vec<_>, Vec<_>) = pending.drain(..).partition(|(_, at)| *at <= now);
                pending = later;
                for (service, _) in due {
                    restart_child(mesh, service, &mut reported);
                }
            }
        }
    }
}

fn restart_child(mesh: &mut Mesh, service: &'static str, reported: &mut Vec<&'static str>) {
    let Some(child) = mesh.children.iter_mut().find(|c| c.name == service) else {
        return;
    };
    match child.restart() {
        Ok(()) => {
            // Watch it again: a second crash is reported (and restarted) too.
            reported.retain(|s| *s != service);
            let pid = child.pid().unwrap_or_default();
            tracing::info!(service, pid, "service restarted");
            // Not println!: it panics if whoever read the banner has gone.
            let _ = writeln!(std::io::stdout(), "restarted {service} pid {pid}");
        }
        // Left as reported: `up` keeps serving what still runs.
        Err(e) => tracing::error!(service, error = %e, "cannot restart the service"),
    }
}
