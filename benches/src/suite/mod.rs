//! `tracemesh bench`: the performance benchmark of the mesh and the harness
//! (a benchmark, not a test: it measures and reports; it asserts nothing).
//!
//! Parts (`--only` picks one):
//! 1. overhead: the services' CPU per checkout, traced at 100% vs
//!    OTEL_SDK_DISABLED, at a fixed offered rate and at saturation;
//! 2. efficiency: checkouts x hops vs one axum hello-world hop;
//! 3. ingest: the collector on one core, saturated and at 10,000 spans/s;
//! 4. readiness: answer to complete trace, at two exporter delays;
//! 5. loadgen: goose, driven as `tracemesh run` drives it, against `wrk`
//!    on an axum hello world: the load generator's ceiling.
//!
//! Prints the headline ratios and a markdown table, writes the table to
//! `--output`, and rewrites the results section of `--update-benchmarks`
//! (BENCHMARKS.md) between its markers.
//!
//! Where each part lives:
//! - `mesh_load.rs`: the rounds of overhead (the traced mesh against the
//!   same mesh with `OTEL_SDK_DISABLED=true`) and efficiency (checkouts
//!   times hops against an axum hello world), alternating;
//! - `overhead.rs`: CPU per checkout from `/proc`, its ratios and rows;
//! - `collector_process.rs`: `tracemesh collector` as its own process, so
//!   its CPU is apart from the load generator's;
//! - `readiness.rs`: from the gateway's answer to the trace being complete
//!   in the store, at two exporter schedule delays;
//! - `ingest.rs`: the collector as its own process on one core: spans per
//!   second with nothing lost, then CPU share and memory at 10,000 spans/s;
//! - `loadgen.rs`: the hello world as its own process, goose and `wrk`
//!   taking turns against it, each one's requests/s and CPU;
//! - `pinning.rs`: `taskset`, to give a measured process its own core;
//! - `announce.rs`: where the collector and the hello world listen, read
//!   from what they print after binding port 0;
//! - `mesh.rs`: a fresh mesh per variant, the checkout request, the order
//!   of variants;
//! - `report.rs`: the results as rows, the markdown table, and rewriting
//!   the table between markers in BENCHMARKS.md.
//!
//! Why rounds alternate: this machine is shared and its speed drifts (other
//! builds, thermal limits). Measuring A for a minute and then B for a minute
//! folds that drift into the difference; A, B, B, A, A, B... spreads it over
//! both, and the ratio is taken per round, where A and B ran seconds apart.
//!
//! The suite runs inside the `tracemesh` binary (`tracemesh bench`): the
//! meshes it starts and the collector it measures are that binary's own
//! subcommands.

pub mod announce;
pub mod collector_process;
pub mod ingest;
pub mod loadgen;
pub mod mesh;
pub mod mesh_load;
pub mod overhead;
pub mod pinning;
pub mod readiness;
pub mod report;

pub use mesh::{
    CAB_004_STOCK, CHECKOUT_BODY, checkout_request, round_order, start_mesh, traced_env,
    traceresponse,
};

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tracemesh_harness::collector::CollectorConfig;
use tracemesh_runtime::config::ProcessEnv;

use tracemesh_mesh::{MeshError, collector};

use mesh_load::LoadSettings;
use report::Results;

/// Why the suite stopped: the user's mistake (exit 2) or a failure (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
}

impl From<MeshError> for BenchError {
    fn from(e: MeshError) -> BenchError {
        BenchError::Runtime(e.to_string())
    }
}

/// `tracemesh bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Rounds of each measurement; the variants alternate within each round.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub rounds: u64,
    /// Seconds each variant runs per round.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub round_secs: u64,
    /// Concurrent clients of the closed loop (overhead, efficiency), and
    /// goose users and wrk connections (loadgen).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub clients: u64,
    /// Offered checkouts per second of the overhead part's open loop: well
    /// below what the untraced mesh serves on 2 cores (~800/s).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100000))]
    pub rate: u64,
    /// Run one part only.
    #[arg(long, value_enum)]
    pub only: Option<Part>,
    /// Also write the results (ratios and markdown table) to this file.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rewrite the results table between the markers in this file (BENCHMARKS.md).
    #[arg(long, value_name = "FILE")]
    pub update_benchmarks: Option<PathBuf>,
    /// Serve the axum hello world on this address until killed, and
    /// nothing else: the loadgen part starts itself this way, so the
    /// server's CPU is its own process's.
    #[arg(long, value_name = "ADDR", hide = true)]
    pub serve_hello: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    Overhead,
    Efficiency,
    Ingest,
    Readiness,
    Loadgen,
}

impl BenchArgs {
    fn runs(&self, part: Part) -> bool {
        self.only.is_none_or(|only| only == part)
    }
}

