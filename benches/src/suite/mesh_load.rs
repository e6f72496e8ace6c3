//! Instrumentation overhead and mesh efficiency: checkouts against meshes
//! (and hello-world requests against one axum hop), the variants
//! alternating round by round.
//!
//! - Overhead ([`super::overhead`]): the mesh exporting every span (sampler
//!   `always_on`, OTLP/gRPC to a `tracemesh collector` process, the SDK's
//!   default batch settings) against the same mesh with
//!   `OTEL_SDK_DISABLED=true`; each round runs an open loop at `--rate`
//!   and then a closed loop at saturation, reading the CPU of the services,
//!   of this process and of the collector before and after each run.
//! - Efficiency: the traced mesh's closed-loop checkout rate times its hops
//!   per checkout (the SERVER spans in the trace of a real checkout: every
//!   handled request is one hop) against the rate of a single axum
//!   hello-world hop driven by the same client loop: the practical limit
//!   on this machine.
//!
//! Each mesh has a fresh data directory whose CAB-004 stock
//! `start_mesh` raises to 10 million, so every round runs its full length;
//! the rounds still share that stock out (half to each loop when both run),
//! so no checkout can sell out.

use std::path::Path;
use std::time::Duration;

use crate::hello::HelloServer;
use crate::load::{self, MakeRequest};
use tracemesh_harness::model::SpanKind;
use tracemesh_harness::sources::{TempoSource, TraceSource};
use tracemesh_harness::stats::{median, percentile};
use tracemesh_runtime::topology::Service;

use super::collector_process::CollectorProcess;
use super::overhead::{self, CpuMeter, Run, Shape};
use super::report::{Results, Row};
use super::{CAB_004_STOCK, round_order};
use crate::suite::BenchError;

/// Checkouts left unsold per mesh, so a miscount never reaches 409s.
const STOCK_MARGIN: u64 = 100;

/// The traced mesh's exporter schedule delay: the SDK's default.
const SCHEDULE_DELAY: Duration = Duration::from_millis(5000);

/// After a mesh's run, how long the CPU reading waits: the traced
/// exporters send what the run left queued within one schedule delay, and
/// that work is the run's (read at once, it would land in the next run's
/// window). The untraced mesh waits as long, so both windows are alike.
const SETTLE: Duration = SCHEDULE_DELAY.saturating_add(Duration::from_millis(1000));

/// Most open-loop requests in flight at once; far above what the offered
/// rate needs below saturation, so only a mesh falling behind reaches it.
const OPEN_LOOP_IN_FLIGHT: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct LoadSettings {
    pub rounds: usize,
    pub round: Duration,
    pub clients: usize,
    /// Offered checkouts per second of the open loop.
    pub rate: f64,
    pub overhead: bool,
    pub efficiency: bool,
}

struct Variant {
    label: &'static str,
    make: MakeRequest,
    /// Most requests one closed-loop round may send (stock), `u64::MAX`
    /// for hello.
    closed_cap: u64,
    /// The mesh's service processes; none for hello.
    pids: Vec<u32>,
    /// Whether its runs wait for the exporters ([`SETTLE`]).
    traced: bool,
    open: Vec<Run>,
    closed: Vec<Run>,
}

fn pids(mesh: &tracemesh_mesh::Mesh) -> Result<Vec<u32>, BenchError> {
    Service::ALL
        .iter()
        .map(|&s| {
            mesh.pid(s)
                .ok_or_else(|| BenchError::Runtime(format!("{s:?} has no process")))
        })
        .collect()
}

pub async fn run(
    settings: LoadSettings,
    logs: &Path,
    results: &mut Results,
) -> Result<(), BenchError> {
    eprintln!("bench: starting `tracemesh collector` as its own process");
    let collector = CollectorProcess::start(None, None).await?;
    eprintln!("bench: starting the traced mesh (100% sampling, OTLP/gRPC export)");
    let env = super::mesh::always_on(collector.telemetry_env(), SCHEDULE_DELAY.as_millis() as u64);
    let (mut traced, _traced_data) = super::start_mesh("traced", env, logs).await?;
    let mut untraced = None;
    if settings.overhead {
        eprintln!("bench: starting the same mesh with OTEL_SDK_DISABLED=true");
        let mut env = collector.telemetry_env();
        env.push(("OTEL_SDK_DISABLED".into(), "true".into()));
        match super::start_mesh("untraced", env, logs).await {
            Ok(mesh) => untraced = Some(mesh),
            Err(e) => {
                traced.stop().await;
                return Err(e);
            }
        }
    }
    let hello = if settings.efficiency {
        // Two workers: as many as the machine has cores, like each service.
        Some(HelloServer::start(2).map_err(|e| {
            BenchError::Runtime(format!("cannot start the hello-world server: {e}"))
        })?)
    } else {
        None
    };

    let outcome = measure(
        settings,
        &collector,
        &traced,
        untraced.as_ref().map(|(m, _)| m),
        hello.as_ref(),
        results,
    )
    .await;
    traced.stop().await;
    if let Some((mut mesh, _data)) = untraced {
        mesh.stop().await;
    }
    drop(hello);
    outcome
}

