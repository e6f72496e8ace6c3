//! `tracemesh run`: the main job.
//!
//! 1. Read the scenario (a mistake in it: exit 2, before anything starts).
//! 2. Start the embedded collector and the mesh (or, with `--gateway`, use a
//!    running mesh and read its traces from Tempo or Jaeger).
//! 3. Apply the scenario's faults through the services' admin endpoints.
//! 4. Drive goose load, with a live status line.
//! 5. Wait until the traces are in (no new span for a quiet period).
//! 6. Run every check, write the reports, print the summary.
//! 7. Stop the mesh. Exit 0 only if every check passed.
//!
//! Ctrl-c during the load stops it; the checks still run on what was sent
//! and the report is marked partial (exit 1).

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tracemesh_harness::collector::{CollectorConfig, RunningCollector};
use tracemesh_harness::load::{self, LoadPlan, LoadProgress};
use tracemesh_harness::report::model::{RunSettings, SdkExportCounts};
use tracemesh_harness::report::{self, terminal};
use tracemesh_harness::run::{RunInput, analyse};
use tracemesh_harness::scenario::Scenario;
use tracemesh_harness::sources::{EmbeddedSource, JaegerSource, TempoSource, TraceSource};
use tracemesh_harness::trace::{Readiness, ReadinessPolicy, wait_polling};
use tracemesh_runtime::config::ProcessEnv;
use tracemesh_runtime::export_stats::ExportSnapshot;

use crate::Failure;
use crate::cli::RunArgs;
use crate::mesh::{Mesh, MeshOptions};

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
            if !args.admin.iter().any(|(s, _)| s == service) {
                return Err(Failure::Usage(format!(
                    "the scenario injects faults into {service}: give its admin endpoint with \
                     --admin {service}=http://host:port"
                )));
            }
        }
    }
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
            let admin: Vec<(String, String)> = args
                .admin
                .iter()
                .map(|(s, url)| (s.clone(), format!("{url}/admin/faults")))
                .collect();
            let settings = settings(&args, &scenario, gateway, &source.describe());
            drive(
                &args,
                &scenario,
                gateway,
                &admin,
                source.as_ref(),
                None,
                settings,
                started_at,
                &report_dir,
            )
            .await
        }
        None => run_embedded(&args, &scenario, started_at, &report_dir).await,
    }
}

async fn run_embedded(
    args: &RunArgs,
    scenario: &Scenario,
    started_at: String,
    report_dir: &Path,
) -> Result<(), Failure> {
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
    let data_dir = crate::up::temporary_data_dir()?;
    let mut env = crate::up::telemetry_env(&collector);
    env.extend([
        (
            "OTEL_TRACES_SAMPLER".to_owned(),
            "parentbased_traceidratio".to_owned(),
        ),
        (
            "OTEL_TRACES_SAMPLER_ARG".to_owned(),
            args.sampler_ratio.to_string(),
        ),
        (
            "OTEL_BSP_SCHEDULE_DELAY".to_owned(),
            SCHEDULE_DELAY_MS.to_string(),
        ),
        // Big enough that a burst never overflows between two exports.
        ("OTEL_BSP_MAX_QUEUE_SIZE".to_owned(), "65536".to_owned()),
        ("TRACEMESH_LOG_FORMAT".to_owned(), "json".to_owned()),
    ]);
    let options = MeshOptions {
        host: localhost,
        ports: Vec::new(),
        data_dir: data_dir.path().to_owned(),
        faults: Vec::new(),
        fault_seed: None,
        fix_inventory_lock: args.fix_inventory_lock,
        env,
        ready_timeout: Duration::from_secs(30),
        log_file: Some(report_dir.join("services.log")),
    };
    eprintln!(
        "starting the mesh (logs: {})",
        report_dir.join("services.log").display()
    );
    let mut mesh = match Mesh::start(&options).await {
        Ok(mesh) => mesh,
        Err(e) => {
            crate::up::stop_collector(collector).await;
            return Err(e);
        }
    };
    let admin: Vec<(String, String)> = crate::children::SERVICES
        .iter()
        .filter_map(|s| mesh.admin_url(s).map(|url| ((*s).to_owned(), url)))
        .collect();
    let gateway = mesh.gateway_url();
    let source = EmbeddedSource::new(collector.store().clone());
    let settings = settings(args, scenario, &gateway, "embedded");
    let result = drive(
        args,
        scenario,
        &gateway,
        &admin,
        &source,
        Some(&collector),
        settings,
        started_at,
        report_dir,
    )
    .await;
    mesh.stop().await;
    crate::up::stop_collector(collector).await;
    result
}

/// Users: the command line's, else the scenario's, else the default.
fn users(args: &RunArgs, scenario: &Scenario) -> usize {
    args.users
        .map(|u| u as usize)
        .or(scenario.load.users)
        .unwrap_or(DEFAULT_USERS)
}

fn settings(args: &RunArgs, scenario: &Scenario, gateway: &str, source: &str) -> RunSettings {
    RunSettings {
        scenario: scenario.name.clone(),
        users: users(args, scenario),
        run_time_secs: args.run_time.as_secs_f64(),
        sampler_ratio: args.sampler_ratio,
        target: gateway.to_owned(),
        trace_source: source.to_owned(),
    }
}

