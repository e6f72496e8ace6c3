//! `tracemesh run`: the main job.
//!
//! 1. Read the scenario, the `--expect` files and the `--baseline` report,
//!    if any (a mistake in any: exit 2, before anything starts).
//! 2. Start the embedded collector and the mesh (or, with `--gateway`, use a
//!    running mesh and read its traces from Tempo or Jaeger).
//! 3. Apply the scenario's faults through the services' admin endpoints.
//! 4. Drive goose load, with a live status line, reading the CPU of this
//!    process (the load generator) and of the services over the load
//!    window: the report names the bottleneck (`load::bottleneck`).
//! 5. Wait until the traces are in (no new span for a quiet period).
//!    The metrics are read before the load and here again
//!    (`run_metrics.rs`: the services' `/metrics`, or a Prometheus).
//! 6. Run every check, write the reports, print the summary.
//! 7. Stop the mesh. Exit 0 only if every check passed.
//!
//! With `--shard I/N` the run is one of N processes loading one mesh: its
//! seed and users are its share (`tracemesh_harness::load::Shard`), the
//! orphans check leaves the other shards' traces to `tracemesh report
//! merge`, and against a shared mesh (`--gateway`) the mesh-wide metrics
//! are not read, since they count every shard's requests. Every shard puts
//! the scenario's faults in and takes them out when it ends, so the last
//! shards may run their tail without faults: the checks read each trace's
//! `fault.injected` spans, not the clock, so they still hold.
//!
//! Ctrl-c during the load stops it; the checks still run on what was sent
//! and the report is marked partial (exit 1).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tracemesh_harness::checks::baseline::{self, Baseline, Tolerance};
use tracemesh_harness::collector::{CollectorConfig, RunningCollector};
use tracemesh_harness::load::bottleneck::CpuWindow;
use tracemesh_harness::load::{self, LoadPlan, LoadProgress, Workload};
use tracemesh_harness::report::model::{RunSettings, SdkExportCounts, ShardRecord};
use tracemesh_harness::report::{self, RunReport, terminal};
use tracemesh_harness::run::expectations::{self, Expectation};
use tracemesh_harness::run::settle::{self, Settled};
use tracemesh_harness::run::{RunInput, analyse};
use tracemesh_harness::scenario::Scenario;
use tracemesh_harness::sources::{EmbeddedSource, JaegerSource, TempoSource, TraceSource};
use tracemesh_mesh::{AdminClient, AdminEndpoint, AdminError, Mesh, MeshOptions, collector};
use tracemesh_runtime::config::ProcessEnv;
use tracemesh_runtime::fault::FaultConfig;
use tracemesh_runtime::topology::Service;

use crate::Failure;
use crate::cli::RunArgs;
use crate::run_metrics::{self, MetricsReader};

/// The default scenario: one injected latency, on and off, so the run
/// checks attribution against its own baseline.
const DEFAULT_SCENARIO: &str = include_str!("../scenarios/slow-inventory.yaml");

/// Goose users when neither the command line nor the scenario says.
const DEFAULT_USERS: usize = 8;

/// Think time between a user's requests when the scenario does not say.
const DEFAULT_THINK_TIME_MS: [u64; 2] = [50, 250];

/// How long the services wait before exporting a batch during a run: short,
/// so the traces are complete soon after the load stops.
const SCHEDULE_DELAY_MS: u64 = 500;

/// How long an admin call may take: a flush waits for an export.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// The mesh a run drives and where its traces are read.
struct Target<'a> {
    gateway: String,
    admin: Vec<AdminEndpoint>,
    source: &'a dyn TraceSource,
    /// Our own collector, when the run started the mesh.
    collector: Option<&'a RunningCollector>,
    /// Each service's process (name, pid), when the run started the mesh:
    /// their CPU over the load window names the bottleneck.
    service_pids: Option<Vec<(String, u32)>>,
}

/// What the run was asked to do, read once.
struct Job<'a> {
    args: &'a RunArgs,
    scenario: &'a Scenario,
    started_at: String,
    report_dir: &'a Path,
    /// The `--baseline` report, read before the run.
    baseline: Option<&'a RunReport>,
    /// The `--expect` files, read before the run.
    expectation_files: &'a [Expectation],
}