pub async fn run(args: BenchArgs) -> Result<(), BenchError> {
    tracemesh_runtime::logs::init_logs_only(&ProcessEnv, "bench", "warn")
        .map_err(|e| BenchError::Usage(e.to_string()))?;
    if let Some(addr) = args.serve_hello {
        return loadgen::serve_hello(addr).await;
    }
    check_files(&args)?;
    let (rounds, round) = (args.rounds as usize, Duration::from_secs(args.round_secs));
    let load_before = load_average();
    let started = std::time::Instant::now();
    let mut results = Results::default();

    let logs = std::env::temp_dir().join(format!("tracemesh-bench-{}", std::process::id()));
    let needs_mesh =
        args.runs(Part::Overhead) || args.runs(Part::Efficiency) || args.runs(Part::Readiness);
    if needs_mesh {
        std::fs::create_dir_all(&logs)
            .map_err(|e| BenchError::Runtime(format!("cannot create {}: {e}", logs.display())))?;
        eprintln!("bench: the services' logs go to {}", logs.display());
    }
    if args.runs(Part::Overhead) || args.runs(Part::Efficiency) {
        // Its own collector process: this process is the load generator,
        // and its CPU is measured apart from the collector's.
        let settings = LoadSettings {
            rounds,
            round,
            clients: args.clients as usize,
            rate: args.rate as f64,
            overhead: args.runs(Part::Overhead),
            efficiency: args.runs(Part::Efficiency),
        };
        mesh_load::run(settings, &logs, &mut results).await?;
    }
    if args.runs(Part::Readiness) {
        let collector =
            collector::start(CollectorConfig::ephemeral(), "(ephemeral)", "(ephemeral)").await?;
        let outcome = readiness::run(rounds, round, &collector, &logs, &mut results).await;
        collector::stop(collector).await;
        outcome?;
    }
    if args.runs(Part::Ingest) {
        ingest::run(rounds, round, &mut results).await?;
    }
    if args.runs(Part::Loadgen) {
        loadgen::run(rounds, round, args.clients as usize, &mut results).await?;
    }

    let context = format!(
        "`tracemesh bench --rounds {} --round-secs {} --clients {} --rate {}{}` on {} ({} cores, {} memory); \
         load average {} before, {} after; {:.0} s.",
        args.rounds,
        args.round_secs,
        args.clients,
        args.rate,
        args.only
            .map(|p| format!(
                " --only {}",
                p.to_possible_value()
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default()
            ))
            .unwrap_or_default(),
        today(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_total(),
        load_before,
        load_average(),
        started.elapsed().as_secs_f64()
    );
    let table = report::markdown(&context, &results.rows);
    let mut text = String::new();
    for ratio in &results.ratios {
        text.push_str(ratio);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&table);
    print!("{text}");
    let _ = std::io::stdout().flush();

    if let Some(path) = &args.output {
        std::fs::write(path, &text)
            .map_err(|e| BenchError::Runtime(format!("--output {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.update_benchmarks {
        let document = std::fs::read_to_string(path).map_err(|e| {
            BenchError::Runtime(format!("--update-benchmarks {}: {e}", path.display()))
        })?;
        let updated = report::replace_between_markers(&document, &table).map_err(|e| {
            BenchError::Runtime(format!("--update-benchmarks {} {e}", path.display()))
        })?;
        std::fs::write(path, updated).map_err(|e| {
            BenchError::Runtime(format!("--update-benchmarks {}: {e}", path.display()))
        })?;
    }
    Ok(())
}

/// File mistakes are usage mistakes, found before minutes of measuring.
fn check_files(args: &BenchArgs) -> Result<(), BenchError> {
    if let Some(path) = &args.update_benchmarks {
        let document = std::fs::read_to_string(path).map_err(|e| {
            BenchError::Usage(format!("--update-benchmarks {}: {e}", path.display()))
        })?;
        report::replace_between_markers(&document, "").map_err(|e| {
            BenchError::Usage(format!("--update-benchmarks {} {e}", path.display()))
        })?;
    }
    if let Some(path) = &args.output {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !parent.is_dir() {
            return Err(BenchError::Usage(format!(
                "--output {}: no such directory {}",
                path.display(),
                parent.display()
            )));
        }
    }
    Ok(())
}

/// `/proc/loadavg`'s three averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// `MemTotal` from `/proc/meminfo`, in GiB.
fn memory_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or_else(
            || "unknown".into(),
            |kib| format!("{:.0} GiB", kib as f64 / (1024.0 * 1024.0)),
        )
}

/// Today's date (UTC), YYYY-MM-DD.
fn today() -> String {
    let now = tracemesh_runtime::time_format::rfc3339_utc(std::time::SystemTime::now());
    now[..10].to_owned()
}
