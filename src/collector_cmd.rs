//! `tracemesh collector`: the embedded collector and trace store alone,
//! until ctrl-c or SIGTERM, with its limits (body size, attribute value
//! length, span bound) from the flags; prints its counters when it stops.

use std::net::SocketAddr;

use tracemesh_harness::collector::{
    self, ANNOUNCE_GRPC, ANNOUNCE_HTTP, CollectorConfig, TRACES_PATH,
};
use tracemesh_runtime::config::ProcessEnv;

use crate::Failure;
use crate::cli::CollectorArgs;

pub async fn run(args: CollectorArgs) -> Result<(), Failure> {
    tracemesh_runtime::logs::init_logs_only(&ProcessEnv, "collector", "info")
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let config = CollectorConfig {
        grpc_addr: SocketAddr::new(args.host, args.grpc_port),
        http_addr: SocketAddr::new(args.host, args.http_port),
        max_body_bytes: args.max_body_bytes,
        max_attribute_bytes: args.max_attribute_bytes,
        max_spans: args.max_spans,
        forward_to: args.forward_to,
    };
    let running = collector::start(config.clone()).await.map_err(|e| {
        Failure::Runtime(format!(
            "cannot start the collector on --grpc-port {} / --http-port {}: {e}",
            args.grpc_port, args.http_port
        ))
    })?;
    println!("{ANNOUNCE_GRPC}  {}", running.grpc_endpoint());
    println!("{ANNOUNCE_HTTP}  {}{TRACES_PATH}", running.http_endpoint());
    println!(
        "Tempo API:  {}/api/traces/<trace-id>",
        running.http_endpoint()
    );
    tracemesh_runtime::shutdown::signal().await;
    let stats = running.store().stats();
    let ingest = running.ingest_stats();
    running
        .shutdown()
        .await
        .map_err(|e| Failure::Runtime(format!("collector stopped with an error: {e}")))?;
    eprintln!("collector stopped: {stats:?} {ingest:?}");
    Ok(())
}