pub async fn run(args: RunArgs) -> Result<(), Failure> {
    tracemesh_runtime::logs::init_logs_only(&ProcessEnv, "run", "warn")
        .map_err(|e| Failure::Usage(e.to_string()))?;
    // Before goose or tokio see a ctrl-c: ours stops the load, never the process.
    load::interrupt::claim_ctrl_c();
    let scenario = match &args.scenario {
        Some(path) => {
            Scenario::load(path).map_err(|e| Failure::Usage(format!("--scenario {e}")))?
        }
        None => Scenario::parse(DEFAULT_SCENARIO, "slow-inventory (built in)")
            .map_err(|e| Failure::Runtime(e.to_string()))?,
    };
    if args.gateway.is_some() {
        for service in scenario.faults.keys() {
            if !args.admin.iter().any(|(s, _)| s.name() == service) {
                return Err(Failure::Usage(format!(
                    "the scenario injects faults into {service}: give its admin endpoint with \
                     --admin {service}=http://host:port"
                )));
            }
        }
    }
    let expectation_files = expectations::load_files(&args.expect)
        .map_err(|e| Failure::Usage(format!("--expect {e}")))?;
    let baseline = match &args.baseline {
        Some(path) => {
            let report =
                baseline::load(path).map_err(|e| Failure::Usage(format!("--baseline {e}")))?;
            Some(report)
        }
        None => None,
    };
    let started_at = rfc3339_now();
    let report_dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(started_at.replace(':', "-")));
    // Fail now, not after the load, if the reports cannot be written.
    let probe = report_dir.join(".writable");
    std::fs::create_dir_all(&report_dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| Failure::Usage(format!("--report-dir {}: {e}", report_dir.display())))?;
    let job = Job {
        args: &args,
        scenario: &scenario,
        started_at,
        report_dir: &report_dir,
        baseline: baseline.as_ref(),
        expectation_files: &expectation_files,
    };

    match &args.gateway {
        Some(gateway) => {
            let source: Box<dyn TraceSource> = match (&args.tempo, &args.jaeger) {
                (Some(url), _) => Box::new(TempoSource::new(url.clone())),
                (_, Some(url)) => Box::new(JaegerSource::new(url.clone())),
                _ => {
                    return Err(Failure::Usage(
                        "--gateway needs a trace source: --tempo URL or --jaeger URL".into(),
                    ));
                }
            };
            let target = Target {
                gateway: gateway.clone(),
                admin: args
                    .admin
                    .iter()
                    .map(|(service, url)| AdminEndpoint::new(*service, url.clone()))
                    .collect(),
                source: source.as_ref(),
                collector: None,
                service_pids: None,
            };
            drive(job, target).await
        }
        None => run_embedded(job).await,
    }
}

async fn run_embedded(job: Job<'_>) -> Result<(), Failure> {
    let collector =
        collector::start(CollectorConfig::ephemeral(), "(ephemeral)", "(ephemeral)").await?;
    let data_dir = tracemesh_mesh::temporary_data_dir()?;
    let mut env = collector::telemetry_env(&collector);
    env.extend([
        (
            "OTEL_TRACES_SAMPLER".to_owned(),
            "parentbased_traceidratio".to_owned(),
        ),
        (
            "OTEL_TRACES_SAMPLER_ARG".to_owned(),
            job.args.sampler_ratio.to_string(),
        ),
        (
            "OTEL_BSP_SCHEDULE_DELAY".to_owned(),
            SCHEDULE_DELAY_MS.to_string(),
        ),
        // Big enough that a burst never overflows between two exports.
        ("OTEL_BSP_MAX_QUEUE_SIZE".to_owned(), "65536".to_owned()),
        ("TRACEMESH_LOG_FORMAT".to_owned(), "json".to_owned()),
    ]);
    // `tracemesh logs --dir` and the report read the run's lines from here.
    let log_file = job.report_dir.join(tracemesh_harness::logs::RUN_LOG_FILE);
    let options = MeshOptions {
        fix_inventory_lock: job.args.fix_inventory_lock,
        fix_catalog_queries: job.args.fix_catalog_queries,
        fix_payment_pool: job.args.fix_payment_pool,
        env,
        log_file: Some(log_file.clone()),
        ..MeshOptions::new(data_dir.path())
    };
    eprintln!("starting the mesh (logs: {})", log_file.display());
    let mut mesh = match Mesh::start(&options).await {
        Ok(mesh) => mesh,
        Err(e) => {
            collector::stop(collector).await;
            return Err(e.into());
        }
    };
    let source = EmbeddedSource::new(collector.store().clone());
    let target = Target {
        gateway: mesh.gateway_url(),
        admin: mesh.admin_endpoints(),
        source: &source,
        collector: Some(&collector),
        service_pids: Some(
            Service::ALL
                .iter()
                .filter_map(|&service| Some((service.name().to_owned(), mesh.pid(service)?)))
                .collect(),
        ),
    };
    let result = drive(job, target).await;
    mesh.stop().await;
    collector::stop(collector).await;
    result
}

