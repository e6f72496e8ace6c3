//! Every flag of the `tracemesh` binary. Each flag can also be set through
//! the environment variable named beside it in `--help`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::run_metrics::PrometheusChoice;
use clap::{Args, Parser, Subcommand};
use tracemesh_runtime::service::CommonArgs;
use tracemesh_runtime::topology::{Service, TOPOLOGY};

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
    /// The main job: start the mesh, drive goose load, check every trace, report.
    Run(RunArgs),
    /// The performance benchmark: tracing overhead, mesh efficiency, collector
    /// ingest, trace readiness (alternating rounds; prints a markdown table).
    Bench(tracemesh_benches::suite::BenchArgs),
    /// Health check for containers: exit 0 if the URL answers (HTTP 2xx, or a
    /// TCP connection accepted), 1 if not, 2 if the URL is malformed.
    Probe(ProbeArgs),
    /// Print one trace's log lines from every service, in time order, from a
    /// run's report directory or from the embedded collector.
    Logs(LogsArgs),
    /// Print one trace as a waterfall: the span tree, services, bars, start,
    /// duration and self time, critical path, errors and injected faults.
    Trace(TraceArgs),
    /// List the latest traces, optionally those a TraceQL query matches.
    Traces(TracesArgs),
    /// Work on run reports: `report merge` combines the shards of a load.
    #[command(subcommand)]
    Report(ReportCommand),
    /// The workshop's ten labs: list them, show one, check your work,
    /// check the laptop (`lab preflight`).
    Lab(LabArgs),
}

/// `tracemesh lab [--lang L] ...`.
#[derive(Debug, Clone, Args)]
pub struct LabArgs {
    /// The language of the labs and of this command's messages: en,
    /// zh-Hans or zh-Hant [default: from LC_ALL, LC_MESSAGES or LANG].
    #[arg(long, global = true, value_name = "LANG", value_parser = crate::lab::lang::Lang::parse_flag)]
    pub lang: Option<crate::lab::lang::Lang>,
    #[command(subcommand)]
    pub command: LabCommand,
}

/// `tracemesh lab ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum LabCommand {
    /// The ten labs, their minutes, and a ✓ for each one passed here.
    List(LabListArgs),
    /// Print lab N in your language.
    Show(LabShowArgs),
    /// Check your work on lab N against real traces, files and reports:
    /// exit 0 when it passes, 1 when something is missing (the hint says what).
    Check(LabCheckArgs),
    /// Check this laptop: Rust, free ports, free disk; Docker and
    /// Prometheus are reported but optional.
    Preflight(LabPreflightArgs),
}

