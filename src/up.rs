//! `tracemesh up`: the whole mesh on this machine.
//!
//! 1. Choose the ports (flags, or free ones) and the data directory.
//! 2. Start the embedded collector, unless `OTEL_EXPORTER_OTLP_ENDPOINT`
//!    sends the spans elsewhere (a real collector, Tempo, Jaeger).
//! 3. Start the five services as child processes, wired to each other.
//! 4. Wait until every port answers and the gateway's `/readyz` is 200.
//! 5. Print the URLs, then wait for ctrl-c / SIGTERM (a child that dies on
//!    its own is reported, the rest keep running), and stop everything in
//!    order: gateway first, collector last.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use tracemesh_harness::collector::{self, CollectorConfig, RunningCollector};
use tracemesh_runtime::config::{Env, ProcessEnv};

use crate::Failure;
use crate::children::{self, Child};
use crate::cli::UpArgs;

/// How long a child may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub async fn run(args: UpArgs) -> Result<(), Failure> {
    tracemesh_runtime::logs::init_logs_only(&ProcessEnv, "up")
        .map_err(|e| Failure::Usage(e.to_string()))?;
    for (service, path) in &args.faults {
        if !path.is_file() {
            return Err(Failure::Usage(format!(
                "--faults {service}={}: no such file",
                path.display()
            )));
        }
    }

    // The data directory: the user's, or a temporary one removed at exit.
    let temp_dir;
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp_dir = tempfile::Builder::new()
                .prefix("tracemesh-")
                .tempdir()
                .map_err(|e| Failure::Runtime(format!("cannot create a data directory: {e}")))?;
            temp_dir.path().to_owned()
        }
    };

    let collector = start_collector_unless_configured(&args).await?;
    let mut telemetry_env = Vec::new();
    if let Some(c) = &collector {
        telemetry_env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), c.grpc_endpoint()));
        telemetry_env.push(("OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(), "grpc".to_owned()));
    }

    let mut mesh = Vec::new();
    let result = start_mesh(&args, &data_dir, &telemetry_env, &mut mesh).await;
    let result = match result {
        Ok(()) => {
            print_banner(&mesh, collector.as_ref(), &data_dir);
            wait_for_stop(&mut mesh).await
        }
        Err(e) => Err(e),
    };

    for child in &mut mesh {
        let how = child.stop(STOP_GRACE).await;
        tracing::info!(service = child.name, "{how}");
    }
    if let Some(c) = collector {
        let stats = c.store().stats();
        if let Err(e) = c.shutdown().await {
            tracing::warn!(error = %e, "the collector stopped with an error");
        }
        tracing::info!(?stats, "collector stopped");
    }
    result
}

