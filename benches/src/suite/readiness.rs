//! Trace readiness: how long after the gateway answers a checkout is its
//! trace complete in the store. The services export in batches, each on its
//! own timer (`OTEL_BSP_SCHEDULE_DELAY`), so readiness is set mostly by that
//! delay; it is measured at the SDK's default (5000 ms) and at the 500 ms
//! that `tracemesh run` uses, the two meshes taking turns round by round.
//!
//! "Complete" is all 15 spans of a successful checkout in the store; the
//! time is the arrival of its last span (the store's arrival clock, as `run`
//! reads it) minus the moment the client had the gateway's answer.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::load;
use tracemesh_harness::RunningCollector;
use tracemesh_harness::stats::percentile;

use super::report::{Results, Row};
use super::{CAB_004_STOCK, round_order};
use crate::suite::BenchError;

/// Spans in the trace of a successful checkout on a mesh without the planted
/// lock: the 16 of `harness::trace::synthetic::checkout` less
/// `warehouse.lock.wait`, which only the lock makes.
const CHECKOUT_SPANS: usize = 15;

/// The two schedule delays compared, in milliseconds.
const DELAYS_MS: [u64; 2] = [5000, 500];

/// Pause between one client's checkouts: a light, steady load (readiness at
/// saturation would measure queueing instead).
const PACE: Duration = Duration::from_millis(20);

struct Answered {
    trace_id: String,
    at: SystemTime,
}

pub async fn run(
    rounds: usize,
    round: Duration,
    collector: &RunningCollector,
    logs: &Path,
    results: &mut Results,
) -> Result<(), BenchError> {
    let mut meshes = Vec::new();
    for delay in DELAYS_MS {
        eprintln!("bench: starting a traced mesh with OTEL_BSP_SCHEDULE_DELAY={delay}");
        match super::start_mesh(
            &format!("readiness-{delay}ms"),
            super::traced_env(collector, delay),
            logs,
        )
        .await
        {
            Ok(mesh) => meshes.push(mesh),
            Err(e) => {
                for (mut mesh, _) in meshes {
                    mesh.stop().await;
                }
                return Err(e);
            }
        }
    }
    let client = load::http_client();
    let cap = (CAB_004_STOCK - 100) / rounds.max(1) as u64;
    let mut answered: Vec<Vec<Answered>> = vec![Vec::new(), Vec::new()];
    for r in 0..rounds {
        for i in round_order(meshes.len(), r) {
            let url = format!("{}/api/checkout", meshes[i].0.gateway_url());
            let until = Instant::now() + round;
            let mut sent = 0;
            while Instant::now() < until && sent < cap {
                sent += 1;
                let Ok(response) = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(super::CHECKOUT_BODY)
                    .send()
                    .await
                else {
                    continue;
                };
                let at = SystemTime::now();
                if response.status().is_success()
                    && let Some((trace_id, true)) = super::traceresponse(&response)
                {
                    answered[i].push(Answered { trace_id, at });
                }
                tokio::time::sleep(PACE).await;
            }
        }
    }

    // Wait until every answered checkout's trace is complete, or give up
    // well after the longest delay.
    let store = collector.store();
    let all: Vec<String> = answered
        .iter()
        .flatten()
        .map(|a| a.trace_id.clone())
        .collect();
    let deadline = Duration::from_millis(DELAYS_MS[0] * 3) + Duration::from_secs(10);
    store
        .wait_until(
            |s| {
                all.iter()
                    .all(|id| s.trace(id).is_some_and(|t| t.len() >= CHECKOUT_SPANS))
            },
            deadline,
        )
        .await;

    let (now_instant, now_system) = (Instant::now(), SystemTime::now());
    for (i, delay) in DELAYS_MS.iter().enumerate() {
        let mut ready_ms = Vec::new();
        let mut incomplete = 0;
        for a in &answered[i] {
            let complete = store
                .trace(&a.trace_id)
                .is_some_and(|t| t.len() >= CHECKOUT_SPANS);
            match store.trace_arrival(&a.trace_id) {
                Some(arrival) if complete => {
                    let arrived = now_system - now_instant.duration_since(arrival.last);
                    let ms = match arrived.duration_since(a.at) {
                        Ok(d) => d.as_secs_f64() * 1e3,
                        // Complete before the client had read the answer.
                        Err(e) => -(e.duration().as_secs_f64() * 1e3),
                    };
                    ready_ms.push(ms);
                }
                _ => incomplete += 1,
            }
        }
        let p50 = percentile(&ready_ms, 50.0);
        let p99 = percentile(&ready_ms, 99.0);
        results.rows.push(Row::info(
            "readiness",
            format!("answer -> trace complete, OTEL_BSP_SCHEDULE_DELAY={delay} ms"),
            format!(
                "p50 {p50:.0} ms, p99 {p99:.0} ms ({} traces, {incomplete} incomplete)",
                ready_ms.len()
            ),
        ));
        results.ratios.push(format!(
            "readiness at schedule delay {delay} ms: p50 {p50:.0} ms, p99 {p99:.0} ms ({:.2} x the delay at p99)",
            p99 / *delay as f64
        ));
    }
    for (mut mesh, _data) in meshes {
        mesh.stop().await;
    }
    Ok(())
}