/// Faults, load, readiness, checks, reports: the part both modes share.
#[allow(clippy::too_many_arguments)]
async fn drive(
    args: &RunArgs,
    scenario: &Scenario,
    gateway: &str,
    admin: &[(String, String)],
    source: &dyn TraceSource,
    collector: Option<&RunningCollector>,
    settings: RunSettings,
    started_at: String,
    report_dir: &Path,
) -> Result<(), Failure> {
    apply_faults(scenario, admin, args.admin_token.as_deref()).await?;
    let [think_min, think_max] = scenario.load.think_time_ms.unwrap_or(DEFAULT_THINK_TIME_MS);
    let plan = LoadPlan {
        gateway: gateway.to_owned(),
        users: users(args, scenario),
        increase_rate: args.increase_rate,
        run_time: args.run_time,
        rootless_share: args.rootless_share,
        parented_sampled_share: 0.5,
        think_time_min: Duration::from_millis(think_min),
        think_time_max: Duration::from_millis(think_max),
        seed: args.seed,
        goose_reports: vec![report_dir.join("goose.html"), report_dir.join("goose.json")],
    };
    eprintln!(
        "load: {} users, {:?}, scenario {} -> {gateway}",
        plan.users, args.run_time, scenario.name
    );
    let live = std::io::stderr().is_terminal();
    let outcome = load::run_load(&plan, move |p: LoadProgress| show_progress(p, live))
        .await
        .map_err(|e| match e {
            load::LoadError::GatewayUnreachable { .. } => Failure::Usage(e.to_string()),
            other => Failure::Runtime(other.to_string()),
        })?;
    if live {
        eprintln!();
    }

    // Readiness: everything exported once nothing new arrives for a while.
    let mut readiness_ms = Vec::new();
    let mut spans_received = None;
    if let Some(collector) = collector {
        let store = collector.store();
        let quiet = Duration::from_millis(SCHEDULE_DELAY_MS * 3);
        if !store.wait_for_quiet(quiet, Duration::from_secs(60)).await {
            eprintln!("warning: spans still arriving after 60 s; checking what is there");
        }
        spans_received = Some(store.stats().spans_received);
        // Arrival instants, converted to wall-clock time to compare with
        // the answers' timestamps.
        let (now_instant, now_system) = (Instant::now(), SystemTime::now());
        for request in &outcome.requests {
            let Some(id) = request
                .trace_id()
                .filter(|_| request.sampled() == Some(true))
            else {
                continue;
            };
            if let Some(arrival) = store.trace_arrival(id) {
                let arrived = now_system - now_instant.duration_since(arrival.last);
                let arrived_nanos = arrived
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                readiness_ms
                    .push(arrived_nanos.saturating_sub(request.answered_unix_nanos) as f64 / 1e6);
            }
        }
    } else {
        // A remote store can only be polled: wait until the spans of the last
        // sampled traces stop changing (Tempo and Jaeger ingest in batches).
        let last: Vec<&str> = outcome
            .requests
            .iter()
            .rev()
            .filter(|r| r.sampled() == Some(true))
            .filter_map(|r| r.trace_id())
            .take(20)
            .collect();
        eprintln!(
            "waiting for {} to ingest the last traces",
            source.describe()
        );
        let policy = ReadinessPolicy {
            expected_spans: None,
            quiet: Duration::from_secs(3),
            deadline: Duration::from_secs(90),
        };
        let count = || async {
            let mut spans = 0;
            for id in &last {
                spans += source.trace(id).await.ok().flatten().map_or(0, |s| s.len());
            }
            spans
        };
        if let Readiness::TimedOut { spans } =
            wait_polling(count, &policy, Duration::from_millis(500)).await
        {
            eprintln!(
                "warning: {spans} spans of the last traces after 90 s; checking what is there"
            );
        }
    }

    let sdk_export = sdk_export_counts(admin, args.admin_token.as_deref()).await;
    eprintln!("checking {} requests' traces", outcome.requests.len());
    let report = analyse(RunInput {
        scenario,
        load: &outcome,
        source,
        settings,
        started_at,
        spans_received,
        sdk_export,
        readiness_ms,
    })
    .await;
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

/// Asks every service to flush its spans and sums what each SDK counted
/// (`POST /admin/telemetry/flush`). `None`, with a warning, unless every
/// service answered: a partial sum would understate the losses.
async fn sdk_export_counts(
    admin: &[(String, String)],
    token: Option<&str>,
) -> Option<SdkExportCounts> {
    if admin.is_empty() {
        return None;
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .ok()?;
    let mut total = SdkExportCounts::default();
    for (service, faults_url) in admin {
        let url = faults_url.replace("/admin/faults", "/admin/telemetry/flush");
        let mut request = client.post(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let snapshot = match request.send().await.and_then(|r| r.error_for_status()) {
            Ok(response) => response.json::<ExportSnapshot>().await,
            Err(e) => Err(e),
        };
        match snapshot {
            Ok(s) => {
                total.spans_ended += s.spans_ended;
                total.spans_exported += s.spans_exported;
                total.spans_failed += s.spans_failed;
                // After the flush nothing is queued: the rest was dropped.
                total.spans_dropped += s.spans_not_exported;
            }
            Err(e) => {
                eprintln!("warning: cannot read {service}'s export counts from {url}: {e}");
                return None;
            }
        }
    }
    Some(total)
}

/// PUTs each service's faults to its admin endpoint.
async fn apply_faults(
    scenario: &Scenario,
    admin: &[(String, String)],
    token: Option<&str>,
) -> Result<(), Failure> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    for (service, url) in admin {
        let Some(faults) = scenario.faults_for(service) else {
            continue;
        };
        let body = serde_json::to_string(&faults).map_err(|e| Failure::Runtime(e.to_string()))?;
        let mut request = client.put(url).body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            Failure::Usage(format!(
                "cannot reach {service}'s admin endpoint {url}: {e}"
            ))
        })?;
        if !response.status().is_success() {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            return Err(Failure::Usage(format!(
                "{service}'s admin endpoint {url} refused the scenario's faults ({status}): {text}"
            )));
        }
    }
    Ok(())
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

/// The current time as RFC 3339 (UTC, seconds).
fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = tracemesh_runtime::logs::civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
