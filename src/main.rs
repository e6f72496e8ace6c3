//! `tracemesh`: the one binary of the mesh (the HotROD pattern).
//!
//! - `tracemesh service <name>` runs one service in this process
//!   ([`service_cmd`]); a process is one service, because the `tracing`
//!   subscriber, and so `service.name`, is process-global.
//! - `tracemesh up` starts all five as child processes of itself plus the
//!   embedded collector, and stops them all on ctrl-c or SIGTERM ([`up`];
//!   the mesh itself is the `tracemesh-mesh` library).
//! - `tracemesh run` is the main job: mesh, goose load, every check,
//!   reports ([`run_cmd`]).
//! - `tracemesh collector` runs the embedded collector and trace store alone
//!   ([`collector_cmd`]).
//! - `tracemesh bench` measures tracing overhead, mesh efficiency,
//!   collector ingest and trace readiness (`tracemesh_benches::suite`).
//! - `tracemesh probe <url>` is the container health check ([`probe_cmd`]).
//! - `tracemesh logs <trace-id>` prints one trace's log lines from every
//!   service ([`logs_cmd`]).
//! - `tracemesh trace <trace-id>` prints one trace as a waterfall
//!   ([`trace_cmd`]); `tracemesh traces [QUERY]` lists the latest traces
//!   ([`traces_cmd`]); both read the store `--collector`, `--tempo` or
//!   `--jaeger` names ([`view_source`]).
//! - `tracemesh report merge DIR...` combines the reports of a load's
//!   shards (`run --shard I/N`) into one ([`report_cmd`]).
//! - `tracemesh lab list | show N | check N | preflight` is the workshop's
//!   companion: the labs embedded, the learner's work checked ([`lab`]).
//!
//! The services themselves live in the library crates under `services/`;
//! this binary only parses flags and calls them ([`cli`] has every flag).

mod cli;
mod collector_cmd;
mod lab;
mod logs_cmd;
mod probe_cmd;
mod report_cmd;
mod run_cmd;
mod run_metrics;
mod service_cmd;
mod trace_cmd;
mod traces_cmd;
mod up;
mod view_source;

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc, for every subcommand: decoding an
/// OTLP export makes thousands of small allocations that die together, and
/// glibc's malloc spent over a third of the collector's time on them
/// (perf, BENCHMARKS.md). One binary, one allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

/// Exit code for a usage mistake (bad flag, bad file, bad variable), as
/// clap itself uses for unknown flags.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tracemesh: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Service(cmd) => service_cmd::run(cmd).await,
            cli::Command::Up(args) => up::run(args).await,
            cli::Command::Collector(args) => collector_cmd::run(args).await,
            cli::Command::Run(args) => run_cmd::run(args).await,
            cli::Command::Bench(args) => {
                tracemesh_benches::suite::run(args)
                    .await
                    .map_err(|e| match e {
                        tracemesh_benches::suite::BenchError::Usage(m) => Failure::Usage(m),
                        tracemesh_benches::suite::BenchError::Runtime(m) => Failure::Runtime(m),
                    })
            }
            cli::Command::Probe(args) => probe_cmd::run(args).await,
            cli::Command::Logs(args) => logs_cmd::run(args).await,
            cli::Command::Trace(args) => trace_cmd::run(args).await,
            cli::Command::Traces(args) => traces_cmd::run(args).await,
            cli::Command::Report(cli::ReportCommand::Merge(args)) => report_cmd::merge(args),
            cli::Command::Lab(args) => lab::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("tracemesh: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Runtime(message)) => {
            eprintln!("tracemesh: {message}");
            ExitCode::FAILURE
        }
        // The summary already said which checks failed.
        Err(Failure::ChecksFailed) => ExitCode::FAILURE,
    }
}

/// Why a command failed: the user's mistake (exit 2) or a runtime failure (exit 1).
#[derive(Debug)]
pub enum Failure {
    Usage(String),
    Runtime(String),
    /// `run` completed and reported, but a check failed.
    ChecksFailed,
}

/// A mesh or collector that cannot start is a runtime failure; the error
/// names what failed and, where a flag chose it, the flag.
impl From<tracemesh_mesh::MeshError> for Failure {
    fn from(e: tracemesh_mesh::MeshError) -> Failure {
        Failure::Runtime(e.to_string())
    }
}