/// `tracemesh lab list`.
#[derive(Debug, Clone, Args)]
pub struct LabListArgs {
    /// The working directory whose progress file is read.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

/// `tracemesh lab show N`.
#[derive(Debug, Clone, Args)]
pub struct LabShowArgs {
    /// The lab's number, 1 to 10.
    #[arg(value_parser = clap::value_parser!(u8).range(1..=10))]
    pub number: u8,
}

/// `tracemesh lab check N`.
#[derive(Debug, Clone, Args)]
pub struct LabCheckArgs {
    /// The lab's number, 1 to 10.
    #[arg(value_parser = clap::value_parser!(u8).range(1..=10))]
    pub number: u8,
    /// A trace to check (repeatable); by default the newest fitting traces
    /// in the collector.
    #[arg(long = "trace", value_name = "ID")]
    pub traces: Vec<String>,
    /// The collector's HTTP URL (it serves Tempo's API).
    #[arg(long, default_value = "http://127.0.0.1:4318")]
    pub collector: String,
    /// The working directory: its files, its `reports/`, its progress file.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Lab 6: your expected tree; by default the `*.yaml` files of the
    /// working directory that parse as one.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Lab 9: the compose stack's gateway.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub gateway: String,
    /// Lab 8: a service's admin URL, whose /metrics holds exemplars
    /// (`order=http://host:port`, repeatable) [default: ports 9100 to 9104
    /// of 127.0.0.1, as `tracemesh up --admin-port-base 9100` binds them].
    #[arg(long = "admin", value_name = "SERVICE=URL", value_parser = parse_service_url)]
    pub admin: Vec<(Service, String)>,
}

/// `tracemesh lab preflight`.
#[derive(Debug, Clone, Args)]
pub struct LabPreflightArgs {
    /// Where the free disk is measured.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

/// `tracemesh report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Combine the reports of a load's shards (`run --shard I/N`) into one:
    /// verdict.json, junit.xml, report.html and summary.txt. Exit 0 if every
    /// check passed, 1 if one failed (a missing shard, or two shards that
    /// started the same trace, fails the `shards` check), 2 for a directory
    /// without a readable verdict.json, shards of different N, or one shard
    /// given twice.
    Merge(MergeArgs),
}

/// `tracemesh report merge DIR... [--output DIR]`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' report directories (each holds a verdict.json).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where the merged report goes; by default reports/merged-<date-time>.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// Where `trace` and `traces` read: the embedded collector unless
/// `--tempo` or `--jaeger` says otherwise.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("store").args(["collector", "tempo", "jaeger"])))]
pub struct StoreArgs {
    /// The embedded collector's HTTP URL (it serves Tempo's API).
    #[arg(long, default_value = "http://127.0.0.1:4318")]
    pub collector: String,
    /// A Tempo's HTTP API (`http://localhost:3200`).
    #[arg(long)]
    pub tempo: Option<String>,
    /// A Jaeger's query API (`http://localhost:16686`), read through api_v3.
    #[arg(long)]
    pub jaeger: Option<String>,
}

/// `tracemesh trace <trace-id>`.
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// The trace id: 1 to 32 hex digits.
    pub trace_id: String,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Show each span's attributes (and status message) under it.
    #[arg(short, long)]
    pub attributes: bool,
    /// Show each span's resource attributes under it.
    #[arg(long)]
    pub resource: bool,
}

/// `tracemesh traces [QUERY]`.
#[derive(Debug, Clone, Args)]
pub struct TracesArgs {
    /// A TraceQL query, e.g. `{ status = error }` (Tempo and the collector).
    #[arg(conflicts_with = "query_flag")]
    pub query: Option<String>,
    /// The same TraceQL query, as a flag.
    #[arg(long = "query", id = "query_flag", value_name = "TRACEQL")]
    pub query_flag: Option<String>,
    /// At most this many traces, newest first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `tracemesh logs <trace-id>`: exactly one source.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["dir", "collector"])))]
pub struct LogsArgs {
    /// The trace id: 1 to 32 hex digits (shorter ids are zero-padded, as
    /// Tempo reads them).
    pub trace_id: String,
    /// A `tracemesh run` report directory: reads the services' JSON log
    /// lines it holds.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The embedded collector's HTTP URL (`http://127.0.0.1:4318`): reads
    /// its `/api/logs/{trace_id}`.
    #[arg(long)]
    pub collector: Option<String>,
}

/// `tracemesh probe`.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// `http://host:port/path` (GET, healthy on 2xx) or `tcp://host:port`.
    pub url: String,
    /// Give up (unhealthy) after this many milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
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
    #[arg(long, env = "TRACEMESH_GATEWAY_PORT", default_value_t = Service::Gateway.default_addr().port())]
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
    /// The admin endpoints at PORT and the four ports after it, in topology
    /// order: gateway, order, user, inventory, payment (9100..9104 for
    /// 9100). Free ports when unset.
    #[arg(long, env = "TRACEMESH_ADMIN_PORT_BASE", value_name = "PORT", value_parser = parse_admin_port_base)]
    pub admin_port_base: Option<u16>,
    /// Directory for the services' SQLite files; a fresh temporary one when unset.
    #[arg(long, env = "TRACEMESH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A fault file for one service, as `service=path` (repeatable).
    #[arg(long = "faults", value_name = "SERVICE=FILE", value_parser = parse_service_file)]
    pub faults: Vec<(Service, PathBuf)>,
    /// Seed for every service's fault decisions.
    #[arg(long, env = "TRACEMESH_FAULT_SEED")]
    pub fault_seed: Option<u64>,
    /// Remove the planted bottleneck in inventory (the warehouse lock).
    #[arg(long, env = "TRACEMESH_FIX_INVENTORY_LOCK")]
    pub fix_inventory_lock: bool,
    /// Remove the planted N+1 in inventory's catalog (one join instead of a
    /// query per product).
    #[arg(long, env = "TRACEMESH_FIX_CATALOG_QUERIES")]
    pub fix_catalog_queries: bool,
    /// Remove the planted pool of one in order's client to payment.
    #[arg(long, env = "TRACEMESH_FIX_PAYMENT_POOL")]
    pub fix_payment_pool: bool,
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
    /// Start a service that exits on its own again (same ports, same data),
    /// after 1 s, doubling to 30 s while it keeps crashing within 10 s. Off by
    /// default: a service that stays down is what a partial outage looks like.
    #[arg(long, env = "TRACEMESH_RESTART")]
    pub restart: bool,
    /// `start`: run the `prometheus` binary on PATH (Debian's package)
    /// scraping every service's /metrics each second, exemplars kept, and
    /// print its URL. Without it each service's /metrics is still there.
    #[arg(long, env = "TRACEMESH_PROMETHEUS", value_name = "start", value_parser = parse_prometheus)]
    pub prometheus: Option<PrometheusChoice>,
}

