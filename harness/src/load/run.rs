//! [`run_load`]: check the gateway answers, turn the plan into a goose
//! configuration, run the "shop" scenario, report progress, and hand back
//! every request sent.
//!
//! Goose is configured in code (`GooseAttack::initialize_with_config`),
//! never from the process's command line: the `tracemesh` binary owns that.
//!
//! Goose logs through the `log` crate, not `tracing`, and nothing here
//! bridges the two, on purpose. If the process installed its `tracing`
//! subscriber with tracing-subscriber's `init`/`try_init` (as the mesh's
//! telemetry does), that already installed a `log` -> `tracing` bridge
//! (its default `tracing-log` feature), so goose's records arrive as
//! `tracing` events, and goose's own attempt to install a logger fails
//! quietly. Without a subscriber, goose installs its console logger, which
//! `quiet` below limits to warnings. Either way there is nothing to wire.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::GooseAttack;
use goose::config::GooseConfiguration;
use tokio::sync::oneshot;
use tracemesh_runtime::grpc_client::error_chain;

use super::error::LoadError;
use super::interrupt;
use super::model::{LoadOutcome, LoadPlan, LoadProgress, Workload};
use super::record::Recorder;
use super::scenario::{ShopContext, shop_scenario};

/// How long the up-front `GET /healthz` may take before the gateway is
/// declared unreachable. Liveness never calls downstream, so a live gateway
/// answers in milliseconds.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// How often `progress` is called while the load runs.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Runs the load `plan` describes against its gateway.
///
/// Fails fast, before any load, on an unreachable gateway, an invalid plan
/// or a goose report that cannot be created. Calls `progress` about once a
/// second while the load runs, and once more at the end. A ctrl-c ends the
/// load early: the result is still `Ok`, with `interrupted` set and the
/// requests sent so far (see [`interrupt`] for exactly what happens).
pub async fn run_load(
    plan: &LoadPlan,
    progress: impl Fn(LoadProgress) + Send + Sync + 'static,
) -> Result<LoadOutcome, LoadError> {
    let configuration = goose_configuration(plan)?;
    check_gateway(&plan.gateway, plan.workload.health_path()).await?;
    create_report_folders(&plan.goose_reports)?;

    interrupt::claim_ctrl_c();
    let interrupts_before = interrupt::interrupt_count();

    let recorder = Arc::new(Recorder::default());
    let context = Arc::new(ShopContext {
        seed: plan.seed,
        rootless_share: plan.rootless_share,
        parented_sampled_share: plan.parented_sampled_share,
        recorder: recorder.clone(),
        workload: plan.workload.clone(),
    });
    let scenario = shop_scenario(context, (plan.think_time_min, plan.think_time_max))?;
    let attack = GooseAttack::initialize_with_config(configuration)?.register_scenario(scenario);

    let started = Instant::now();
    let (stop, stopped) = oneshot::channel();
    let watcher = tokio::spawn(watch_load(LoadWatch {
        progress,
        recorder: recorder.clone(),
        started,
        planned: planned_duration(plan),
        interrupts_before,
        stopped,
    }));

    let result = attack.execute().await;
    let duration = started.elapsed();
    // The watcher makes its last `progress` call, then ends; wait for it so
    // no call comes after `run_load` returned.
    let _ = stop.send(());
    if let Err(error) = watcher.await
        && error.is_panic()
    {
        // The caller's `progress` panicked: let the panic be theirs.
        std::panic::resume_unwind(error.into_panic());
    }
    result?;

    let interrupted =
        interrupt::interrupt_count() > interrupts_before || goose::is_killswitch_triggered();
    Ok(LoadOutcome {
        requests: recorder.take(),
        duration,
        interrupted,
        goose_reports: plan.goose_reports.clone(),
    })
}