/// Users: the command line's, else the scenario's, else the default; of
/// those, a shard runs its share.
fn users(args: &RunArgs, scenario: &Scenario) -> usize {
    let total = args
        .users
        .map(|u| u as usize)
        .or(scenario.load.users)
        .unwrap_or(DEFAULT_USERS);
    args.shard.map_or(total, |shard| shard.users(total))
}

/// The `--fix-*` flags given, by the names the report records
/// ([`RunSettings::fixes`]), in their fixed order.
fn fixes(args: &RunArgs) -> Vec<String> {
    [
        (args.fix_inventory_lock, "inventory-lock"),
        (args.fix_catalog_queries, "catalog-queries"),
        (args.fix_payment_pool, "payment-pool"),
    ]
    .into_iter()
    .filter(|(given, _)| *given)
    .map(|(_, name)| name.to_owned())
    .collect()
}

/// Other shards of the same load drive the same mesh at the same time.
fn other_shards_alongside(args: &RunArgs) -> bool {
    args.shard.is_some_and(|shard| shard.count > 1)
}

/// Faults, load, readiness, checks, reports: the part both modes share.
async fn drive(job: Job<'_>, target: Target<'_>) -> Result<(), Failure> {
    let Job {
        args,
        scenario,
        started_at,
        report_dir,
        baseline,
        expectation_files,
    } = job;
    let base_seed = args.seed.unwrap_or_else(fresh_seed);
    let seed = args.shard.map_or(base_seed, |shard| shard.seed(base_seed));
    let admin = AdminClient::new(args.admin_token.clone(), ADMIN_TIMEOUT);
    apply_faults(scenario, &admin, &target.admin).await?;
    // The mesh's counters count every shard's requests, not this one's.
    let shared_mesh = other_shards_alongside(args) && target.collector.is_none();
    let metrics = if shared_mesh {
        eprintln!("metrics: not read (other shards load the same mesh)");
        None
    } else {
        MetricsReader::choose(
            args.prometheus.as_ref(),
            &admin,
            &target.admin,
            args.admin_token.as_deref(),
        )
        .await?
    };
    if metrics.is_none() && !shared_mesh {
        eprintln!("metrics: not read (give --admin SERVICE=URL or --prometheus URL to check them)");
    }
    let metrics_window_start = run_metrics::unix_now();
    let metrics_before = match &metrics {
        Some(reader) => Some(reader.snapshot(metrics_window_start).await),
        None => None,
    };
    let [think_min, think_max] = scenario.load.think_time_ms.unwrap_or(DEFAULT_THINK_TIME_MS);
    let plan = LoadPlan {
        gateway: target.gateway.clone(),
        users: users(args, scenario),
        increase_rate: args.increase_rate,
        run_time: args.run_time,
        rootless_share: args.rootless_share,
        parented_sampled_share: 0.5,
        think_time_min: Duration::from_millis(think_min),
        think_time_max: Duration::from_millis(think_max),
        seed,
        goose_reports: vec![report_dir.join("goose.html"), report_dir.join("goose.json")],
        workload: Workload::Shop,
    };
    let shard = match args.shard {
        Some(shard) => format!(" (shard {shard} of base seed {base_seed})"),
        None => String::new(),
    };
    eprintln!(
        "load: {} users, {:?}, scenario {}, seed {seed}{shard} -> {}",
        plan.users, args.run_time, scenario.name, target.gateway
    );
    let live = std::io::stderr().is_terminal();
    // The orphans check searches from here to after the traces settled.
    let window_start = unix_secs_now();
    let cpu = CpuWindow::start(target.service_pids.clone());
    let outcome = load::run_load(&plan, move |p: LoadProgress| show_progress(p, live))
        .await
        .map_err(|e| match e {
            load::LoadError::GatewayUnreachable { .. } => Failure::Usage(e.to_string()),
            other => Failure::Runtime(other.to_string()),
        })?;
    let bottleneck = cpu.finish();
    if live {
        eprintln!();
    }

    // Everything exported once nothing new arrives for a while.
    let settled = match target.collector {
        Some(collector) => Some(
            settle::settle_embedded(
                collector.store(),
                &outcome,
                Duration::from_millis(SCHEDULE_DELAY_MS * 3),
                Duration::from_secs(60),
            )
            .await,
        ),
        None => {
            let (quiet, deadline) = (Duration::from_secs(3), Duration::from_secs(90));
            settle::settle_remote(target.source, &outcome, quiet, deadline).await;
            None
        }
    };
    let Settled {
        spans_received,
        readiness_ms,
    } = settled.clone().unwrap_or_default();

    let window = (window_start, unix_secs_now() + 1);
    let sdk_export = sdk_export_counts(&admin, &target.admin).await;
    let run_metrics = match (&metrics, metrics_before) {
        (Some(reader), Some(before)) => {
            let after = reader.snapshot(metrics_window_start).await;
            Some(reader.readings(before, after))
        }
        _ => None,
    };
    if let Some(reader) = metrics {
        reader.stop().await;
    }
    clear_faults(scenario, &admin, &target.admin).await;
    eprintln!("checking {} requests' traces", outcome.requests.len());
    let settings = RunSettings {
        scenario: scenario.name.clone(),
        users: users(args, scenario),
        run_time_secs: args.run_time.as_secs_f64(),
        sampler_ratio: args.sampler_ratio,
        target: target.gateway.clone(),
        trace_source: match target.collector {
            Some(_) => "embedded".to_owned(),
            None => target.source.describe(),
        },
        seed,
        expectations: args
            .expect
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        fixes: fixes(args),
    };
    // What `report merge` combines: this shard's trace ids and samples.
    let shard_record = args
        .shard
        .map(|shard| ShardRecord::of(shard, base_seed, &outcome.requests, &readiness_ms));
    let mut report = analyse(RunInput {
        scenario,
        load: &outcome,
        source: target.source,
        settings,
        started_at,
        spans_received: settled.map(|_| spans_received),
        sdk_export,
        readiness_ms,
        window_unix_secs: window,
        expectation_files,
        baseline: baseline.map(|report| Baseline {
            report,
            origin: args
                .baseline
                .as_deref()
                .map_or_else(String::new, |p| p.display().to_string()),
            tolerance: Tolerance {
                ms: args.baseline_tolerance_ms,
                pct: args.baseline_tolerance_pct,
            },
            min_samples: baseline::MIN_SAMPLES,
        }),
        metrics: run_metrics,
        other_shards_alongside: other_shards_alongside(args),
    })
    .await;
    report.shard = shard_record;
    report.bottleneck = Some(bottleneck);
    // The drawn traces' log lines, from the services' log file of this run.
    if let Err(e) = tracemesh_harness::logs::attach_run_logs(&mut report.waterfalls, report_dir) {
        eprintln!("warning: the report shows no log lines: {e}");
    }
    let written = report::write_all(&report, report_dir).map_err(|e| {
        Failure::Runtime(format!(
            "cannot write the reports to {}: {e}",
            report_dir.display()
        ))
    })?;
    println!(
        "{}",
        terminal::summary_with_reports(&report, live, &written)
    );
    if report.passed() {
        Ok(())
    } else {
        Err(Failure::ChecksFailed)
    }
}