/// `tracemesh run`. Load flags follow goose's names.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Concurrent goose users [default: the scenario's, else 8].
    #[arg(short = 'u', long, env = "TRACEMESH_USERS", value_parser = clap::value_parser!(u64).range(1..))]
    pub users: Option<u64>,
    /// Users started per second.
    #[arg(
        short = 'r',
        long,
        env = "TRACEMESH_INCREASE_RATE",
        default_value_t = 4.0
    )]
    pub increase_rate: f64,
    /// How long the load runs, e.g. 20s, 2m, 1m30s.
    #[arg(short = 't', long, env = "TRACEMESH_RUN_TIME", default_value = "20s", value_parser = parse_run_time)]
    pub run_time: std::time::Duration,
    /// The gateway's sampler ratio (parentbased_traceidratio). With --gateway,
    /// the ratio the target mesh is configured with.
    #[arg(long, env = "TRACEMESH_SAMPLER_RATIO", default_value_t = 0.5, value_parser = parse_ratio)]
    pub sampler_ratio: f64,
    /// A fault scenario file (YAML); by default the built-in slow-inventory:
    /// 40 ms in inventory's Reserve, 4 s on, 4 s off.
    #[arg(long, env = "TRACEMESH_SCENARIO")]
    pub scenario: Option<PathBuf>,
    /// Where the reports go; by default reports/<date-time>.
    #[arg(long, env = "TRACEMESH_REPORT_DIR")]
    pub report_dir: Option<PathBuf>,
    /// Drive an already running mesh at this gateway URL instead of starting one.
    #[arg(long, env = "TRACEMESH_GATEWAY")]
    pub gateway: Option<String>,
    /// With --gateway: read traces from Tempo at this URL (e.g. http://localhost:3200).
    #[arg(
        long,
        env = "TRACEMESH_TEMPO",
        conflicts_with = "jaeger",
        requires = "gateway"
    )]
    pub tempo: Option<String>,
    /// With --gateway: read traces from Jaeger's api_v3 at this URL (e.g. http://localhost:16686).
    #[arg(long, env = "TRACEMESH_JAEGER", requires = "gateway")]
    pub jaeger: Option<String>,
    /// With --gateway: a service's admin URL, to apply the scenario's faults
    /// (`inventory=http://host:port`, repeatable).
    #[arg(long = "admin", value_name = "SERVICE=URL", value_parser = parse_service_url)]
    pub admin: Vec<(Service, String)>,
    /// With --gateway: the admin token of the target's services.
    #[arg(long, env = "TRACEMESH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Read the metrics through a Prometheus: `start` runs the `prometheus`
    /// binary on PATH (Debian's package) scraping the mesh every second with
    /// exemplar storage on; a URL uses a Prometheus that already scrapes the
    /// target's services. Without it the run reads each service's /metrics.
    #[arg(long, env = "TRACEMESH_PROMETHEUS", value_name = "start|URL", value_parser = parse_prometheus)]
    pub prometheus: Option<PrometheusChoice>,
    /// Share of requests sent without a traceparent (the gateway samples them).
    #[arg(long, default_value_t = 0.5, value_parser = parse_ratio)]
    pub rootless_share: f64,
    /// Seed of the load's choices and trace ids; a fresh one each run unless
    /// given (the report records it, so `--seed N` replays a run). Fresh by
    /// default because the same trace ids sent twice to one trace store
    /// would join the earlier run's traces.
    #[arg(long, env = "TRACEMESH_SEED")]
    pub seed: Option<u64>,
    /// Run shard I of a load split over N processes (0-based, `0/3`): its
    /// seed derived from the seed and I, its share of --users (U / N, one
    /// more for the first U % N shards, at least one). Combine the shards'
    /// reports with `tracemesh report merge`.
    #[arg(long, env = "TRACEMESH_SHARD", value_name = "I/N")]
    pub shard: Option<tracemesh_harness::load::Shard>,
    /// Remove the planted bottleneck in inventory (the warehouse lock) in
    /// the mesh the run starts.
    #[arg(long, env = "TRACEMESH_FIX_INVENTORY_LOCK", conflicts_with = "gateway")]
    pub fix_inventory_lock: bool,
    /// Add an expected tree of your own (the YAML format of
    /// `harness/expectations/`; repeatable). A file whose `endpoint:` and
    /// `outcome:` status match a shipped tree replaces it for this run; its
    /// verdict is `full_tree <file name without .yaml>`.
    #[arg(long, value_name = "FILE")]
    pub expect: Vec<PathBuf>,
    /// Remove the planted N+1 in inventory's catalog in the mesh the run
    /// starts.
    #[arg(
        long,
        env = "TRACEMESH_FIX_CATALOG_QUERIES",
        conflicts_with = "gateway"
    )]
    pub fix_catalog_queries: bool,
    /// Remove the planted pool of one in order's client to payment in the
    /// mesh the run starts.
    #[arg(long, env = "TRACEMESH_FIX_PAYMENT_POOL", conflicts_with = "gateway")]
    pub fix_payment_pool: bool,
    /// Compare with an earlier run (a clean one, usually): its report directory
    /// or its verdict.json. Critical-path self time per service and operation
    /// and latency per endpoint (p50, p90, traces without injected faults)
    /// must not grow beyond the tolerance.
    #[arg(long, env = "TRACEMESH_BASELINE", value_name = "DIR_OR_FILE")]
    pub baseline: Option<PathBuf>,
    /// With --baseline: growth allowed in milliseconds. A figure fails only
    /// when it grows by more than this AND more than --baseline-tolerance-pct.
    #[arg(long, env = "TRACEMESH_BASELINE_TOLERANCE_MS", value_name = "MS",
          default_value_t = tracemesh_harness::checks::baseline::DEFAULT_TOLERANCE_MS,
          value_parser = parse_non_negative)]
    pub baseline_tolerance_ms: f64,
    /// With --baseline: growth allowed in percent of the baseline's figure.
    #[arg(long, env = "TRACEMESH_BASELINE_TOLERANCE_PCT", value_name = "PERCENT",
          default_value_t = tracemesh_harness::checks::baseline::DEFAULT_TOLERANCE_PCT,
          value_parser = parse_non_negative)]
    pub baseline_tolerance_pct: f64,
}

