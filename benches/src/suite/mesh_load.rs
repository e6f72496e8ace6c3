//! Instrumentation overhead and mesh efficiency: closed-loop checkouts
//! against meshes (and hello-world requests against one axum hop), the
//! variants alternating round by round.
//!
//! - Overhead: the mesh exporting every span (sampler `always_on`, OTLP/gRPC
//!   to the embedded collector, the SDK's default batch settings) against the
//!   same mesh with `OTEL_SDK_DISABLED=true`. The per-round ratio of their
//!   checkout rates is the throughput lost to tracing.
//! - Efficiency: the traced mesh's checkout rate times its hops per checkout
//!   (the SERVER spans in the trace of a real checkout: every handled
//!   request is one hop) against the rate of a single axum hello-world hop
//!   driven by the same client loop: the practical limit on this machine.
//!
//! Each mesh has a fresh data directory and so 5000 CAB-004 in stock; the
//! rounds share what is left after the warm-up, so no checkout sells out.

use std::path::Path;
use std::time::Duration;

use crate::hello::HelloServer;
use crate::load::{self, LoadResult, MakeRequest};
use tracemesh_harness::RunningCollector;
use tracemesh_harness::model::SpanKind;
use tracemesh_harness::stats::{median, percentile};

use super::report::{Results, Row};
use super::{CAB_004_STOCK, round_order};
use crate::suite::BenchError;

/// The target: tracing may cost at most this share of throughput.
const MAX_OVERHEAD: f64 = 0.10;

/// Checkouts left unsold per mesh, so a miscount never reaches 409s.
const STOCK_MARGIN: u64 = 100;

#[derive(Debug, Clone, Copy)]
pub struct LoadSettings {
    pub rounds: usize,
    pub round: Duration,
    pub clients: usize,
    pub overhead: bool,
    pub efficiency: bool,
}

struct Variant {
    label: &'static str,
    make: MakeRequest,
    /// Most requests one round may send (stock), `u64::MAX` for hello.
    per_round_cap: u64,
    rounds: Vec<LoadResult>,
}