/// The goose configuration for `plan`, or the first invalid setting.
fn goose_configuration(plan: &LoadPlan) -> Result<GooseConfiguration, LoadError> {
    let gateway = reqwest::Url::parse(&plan.gateway)
        .map_err(|error| LoadError::config("gateway", &plan.gateway, error.to_string()))?;
    if !matches!(gateway.scheme(), "http" | "https") {
        return Err(LoadError::config(
            "gateway",
            &plan.gateway,
            "must be an http:// or https:// URL",
        ));
    }
    if let Workload::Get { path } = &plan.workload
        && !path.starts_with('/')
    {
        return Err(LoadError::config(
            "workload path",
            path,
            "must start with /",
        ));
    }
    if plan.users == 0 {
        return Err(LoadError::config("users", plan.users, "must be at least 1"));
    }
    if !(plan.increase_rate.is_finite() && plan.increase_rate > 0.0) {
        return Err(LoadError::config(
            "increase_rate",
            plan.increase_rate,
            "must be above 0 users per second",
        ));
    }
    if plan.run_time.is_zero() {
        return Err(LoadError::config(
            "run_time",
            format!("{:?}", plan.run_time),
            "must be above 0",
        ));
    }
    for (option, share) in [
        ("rootless_share", plan.rootless_share),
        ("parented_sampled_share", plan.parented_sampled_share),
    ] {
        if !(0.0..=1.0).contains(&share) {
            return Err(LoadError::config(
                option,
                share,
                "must be a share between 0 and 1",
            ));
        }
    }
    if plan.think_time_min > plan.think_time_max {
        return Err(LoadError::config(
            "think_time_min",
            format!("{:?}", plan.think_time_min),
            format!("must not exceed think_time_max ({:?})", plan.think_time_max),
        ));
    }
    let mut report_file = Vec::new();
    for path in &plan.goose_reports {
        let text = path.to_str().ok_or_else(|| LoadError::ReportFile {
            path: path.clone(),
            reason: "goose takes report paths as UTF-8 text".to_owned(),
        })?;
        report_file.push(text.to_owned());
    }

    // `GooseConfiguration` has a private field, so it is filled in place
    // rather than with a struct literal. Unset options keep goose's defaults.
    let mut configuration = GooseConfiguration::default();
    configuration.host = Some(plan.gateway.clone());
    configuration.users = Some(plan.users);
    configuration.increase_rate = Some(plan.increase_rate.to_string());
    configuration.run_time = Some(run_time_seconds(plan.run_time).to_string());
    // Several reports in one run: the extension picks the format.
    configuration.report_file = report_file;
    // The tracemesh run prints its own summary; goose's table would
    // interleave with it. Its reports are still written.
    configuration.no_print_metrics = true;
    // Goose resets its figures once every user has started, so its report
    // would leave out the ramp that the harness's record includes; keep
    // them, so both count the same requests.
    configuration.no_reset_metrics = true;
    configuration.quiet = 1;
    // Goose's telnet controller listens on port 5116 by default: nobody
    // drives this run by hand, and two runs would fight over the port.
    configuration.no_telnet = true;
    Ok(configuration)
}

/// Goose takes whole seconds: a fraction is rounded up, so the load runs at
/// least as long as planned.
fn run_time_seconds(run_time: Duration) -> u64 {
    run_time.as_secs() + u64::from(run_time.subsec_nanos() > 0)
}

/// The ramp (users / rate) plus the run time, as goose will run it.
fn planned_duration(plan: &LoadPlan) -> Duration {
    let ramp = Duration::from_secs_f64(plan.users as f64 / plan.increase_rate);
    ramp + Duration::from_secs(run_time_seconds(plan.run_time))
}

/// One `GET` of `path` (the gateway's `/healthz`, or a one-route run's
/// route): is anything that answers like the target there?
async fn check_gateway(gateway: &str, path: &str) -> Result<(), LoadError> {
    let url = format!(
        "{}/{}",
        gateway.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    let unreachable = |reason: String| LoadError::GatewayUnreachable {
        url: url.clone(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(HEALTH_TIMEOUT)
        .build()
        .map_err(|error| unreachable(error_chain(&error)))?;
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(unreachable(format!("answered {}", response.status()))),
        Err(error) => Err(unreachable(error_chain(&error))),
    }
}

/// Goose creates report files but not their folders.
fn create_report_folders(reports: &[std::path::PathBuf]) -> Result<(), LoadError> {
    for report in reports {
        let Some(folder) = report.parent().filter(|p| !p.as_os_str().is_empty()) else {
            continue;
        };
        std::fs::create_dir_all(folder).map_err(|error| LoadError::ReportFile {
            path: report.clone(),
            reason: format!(
                "cannot create the folder {}: {error}",
                Path::display(folder)
            ),
        })?;
    }
    Ok(())
}

/// What the progress task needs.
struct LoadWatch<F> {
    progress: F,
    recorder: Arc<Recorder>,
    started: Instant,
    planned: Duration,
    interrupts_before: u64,
    stopped: oneshot::Receiver<()>,
}

/// Calls `progress` every [`PROGRESS_EVERY`] until told the load stopped,
/// then once more with the final figures.
async fn watch_load<F: Fn(LoadProgress)>(mut watch: LoadWatch<F>) {
    let snapshot = |watch: &LoadWatch<F>| {
        let (requests, unexpected) = watch.recorder.counts();
        LoadProgress {
            elapsed: watch.started.elapsed(),
            planned: watch.planned,
            requests,
            unexpected,
        }
    };
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // An interval's first tick is immediate: nothing to report yet.
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = &mut watch.stopped => break,
            _ = ticker.tick() => {
                keep_killswitch_tripped(watch.interrupts_before);
                (watch.progress)(snapshot(&watch));
            }
        }
    }
    (watch.progress)(snapshot(&watch));
}

/// Goose clears its killswitch when a run starts. A ctrl-c that came in
/// between `run_load`'s start and goose's would be forgotten and the load
/// would run on: trip it again, at most a second late.
fn keep_killswitch_tripped(interrupts_before: u64) {
    if interrupt::interrupt_count() > interrupts_before && !goose::is_killswitch_triggered() {
        goose::trigger_killswitch("ctrl-c");
    }
}
