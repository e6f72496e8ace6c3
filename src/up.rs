//! `tracemesh up`: the whole mesh on this machine.
//!
//! 1. Choose the data directory (the user's, or a temporary one).
//! 2. Start the embedded collector, unless `OTEL_EXPORTER_OTLP_ENDPOINT`
//!    sends the spans elsewhere (a real collector, Tempo, Jaeger).
//! 3. Start the five services ([`tracemesh_mesh::Mesh`]), wired to each other, and
//!    wait until they are ready.
//!    With `--prometheus start`, a Prometheus scraping them (`run_metrics.rs`).
//! 4. Print the URLs, then wait for ctrl-c / SIGTERM (a child that dies on
//!    its own is reported, the rest keep running; with `--restart` it is
//!    started again by [`Supervisor`]), and stop everything in order:
//!    gateway first, collector last.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tracemesh_harness::collector::{CollectorConfig, RunningCollector};
use tracemesh_mesh::{AdminClient, Event, Mesh, MeshOptions, Service, Supervisor, collector};
use tracemesh_runtime::config::{Env, ProcessEnv};

use crate::Failure;
use crate::cli::UpArgs;
use crate::run_metrics::{MetricsReader, PrometheusChoice};

/// How long the services of `up` wait before exporting a batch to the
/// embedded collector, unless `OTEL_BSP_SCHEDULE_DELAY` says otherwise: a
/// second, so a trace is there a moment after its request (the SDK's
/// default is 5 s, long for someone typing curl and then `tracemesh trace`).
const SCHEDULE_DELAY_MS: u64 = 1000;

pub async fn run(args: UpArgs) -> Result<(), Failure> {
    tracemesh_runtime::logs::init_logs_only(&ProcessEnv, "up", "info")
        .map_err(|e| Failure::Usage(e.to_string()))?;
    check_fault_files(&args.faults)?;
    let temp_dir;
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp_dir = tracemesh_mesh::temporary_data_dir()?;
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
        Some(collector::start(config, "--collector-grpc-port", "--collector-http-port").await?)
    };
    let options = MeshOptions {
        host: args.host,
        ports: vec![
            (Service::Gateway, args.gateway_port),
            (Service::User, args.user_port),
            (Service::Order, args.order_port),
            (Service::Inventory, args.inventory_port),
            (Service::Payment, args.payment_port),
        ],
        admin_port_base: args.admin_port_base,
        faults: args.faults.clone(),
        fault_seed: args.fault_seed,
        fix_inventory_lock: args.fix_inventory_lock,
        fix_catalog_queries: args.fix_catalog_queries,
        fix_payment_pool: args.fix_payment_pool,
        env: collector
            .as_ref()
            .map(|collector| {
                let mut env = collector::telemetry_env(collector);
                if ProcessEnv.get("OTEL_BSP_SCHEDULE_DELAY").is_none() {
                    env.push((
                        "OTEL_BSP_SCHEDULE_DELAY".to_owned(),
                        SCHEDULE_DELAY_MS.to_string(),
                    ));
                }
                env
            })
            .unwrap_or_default(),
        ready_timeout: Duration::from_secs(args.ready_timeout_secs),
        ..MeshOptions::new(&data_dir)
    };
    let result = match Mesh::start(&options).await {
        Ok(mut mesh) => {
            let prometheus = match start_prometheus(args.prometheus.as_ref(), &mesh).await {
                Ok(p) => p,
                Err(e) => {
                    mesh.stop().await;
                    if let Some(c) = collector {
                        collector::stop(c).await;
                    }
                    return Err(e);
                }
            };
            print_banner(&mesh, collector.as_ref(), &data_dir, prometheus.as_ref());
            wait_for_stop(&mut mesh, Supervisor::new(args.restart)).await;
            mesh.stop().await;
            if let Some(reader) = prometheus {
                reader.stop().await;
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    };
    if let Some(c) = collector {
        collector::stop(c).await;
    }
    result
}

/// `--prometheus start`: a Prometheus scraping the mesh (a URL is `run`'s
/// business: `up` cannot tell someone else's Prometheus where to scrape).
async fn start_prometheus(
    choice: Option<&PrometheusChoice>,
    mesh: &Mesh,
) -> Result<Option<MetricsReader>, Failure> {
    match choice {
        None => Ok(None),
        Some(PrometheusChoice::Url(url)) => Err(Failure::Usage(format!(
            "--prometheus {url}: `up` can only start one (--prometheus start); a Prometheus of \
             your own scrapes the admin addresses `up` prints, at /metrics"
        ))),
        Some(choice) => {
            let admin = AdminClient::new(None, Duration::from_secs(10));
            MetricsReader::choose(Some(choice), &admin, &mesh.admin_endpoints(), None).await
        }
    }
}

/// Every `--faults SERVICE=FILE` names a readable file.
fn check_fault_files(faults: &[(Service, std::path::PathBuf)]) -> Result<(), Failure> {
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

/// True when the user points the services' exporter somewhere themselves.
fn exporter_configured() -> bool {
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

fn print_banner(
    mesh: &Mesh,
    collector: Option<&RunningCollector>,
    data_dir: &Path,
    prometheus: Option<&MetricsReader>,
) {
    println!("tracemesh is up");
    for child in mesh.children() {
        println!(
            "  {:<10} http://{:<22} admin http://{}/admin/faults  metrics http://{}/metrics  pid {}",
            child.service.name(),
            child.addr,
            child.admin_addr,
            child.admin_addr,
            child.pid().unwrap_or_default()
        );
    }
    if let Some(p) = prometheus {
        println!("  {:<10} {}", "metrics", p.describe());
    }
    if let Some(c) = collector {
        println!(
            "  {:<10} {} (OTLP/gRPC), {}/v1/traces and /v1/logs (OTLP/HTTP)",
            "collector",
            c.grpc_endpoint(),
            c.http_endpoint()
        );
        println!(
            "  {:<10} curl {}/api/traces/<trace-id>   (the id is in the gateway's traceresponse header)",
            "traces",
            c.http_endpoint()
        );
        println!(
            "  {:<10} tracemesh logs <trace-id> --collector {}",
            "logs",
            c.http_endpoint()
        );
    }
    println!("  {:<10} {}", "data", data_dir.display());
    println!("try: curl -i {}/api/products", mesh.gateway_url());
    println!("press ctrl-c to stop");
}

/// Waits for ctrl-c / SIGTERM, letting the supervisor watch the services
/// every 250 ms: a crash is logged, and a restart announced on stdout as
/// `restarted <service> pid <pid>`.
async fn wait_for_stop(mesh: &mut Mesh, mut supervisor: Supervisor) {
    let signal = tracemesh_runtime::shutdown::signal();
    tokio::pin!(signal);
    let mut watch = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            () = &mut signal => return,
            _ = watch.tick() => {
                for event in supervisor.check(mesh) {
                    report(&event);
                }
            }
        }
    }
}

fn report(event: &Event) {
    match event {
        Event::Exited { service, status } => tracing::error!(
            %service, %status, "a service exited on its own; the others keep running"
        ),
        Event::RestartScheduled { service, delay } => {
            tracing::info!(%service, ?delay, "restarting after a delay")
        }
        Event::Restarted { service, pid } => {
            tracing::info!(%service, pid, "service restarted");
            // Not println!: it panics if whoever read the banner has gone.
            let _ = writeln!(std::io::stdout(), "restarted {service} pid {pid}");
        }
        Event::RestartFailed { service, error } => {
            tracing::error!(%service, %error, "cannot restart the service")
        }
    }
}