async fn start_collector_unless_configured(
    args: &UpArgs,
) -> Result<Option<RunningCollector>, Failure> {
    let env = ProcessEnv;
    if let Some(endpoint) = env
        .get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .or_else(|| env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    {
        tracing::info!(%endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT is set: no embedded collector");
        return Ok(None);
    }
    let config = CollectorConfig {
        grpc_addr: SocketAddr::new(args.host, args.collector_grpc_port),
        http_addr: SocketAddr::new(args.host, args.collector_http_port),
        ..CollectorConfig::default()
    };
    collector::start(config).await.map(Some).map_err(|e| {
        Failure::Runtime(format!(
            "cannot start the embedded collector on --collector-grpc-port {} / \
             --collector-http-port {}: {e} (set OTEL_EXPORTER_OTLP_ENDPOINT to use another \
             collector, or choose free ports)",
            args.collector_grpc_port, args.collector_http_port
        ))
    })
}

/// A port to use: the one given, or a free one the kernel picks now.
fn choose_port(host: IpAddr, port: u16) -> Result<SocketAddr, Failure> {
    if port != 0 {
        return Ok(SocketAddr::new(host, port));
    }
    // Bind port 0 and let go: the port stays free for the child to bind in a
    // moment. Another program could take it in between; the child would then
    // fail to bind, and `up` reports which one.
    let listener = TcpListener::bind((host, 0))
        .map_err(|e| Failure::Runtime(format!("cannot find a free port on {host}: {e}")))?;
    listener
        .local_addr()
        .map_err(|e| Failure::Runtime(format!("cannot find a free port on {host}: {e}")))
}

async fn start_mesh(
    args: &UpArgs,
    data_dir: &std::path::Path,
    telemetry_env: &[(String, String)],
    mesh: &mut Vec<Child>,
) -> Result<(), Failure> {
    let host = args.host;
    let addr_of = |name: &str| -> Result<SocketAddr, Failure> {
        let port = match name {
            "gateway" => args.gateway_port,
            "user" => args.user_port,
            "order" => args.order_port,
            "inventory" => args.inventory_port,
            _ => args.payment_port,
        };
        choose_port(host, port)
    };
    let addrs: Vec<(&'static str, SocketAddr)> = children::SERVICES
        .iter()
        .map(|name| addr_of(name).map(|a| (*name, a)))
        .collect::<Result<_, _>>()?;
    let url = |name: &str| {
        let addr = addrs.iter().find(|(n, _)| *n == name).map(|(_, a)| *a);
        addr.map(|a| format!("http://{a}")).unwrap_or_default()
    };

    // Start the callees first, so the gateway's first readiness probe finds them.
    for name in children::SERVICES.iter().rev() {
        let addr = addrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| SocketAddr::new(host, 0));
        let admin = choose_port(host, 0)?;
        let mut flags: Vec<OsString> = vec!["--data-dir".into(), data_dir.as_os_str().to_owned()];
        match *name {
            "gateway" => {
                flags.extend(["--user-url".into(), url("user").into()]);
                flags.extend(["--order-url".into(), url("order").into()]);
                flags.extend(["--inventory-url".into(), url("inventory").into()]);
            }
            "order" => {
                flags.extend(["--inventory-url".into(), url("inventory").into()]);
                flags.extend(["--payment-url".into(), url("payment").into()]);
            }
            "inventory" if args.fix_inventory_lock => flags.push("--fix-inventory-lock".into()),
            _ => {}
        }
        if let Some((_, path)) = args.faults.iter().find(|(s, _)| s == name) {
            flags.extend(["--faults".into(), path.as_os_str().to_owned()]);
        }
        if let Some(seed) = args.fault_seed {
            flags.extend(["--fault-seed".into(), seed.to_string().into()]);
        }
        // Each process names itself; a shared OTEL_SERVICE_NAME would
        // give all five the same name and make the traces useless.
        let child = children::spawn(
            name,
            addr,
            admin,
            flags,
            telemetry_env,
            &["OTEL_SERVICE_NAME"],
        )
        .map_err(|e| Failure::Runtime(format!("cannot start the {name} service: {e}")))?;
        mesh.push(child);
    }
    // Stop order is SERVICES order (gateway first).
    mesh.reverse();
    wait_until_ready(
        mesh,
        &url("gateway"),
        Duration::from_secs(args.ready_timeout_secs),
    )
    .await
}

/// Polls every child's port, then the gateway's `/readyz`, until all answer
/// or the deadline passes; a child that exits meanwhile fails at once.
async fn wait_until_ready(
    mesh: &mut [Child],
    gateway_url: &str,
    timeout: Duration,
) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot build an HTTP client: {e}")))?;
    let mut pending: Vec<usize> = (0..mesh.len()).collect();
    loop {
        for child in mesh.iter_mut() {
            if let Some(status) = child.exited() {
                return Err(Failure::Runtime(format!(
                    "the {} service exited during start-up ({status}); its log is above",
                    child.name
                )));
            }
        }
        let mut still = Vec::new();
        for i in pending {
            if tokio::net::TcpStream::connect(mesh[i].addr).await.is_err() {
                still.push(i);
            }
        }
        pending = still;
        if pending.is_empty() {
            let ready = client
                .get(format!("{gateway_url}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            let waiting: Vec<&str> = pending.iter().map(|i| mesh[*i].name).collect();
            return Err(Failure::Runtime(format!(
                "the mesh was not ready within {timeout:?} (still waiting for: {})",
                if waiting.is_empty() {
                    "the gateway's /readyz".to_owned()
                } else {
                    waiting.join(", ")
                }
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn print_banner(mesh: &[Child], collector: Option<&RunningCollector>, data_dir: &std::path::Path) {
    println!("tracemesh is up");
    for child in mesh {
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
    if let Some(gateway) = mesh.iter().find(|c| c.name == "gateway") {
        println!("try: curl -i http://{}/api/products", gateway.addr);
    }
    println!("press ctrl-c to stop");
}

/// Waits for ctrl-c / SIGTERM. A child that dies on its own is reported
/// once and the rest keep running: a crashed service is a lesson in what the
/// traces of a partial outage look like (the gateway answers 503 and the
/// error span sits at the failed hop), not a reason to stop the demo.
async fn wait_for_stop(mesh: &mut [Child]) -> Result<(), Failure> {
    let signal = tracemesh_runtime::shutdown::signal();
    tokio::pin!(signal);
    let mut watch = tokio::time::interval(Duration::from_millis(250));
    let mut reported = vec![false; mesh.len()];
    loop {
        tokio::select! {
            () = &mut signal => return Ok(()),
            _ = watch.tick() => {
                for (child, reported) in mesh.iter_mut().zip(reported.iter_mut()) {
                    if *reported {
                        continue;
                    }
                    if let Some(status) = child.exited() {
                        tracing::error!(
                            service = child.name,
                            %status,
                            "a service exited on its own; the others keep running"
                        );
                        *reported = true;
                    }
                }
            }
        }
    }
}