/// A first admin port that leaves room for one port per service.
fn parse_admin_port_base(raw: &str) -> Result<u16, String> {
    let last_offset = (TOPOLOGY.len() - 1) as u16;
    let highest = u16::MAX - last_offset;
    match raw.trim().parse::<u16>() {
        Ok(base) if (1..=highest).contains(&base) => Ok(base),
        _ => Err(format!(
            "{raw:?} is not a port from 1 to {highest}: the {} admin ports are PORT..PORT+{last_offset}",
            TOPOLOGY.len()
        )),
    }
}

fn parse_non_negative(raw: &str) -> Result<f64, String> {
    let value: f64 = raw.parse().map_err(|e| format!("{raw:?}: {e}"))?;
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(format!("{value} is not a non-negative number"))
    }
}

fn parse_ratio(raw: &str) -> Result<f64, String> {
    let ratio: f64 = raw.parse().map_err(|e| format!("{raw:?}: {e}"))?;
    if (0.0..=1.0).contains(&ratio) {
        Ok(ratio)
    } else {
        Err(format!("{ratio} is not between 0 and 1"))
    }
}

/// Goose's duration format: `90`, `90s`, `2m`, `1h`, `1m30s`.
fn parse_run_time(raw: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{raw:?} is not a duration like 20s, 2m or 1m30s");
    if let Ok(secs) = raw.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    let (mut total, mut number) = (0u64, String::new());
    for c in raw.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs(total))
}