/// Asks every service to flush its spans and sums what each SDK counted.
/// `None`, with a warning, unless every service answered: a partial sum
/// would understate the losses.
async fn sdk_export_counts(
    client: &AdminClient,
    endpoints: &[AdminEndpoint],
) -> Option<SdkExportCounts> {
    if endpoints.is_empty() {
        return None;
    }
    let mut total = SdkExportCounts::default();
    for endpoint in endpoints {
        match client.flush(endpoint).await {
            Ok(s) => {
                total.spans_ended += s.spans_ended;
                total.spans_exported += s.spans_exported;
                total.spans_failed += s.spans_failed;
                // After the flush nothing is queued: the rest was dropped.
                total.spans_dropped += s.spans_not_exported;
            }
            Err(e) => {
                eprintln!("warning: cannot read the export counts: {e}");
                return None;
            }
        }
    }
    Some(total)
}

/// Replaces each service's faults with the scenario's, through its admin
/// endpoint. A refusal is the scenario's (or the flags') mistake: exit 2.
/// Puts the scenario's faults into every service whose admin endpoint the
/// run knows, and an empty configuration into the others, so a run against
/// a mesh that an earlier run (or a person) left faults in starts from the
/// scenario and nothing else.
async fn apply_faults(
    scenario: &Scenario,
    client: &AdminClient,
    endpoints: &[AdminEndpoint],
) -> Result<(), Failure> {
    for endpoint in endpoints {
        let faults = scenario
            .faults_for(endpoint.service.name())
            .unwrap_or_default();
        put_faults(client, endpoint, &faults).await?;
    }
    Ok(())
}