async fn measure(
    settings: LoadSettings,
    collector: &CollectorProcess,
    traced: &tracemesh_mesh::Mesh,
    untraced: Option<&tracemesh_mesh::Mesh>,
    hello: Option<&HelloServer>,
    results: &mut Results,
) -> Result<(), BenchError> {
    let client = load::http_client();
    let meter = CpuMeter::new(collector.pid);
    // One checkout whose trace tells how many hops a checkout makes; read
    // after the rounds, when the exporter has long sent it.
    let probe = client
        .post(format!("{}/api/checkout", traced.gateway_url()))
        .header("content-type", "application/json")
        .body(super::CHECKOUT_BODY)
        .send()
        .await
        .map_err(|e| BenchError::Runtime(format!("the first checkout failed: {e}")))?;
    let probe_trace = super::traceresponse(&probe).map(|(id, _)| id);
    if !probe.status().is_success() {
        return Err(BenchError::Runtime(format!(
            "the first checkout answered {}: {}",
            probe.status(),
            probe.text().await.unwrap_or_default()
        )));
    }

    // The stock left after the probe and the warm-up, per round, split
    // between the two loops when the open loop runs.
    let warm_up_cap = (settings.clients as u64 * 5).min(500);
    let per_round =
        (CAB_004_STOCK - warm_up_cap - STOCK_MARGIN - 1) / settings.rounds.max(1) as u64;
    let open_cap = if settings.overhead { per_round / 2 } else { 0 };
    let closed_cap = per_round - open_cap;

    let mesh_variant = |label, mesh: &tracemesh_mesh::Mesh, traced| {
        Ok::<_, BenchError>(Variant {
            label,
            make: crate::suite::mesh::checkout_request(&mesh.gateway_url()),
            closed_cap,
            pids: pids(mesh)?,
            traced,
            open: Vec::new(),
            closed: Vec::new(),
        })
    };
    let mut variants = vec![mesh_variant("traced mesh", traced, true)?];
    if let Some(mesh) = untraced {
        variants.push(mesh_variant("untraced mesh", mesh, false)?);
    }
    let meshes = variants.len();
    if let Some(hello) = hello {
        let url = hello.url();
        variants.push(Variant {
            label: "axum hello world",
            make: std::sync::Arc::new(move |c: &reqwest::Client| c.get(&url)),
            closed_cap: u64::MAX,
            pids: Vec::new(),
            traced: false,
            open: Vec::new(),
            closed: Vec::new(),
        });
    }

    // Warm-up: connections opened, SQLite pages cached, allocators grown;
    // then the traced exporters' queues emptied, so round 1 starts clean.
    for variant in &variants {
        let cap = warm_up_cap.min(variant.closed_cap);
        load::closed_loop(
            &client,
            variant.make.clone(),
            settings.clients,
            Duration::from_secs(2),
            cap,
        )
        .await;
    }
    tokio::time::sleep(SETTLE).await;
    let mut traced_checkouts = 1 + warm_up_cap;

    for round in 0..settings.rounds {
        if settings.overhead {
            for i in round_order(meshes, round) {
                let variant = &mut variants[i];
                let make = variant.make.clone();
                let load = load::open_loop(
                    &client,
                    make,
                    settings.rate,
                    settings.round,
                    open_cap,
                    OPEN_LOOP_IN_FLIGHT,
                );
                let run = measured(&meter, variant, load).await?;
                log_run(round, &settings, "open", variant.label, &run);
                if variant.traced {
                    traced_checkouts += run.load.ok + run.load.failed;
                }
                variant.open.push(run);
            }
        }
        for i in round_order(variants.len(), round) {
            let variant = &mut variants[i];
            let load = load::closed_loop(
                &client,
                variant.make.clone(),
                settings.clients,
                settings.round,
                variant.closed_cap,
            );
            let run = measured(&meter, variant, load).await?;
            log_run(round, &settings, "closed", variant.label, &run);
            if variant.traced {
                traced_checkouts += run.load.ok + run.load.failed;
            }
            variant.closed.push(run);
        }
    }

    for variant in &variants {
        let runs = variant.open.iter().chain(&variant.closed);
        let failed: u64 = runs.clone().map(|r| r.load.failed).sum();
        if failed > 0 {
            let why = runs
                .filter_map(|r| r.load.first_failure.clone())
                .next()
                .unwrap_or_default();
            results.rows.push(Row::info(
                "overhead",
                format!("{}: failed requests", variant.label),
                format!("{failed} (first: {why})"),
            ));
        }
    }

    if settings.overhead {
        let shape = |runs: fn(&Variant) -> &Vec<Run>| Shape {
            traced: runs(&variants[0]).clone(),
            untraced: runs(&variants[1]).clone(),
        };
        overhead::report(
            &shape(|v| &v.open),
            &shape(|v| &v.closed),
            settings.rate,
            settings.clients,
            results,
        );
    }

    // Every span the traced mesh made should have reached the collector.
    let spans = collector
        .wait_for_quiet(Duration::from_secs(6), Duration::from_secs(30))
        .await;
    results.rows.push(Row::info(
        if settings.overhead {
            "overhead"
        } else {
            "efficiency"
        },
        "spans received per traced checkout (15 expected without the planted lock)",
        format!(
            "{:.2} ({spans} spans, {traced_checkouts} checkouts)",
            spans as f64 / traced_checkouts as f64
        ),
    ));

    if let Some(hello) = variants.iter().find(|v| v.label == "axum hello world") {
        efficiency(
            settings,
            collector,
            probe_trace,
            &variants[0],
            hello,
            results,
        )
        .await;
    }
    Ok(())
}