pub async fn run(
    settings: LoadSettings,
    collector: &RunningCollector,
    logs: &Path,
    results: &mut Results,
) -> Result<(), BenchError> {
    let client = load::http_client();
    let warm_up_cap = (settings.clients as u64 * 5).min(500);
    let per_round_cap =
        (CAB_004_STOCK - warm_up_cap - STOCK_MARGIN - 1) / settings.rounds.max(1) as u64;

    eprintln!("bench: starting the traced mesh (100% sampling, OTLP/gRPC export)");
    let (mut traced, _traced_data) =
        super::start_mesh("traced", super::traced_env(collector, 5000), logs).await?;
    let mut untraced = None;
    if settings.overhead {
        eprintln!("bench: starting the same mesh with OTEL_SDK_DISABLED=true");
        let mut env = tracemesh_mesh::collector::telemetry_env(collector);
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
        &client,
        collector,
        &traced,
        untraced.as_ref().map(|(m, _)| m),
        hello.as_ref(),
        warm_up_cap,
        per_round_cap,
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

#[allow(clippy::too_many_arguments)]
async fn measure(
    settings: LoadSettings,
    client: &reqwest::Client,
    collector: &RunningCollector,
    traced: &tracemesh_mesh::Mesh,
    untraced: Option<&tracemesh_mesh::Mesh>,
    hello: Option<&HelloServer>,
    warm_up_cap: u64,
    per_round_cap: u64,
    results: &mut Results,
) -> Result<(), BenchError> {
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

    let mut variants = vec![Variant {
        label: "traced mesh",
        make: crate::suite::mesh::checkout_request(&traced.gateway_url()),
        per_round_cap,
        rounds: Vec::new(),
    }];
    if let Some(mesh) = untraced {
        variants.push(Variant {
            label: "untraced mesh",
            make: crate::suite::mesh::checkout_request(&mesh.gateway_url()),
            per_round_cap,
            rounds: Vec::new(),
        });
    }
    if let Some(hello) = hello {
        let url = hello.url();
        variants.push(Variant {
            label: "axum hello world",
            make: std::sync::Arc::new(move |c: &reqwest::Client| c.get(&url)),
            per_round_cap: u64::MAX,
            rounds: Vec::new(),
        });
    }

    // Warm-up: connections opened, SQLite pages cached, allocators grown.
    for variant in &variants {
        let cap = warm_up_cap.min(variant.per_round_cap);
        load::closed_loop(
            client,
            variant.make.clone(),
            settings.clients,
            Duration::from_secs(2),
            cap,
        )
        .await;
    }
    let mut traced_checkouts = 1 + warm_up_cap;

    for round in 0..settings.rounds {
        for i in round_order(variants.len(), round) {
            let variant = &mut variants[i];
            let result = load::closed_loop(
                client,
                variant.make.clone(),
                settings.clients,
                settings.round,
                variant.per_round_cap,
            )
            .await;
            eprintln!(
                "bench: round {}/{} {:<17} {:>8.1} req/s  p50 {:.2} ms  p99 {:.2} ms  ({} ok, {} failed)",
                round + 1,
                settings.rounds,
                variant.label,
                result.rate(),
                percentile(&result.latencies_ms, 50.0),
                percentile(&result.latencies_ms, 99.0),
                result.ok,
                result.failed
            );
            if i == 0 {
                traced_checkouts += result.ok + result.failed;
            }
            variant.rounds.push(result);
            // Let the traced mesh's exporter send what the round left queued.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    for variant in &variants {
        let failed: u64 = variant.rounds.iter().map(|r| r.failed).sum();
        if failed > 0 {
            let why = variant
                .rounds
                .iter()
                .find_map(|r| r.first_failure.clone())
                .unwrap_or_default();
            results.rows.push(Row::info(
                "overhead",
                format!("{}: failed requests", variant.label),
                format!("{failed} (first: {why})"),
            ));
        }
    }

    let rates = |v: &Variant| v.rounds.iter().map(LoadResult::rate).collect::<Vec<f64>>();
    let latencies = |v: &Variant| {
        v.rounds
            .iter()
            .flat_map(|r| r.latencies_ms.iter().copied())
            .collect::<Vec<f64>>()
    };
    let describe = |v: &Variant| {
        let l = latencies(v);
        format!(
            "{:.1} req/s (median of {} rounds), p50 {:.2} ms, p99 {:.2} ms",
            median(&rates(v)),
            v.rounds.len(),
            percentile(&l, 50.0),
            percentile(&l, 99.0)
        )
    };
    let clients = settings.clients;
    let traced_rate = median(&rates(&variants[0]));

    if settings.overhead && variants.len() > 1 && variants[1].label == "untraced mesh" {
        let per_round: Vec<f64> = rates(&variants[0])
            .iter()
            .zip(rates(&variants[1]))
            .map(|(t, u)| if u > 0.0 { 1.0 - t / u } else { 0.0 })
            .collect();
        let loss = median(&per_round);
        results.rows.push(Row::info(
            "overhead",
            format!("checkouts, traced (always_on, OTLP/gRPC), {clients} clients"),
            describe(&variants[0]),
        ));
        results.rows.push(Row::info(
            "overhead",
            format!("checkouts, OTEL_SDK_DISABLED=true, {clients} clients"),
            describe(&variants[1]),
        ));
        results.rows.push(Row::target(
            "overhead",
            "throughput lost to tracing (median of per-round 1 - traced/untraced)",
            format!(
                "{:.1}% (rounds: {})",
                loss * 100.0,
                per_round
                    .iter()
                    .map(|r| format!("{:.1}%", r * 100.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!("<= {:.0}%", MAX_OVERHEAD * 100.0),
            loss <= MAX_OVERHEAD,
        ));
        results.ratios.push(format!(
            "overhead: traced/untraced checkout rate = {:.3} ({:.1}% lost; target <= 10%: {})",
            1.0 - loss,
            loss * 100.0,
            if loss <= MAX_OVERHEAD {
                "met"
            } else {
                "MISSED"
            }
        ));
    } else {
        results.rows.push(Row::info(
            "efficiency",
            format!("checkouts, traced (always_on, OTLP/gRPC), {clients} clients"),
            describe(&variants[0]),
        ));
    }

    // Every span the traced mesh made should have reached the collector.
    let store = collector.store();
    store
        .wait_for_quiet(Duration::from_secs(6), Duration::from_secs(30))
        .await;
    let spans = store.stats().spans_received;
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
        let hops = probe_trace
            .as_deref()
            .and_then(|id| store.trace(id))
            .map(|spans| {
                let mut servers: Vec<String> = spans
                    .iter()
                    .filter(|s| s.kind == SpanKind::Server)
                    .map(|s| s.service_name.clone())
                    .collect();
                servers.sort();
                servers
            })
            .unwrap_or_default();
        let hello_rate = median(&rates(hello));
        results.rows.push(Row::info(
            "efficiency",
            format!("axum hello world, one hop, {clients} clients"),
            describe(hello),
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
    Ok(())
}