/// Takes the scenario's faults out again, so the mesh is left as it was
/// found (a run against `up` must not leave a broken mesh behind).
async fn clear_faults(scenario: &Scenario, client: &AdminClient, endpoints: &[AdminEndpoint]) {
    for endpoint in endpoints {
        if scenario.faults_for(endpoint.service.name()).is_none() {
            continue;
        }
        if let Err(Failure::Usage(e) | Failure::Runtime(e)) =
            put_faults(client, endpoint, &FaultConfig::default()).await
        {
            eprintln!(
                "warning: could not clear the faults of {}: {e}",
                endpoint.service
            );
        }
    }
}

async fn put_faults(
    client: &AdminClient,
    endpoint: &AdminEndpoint,
    faults: &FaultConfig,
) -> Result<(), Failure> {
    let body = serde_json::to_string(faults).map_err(|e| Failure::Runtime(e.to_string()))?;
    client
        .put_faults(endpoint, body)
        .await
        .map_err(|e: AdminError| Failure::Usage(e.to_string()))
}

fn show_progress(p: LoadProgress, live: bool) {
    if !live {
        return;
    }
    let done = if p.planned.is_zero() {
        1.0
    } else {
        (p.elapsed.as_secs_f64() / p.planned.as_secs_f64()).min(1.0)
    };
    let width = 30;
    let filled = (done * width as f64).round() as usize;
    let rps = p.requests as f64 / p.elapsed.as_secs_f64().max(0.001);
    eprint!(
        "\r[{}{}] {:>3}s/{}s  {} requests ({rps:.0}/s), {} unexpected   ",
        "#".repeat(filled),
        " ".repeat(width - filled),
        p.elapsed.as_secs(),
        p.planned.as_secs(),
        p.requests,
        p.unexpected
    );
}

/// The current time as RFC 3339 (UTC), to the second: it names the report
/// directory, where microseconds would only be noise.
fn rfc3339_now() -> String {
    tracemesh_runtime::time_format::rfc3339_utc(
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix_secs_now()),
    )
}

/// A seed no earlier run used: the clock's nanoseconds mixed with the pid.
fn fresh_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

fn unix_secs_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