/// Runs `load` for `variant`, reading the CPU before and after (after the
/// exporters have flushed, for the traced mesh).
async fn measured(
    meter: &CpuMeter,
    variant: &Variant,
    load: impl std::future::Future<Output = load::LoadResult>,
) -> Result<Run, BenchError> {
    let started = std::time::Instant::now();
    let before = meter.read(&variant.pids)?;
    let load = load.await;
    // Both meshes' windows end one settle after their load: the traced
    // exporters send what the run left queued, and the untraced mesh's
    // idle CPU over the same seconds is counted too, so idling does not
    // weigh on one side only.
    if !variant.pids.is_empty() {
        tokio::time::sleep(SETTLE).await;
    }
    let cpu = meter.read(&variant.pids)? - before;
    Ok(Run {
        load,
        cpu,
        window: started.elapsed(),
    })
}

fn log_run(round: usize, settings: &LoadSettings, shape: &str, label: &str, run: &Run) {
    eprintln!(
        "bench: round {}/{} {shape:<6} {label:<17} {:>8.1} req/s  p50 {:.2} ms  p99 {:.2} ms  ({} ok, {} failed, {} late)  services {:.3} ms CPU/checkout",
        round + 1,
        settings.rounds,
        run.load.rate(),
        percentile(&run.load.latencies_ms, 50.0),
        percentile(&run.load.latencies_ms, 99.0),
        run.load.ok,
        run.load.failed,
        run.load.late,
        run.services_per_checkout() * 1e3
    );
}

fn describe(runs: &[Run]) -> String {
    let rates: Vec<f64> = runs.iter().map(|r| r.load.rate()).collect();
    let latencies: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.load.latencies_ms.iter().copied())
        .collect();
    format!(
        "{:.1} req/s (median of {} rounds), p50 {:.2} ms, p99 {:.2} ms",
        median(&rates),
        runs.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0)
    )
}

/// The efficiency rows: the traced mesh's hops/s against hello world's.
async fn efficiency(
    settings: LoadSettings,
    collector: &CollectorProcess,
    probe_trace: Option<String>,
    traced: &Variant,
    hello: &Variant,
    results: &mut Results,
) {
    let clients = settings.clients;
    let rate = |v: &Variant| median(&v.closed.iter().map(|r| r.load.rate()).collect::<Vec<_>>());
    if !settings.overhead {
        results.rows.push(Row::info(
            "efficiency",
            format!("checkouts, traced (always_on, OTLP/gRPC), {clients} clients"),
            describe(&traced.closed),
        ));
    }
    let source = TempoSource::new(collector.http.clone());
    let mut hops = match probe_trace {
        Some(id) => source.trace(&id).await.ok().flatten().unwrap_or_default(),
        None => Vec::new(),
    }
    .into_iter()
    .filter(|s| s.kind == SpanKind::Server)
    .map(|s| s.service_name)
    .collect::<Vec<String>>();
    hops.sort();
    let (traced_rate, hello_rate) = (rate(traced), rate(hello));
    results.rows.push(Row::info(
        "efficiency",
        format!("axum hello world, one hop, {clients} clients"),
        describe(&hello.closed),
    ));
    results.rows.push(Row::info(
        "efficiency",
        "hops per checkout (SERVER spans in one checkout's trace)",
        format!("{} ({})", hops.len(), hops.join(", ")),
    ));
    let hop_rate = traced_rate * hops.len() as f64;
    let efficiency = if hello_rate > 0.0 {
        hop_rate / hello_rate
    } else {
        0.0
    };
    results.rows.push(Row::info(
        "efficiency",
        "traced mesh hops/s (checkouts/s x hops) vs hello-world requests/s",
        format!(
            "{hop_rate:.0} / {hello_rate:.0} = {:.1}% of the one-hop limit",
            efficiency * 100.0
        ),
    ));
    results.ratios.push(format!(
        "efficiency: {:.1} checkouts/s x {} hops = {hop_rate:.0} hops/s, {:.1}% of an axum hello world's {hello_rate:.0} req/s",
        traced_rate,
        hops.len(),
        efficiency * 100.0
    ));
}