fn parse_prometheus(raw: &str) -> Result<PrometheusChoice, String> {
    match raw.trim() {
        "start" => Ok(PrometheusChoice::Start),
        url if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(PrometheusChoice::Url(url.trim_end_matches('/').to_owned()))
        }
        other => Err(format!(
            "{other:?} is neither `start` nor an http:// or https:// URL"
        )),
    }
}

fn parse_service_url(raw: &str) -> Result<(Service, String), String> {
    let (service, url) = raw
        .split_once('=')
        .ok_or_else(|| format!("{raw:?} is not SERVICE=URL"))?;
    Ok((service.parse()?, url.trim_end_matches('/').to_owned()))
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
    /// Longest string or bytes attribute value kept, in bytes; longer ones are
    /// cut (at a UTF-8 boundary) and counted as `attributes_truncated` in
    /// `/api/stats`.
    #[arg(
        long,
        env = "TRACEMESH_COLLECTOR_MAX_ATTRIBUTE_BYTES",
        default_value_t = tracemesh_harness::collector::DEFAULT_MAX_ATTRIBUTE_BYTES,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_attribute_bytes: usize,
    /// Spans kept in memory before the oldest traces are evicted (and counted).
    #[arg(long, env = "TRACEMESH_COLLECTOR_MAX_SPANS", default_value_t = tracemesh_harness::store::DEFAULT_MAX_SPANS)]
    pub max_spans: usize,
    /// Copy every export to this upstream OTLP/gRPC endpoint (a collector or Tempo).
    #[arg(long, env = "TRACEMESH_COLLECTOR_FORWARD_TO")]
    pub forward_to: Option<String>,
}

fn parse_service_file(raw: &str) -> Result<(Service, PathBuf), String> {
    let (service, path) = raw
        .split_once('=')
        .ok_or_else(|| format!("{raw:?} is not SERVICE=FILE"))?;
    Ok((service.parse()?, PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_times_read_like_gooses() {
        assert_eq!(parse_run_time("20s").unwrap().as_secs(), 20);
        assert_eq!(parse_run_time("90").unwrap().as_secs(), 90);
        assert_eq!(parse_run_time("1m30s").unwrap().as_secs(), 90);
        assert_eq!(parse_run_time("1h").unwrap().as_secs(), 3600);
        for bad in ["", "0s", "20x", "s", "1m30"] {
            assert!(parse_run_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ratios_must_be_fractions() {
        assert_eq!(parse_ratio("0.25").unwrap(), 0.25);
        assert!(parse_ratio("1.5").is_err());
        assert!(parse_ratio("x").is_err());
    }

    #[test]
    fn baseline_tolerances_are_non_negative_numbers() {
        assert_eq!(parse_non_negative("7.5").unwrap(), 7.5);
        assert_eq!(parse_non_negative("0").unwrap(), 0.0);
        for bad in ["-1", "x", "inf", "NaN"] {
            assert!(parse_non_negative(bad).is_err(), "{bad}");
        }
    }
}
