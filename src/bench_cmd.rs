//! `tracemesh bench`: the performance benchmark of the mesh and the harness
//! (a benchmark, not a test: it measures and reports; it asserts nothing).
//!
//! Parts (`--only` picks one; the parts live in [`crate::bench`]):
//! 1. overhead: checkouts at saturation, traced at 100% vs OTEL_SDK_DISABLED;
//! 2. efficiency: checkouts x hops vs one axum hello-world hop;
//! 3. ingest: the collector on one core, saturated and at 10,000 spans/s;
//! 4. readiness: answer to complete trace, at two exporter delays.
//!
//! Prints the headline ratios and a markdown table, writes the table to
//! `--output`, and rewrites the results section of `--update-benchmarks`
//! (BENCHMARKS.md) between its markers.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tracemesh_harness::collector::CollectorConfig;
use tracemesh_runtime::config::ProcessEnv;

use crate::Failure;
use crate::bench::mesh_load::{self, LoadSettings};
use crate::bench::report::{self, Results};
use crate::bench::{ingest, readiness};

/// `tracemesh bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Rounds of each measurement; the variants alternate within each round.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub rounds: u64,
    /// Seconds each variant runs per round.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub round_secs: u64,
    /// Concurrent clients of the closed loop (overhead, efficiency).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub clients: u64,
    /// Run one part only.
    #[arg(long, value_enum)]
    pub only: Option<Part>,
    /// Also write the results (ratios and markdown table) to this file.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rewrite the results table between the markers in this file (BENCHMARKS.md).
    #[arg(long, value_name = "FILE")]
    pub update_benchmarks: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    Overhead,
    Efficiency,
    Ingest,
    Readiness,
}

impl BenchArgs {
    fn runs(&self, part: Part) -> bool {
        self.only.is_none_or(|only| only == part)
    }
}

pub async fn run(args: BenchArgs) -> Result<(), Failure> {
    tracemesh_runtime::logs::init_logs_only(&ProcessEnv, "bench", "warn")
        .map_err(|e| Failure::Usage(e.to_string()))?;
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
            .map_err(|e| Failure::Runtime(format!("cannot create {}: {e}", logs.display())))?;
        eprintln!("bench: the services' logs go to {}", logs.display());
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let collector = crate::up::start_collector(
            CollectorConfig {
                grpc_addr: SocketAddr::new(localhost, 0),
                http_addr: SocketAddr::new(localhost, 0),
                ..CollectorConfig::default()
            },
            "(ephemeral)",
            "(ephemeral)",
        )
        .await?;
        let mut outcome = Ok(());
        if args.runs(Part::Overhead) || args.runs(Part::Efficiency) {
            let settings = LoadSettings {
                rounds,
                round,
                clients: args.clients as usize,
                overhead: args.runs(Part::Overhead),
                efficiency: args.runs(Part::Efficiency),
            };
            outcome = mesh_load::run(settings, &collector, &logs, &mut results).await;
        }
        if outcome.is_ok() && args.runs(Part::Readiness) {
            outcome = readiness::run(rounds, round, &collector, &logs, &mut results).await;
        }
        crate::up::stop_collector(collector).await;
        outcome?;
    }
    if args.runs(Part::Ingest) {
        ingest::run(rounds, round, &mut results).await?;
    }

    let context = format!(
        "`tracemesh bench --rounds {} --round-secs {} --clients {}{}` on {} ({} cores, {} memory); \
         load average {} before, {} after; {:.0} s.",
        args.rounds,
        args.round_secs,
        args.clients,
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
            .map_err(|e| Failure::Runtime(format!("--output {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.update_benchmarks {
        let document = std::fs::read_to_string(path).map_err(|e| {
            Failure::Runtime(format!("--update-benchmarks {}: {e}", path.display()))
        })?;
        let updated = report::replace_between_markers(&document, &table)
            .map_err(|e| Failure::Runtime(format!("--update-benchmarks {} {e}", path.display())))?;
        std::fs::write(path, updated).map_err(|e| {
            Failure::Runtime(format!("--update-benchmarks {}: {e}", path.display()))
        })?;
    }
    Ok(())
}

/// File mistakes are usage mistakes, found before minutes of measuring.
fn check_files(args: &BenchArgs) -> Result<(), Failure> {
    if let Some(path) = &args.update_benchmarks {
        let document = std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("--update-benchmarks {}: {e}", path.display())))?;
        report::replace_between_markers(&document, "")
            .map_err(|e| Failure::Usage(format!("--update-benchmarks {} {e}", path.display())))?;
    }
    if let Some(path) = &args.output {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !parent.is_dir() {
            return Err(Failure::Usage(format!(
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
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = tracemesh_runtime::logs::civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}")
}
