//! Harness ingest: the embedded collector as its own process
//! (`tracemesh collector`), pinned to one core with `taskset`, and this
//! process, pinned to the other core, sending pre-encoded OTLP/gRPC exports
//! of 512 checkout-shaped spans.
//!
//! 1. Saturation: several exports in flight on one HTTP/2 connection, each
//!    sender sending its next as soon as the last is acknowledged. Spans/s
//!    acknowledged, per round; then sent == received from the collector's
//!    own `/api/stats` (zero loss), nothing rejected.
//! 2. Steady 10,000 spans/s on a fresh collector: its CPU share (utime +
//!    stime from `/proc/<pid>/stat` over the interval) and its resident
//!    memory (`VmRSS`, and the peak `VmHWM`) at the end.
//!
//! Saturation runs the collector as shipped (store bound 1,000,000 spans).
//! The steady run bounds the store at 100,000 spans (10 s of that traffic)
//! and runs past the bound: a store that keeps everything grows for ever, so
//! "steady state" means the bound reached and eviction under way. The
//! retained bytes per span are reported beside it, to scale to other bounds.

use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::otlp::{SPANS_PER_CHECKOUT, encoded_checkout_request};
use crate::procfs;
use crate::sender::{Bytes, RawOtlpClient};
use tracemesh_harness::stats::median;

use super::report::{Results, Row};
use crate::suite::BenchError;

const CHECKOUTS_PER_EXPORT: usize = 32;
const SPANS_PER_EXPORT: u64 = (CHECKOUTS_PER_EXPORT * SPANS_PER_CHECKOUT) as u64;
/// Distinct exports encoded in advance (each with its own trace ids).
const DISTINCT_EXPORTS: u64 = 256;
/// Exports in flight at once during saturation.
const IN_FLIGHT: usize = 8;

const MIN_SPANS_PER_SECOND: f64 = 100_000.0;
const STEADY_SPANS_PER_SECOND: f64 = 10_000.0;
const MAX_CPU_SHARE: f64 = 0.05;
const MAX_RSS_BYTES: u64 = 50 * 1024 * 1024;
/// The steady run's store bound: 10 s of its traffic.
const STEADY_MAX_SPANS: usize = 100_000;

/// The collector process, killed when dropped.
struct CollectorProcess {
    child: tokio::process::Child,
    pid: u32,
    grpc: String,
    http: String,
}

fn free_port() -> Result<u16, BenchError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BenchError::Runtime(format!("cannot find a free port: {e}")))
}

fn have_taskset() -> bool {
    std::process::Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Sets the CPU affinity of every thread of `pid` (`taskset -a -p`).
fn pin(pid: u32, cpus: &str) -> bool {
    std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// This process's CPU list (`taskset -c -p`), to restore it afterwards.
fn own_cpus() -> Option<String> {
    let out = std::process::Command::new("taskset")
        .args(["-c", "-p", &std::process::id().to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.rsplit(':').next()?.trim().to_owned())
}

/// `max_spans`: the store bound, or `None` for the shipped default.
async fn start_collector(
    core: Option<&str>,
    max_spans: Option<usize>,
) -> Result<CollectorProcess, BenchError> {
    let (grpc_port, http_port) = (free_port()?, free_port()?);
    let exe = std::env::current_exe()
        .map_err(|e| BenchError::Runtime(format!("cannot find this executable: {e}")))?;
    let mut command = match core {
        Some(core) => {
            let mut c = tokio::process::Command::new("taskset");
            c.args(["-c", core]).arg(exe);
            c
        }
        None => tokio::process::Command::new(exe),
    };
    command
        .args(["collector", "--grpc-port", &grpc_port.to_string()])
        .args(["--http-port", &http_port.to_string()])
        .args(max_spans.map(|n| format!("--max-spans={n}")))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| BenchError::Runtime(format!("cannot start `tracemesh collector`: {e}")))?;
    // taskset execs the collector, so the pid is the collector's.
    let pid = child.id().unwrap_or_default();
    let process = CollectorProcess {
        child,
        pid,
        grpc: format!("http://127.0.0.1:{grpc_port}"),
        http: format!("http://127.0.0.1:{http_port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if client
            .get(format!("{}/ready", process.http))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(process);
        }
        if Instant::now() > deadline {
            return Err(BenchError::Runtime(
                "`tracemesh collector` did not answer within 20 s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The counters of the collector's `/api/stats` that the bench reads.
struct StoreCounts {
    received: u64,
    rejected: u64,
    stored: u64,
}

async fn store_counts(collector: &CollectorProcess) -> Result<StoreCounts, BenchError> {
    let stats: serde_json::Value = reqwest::get(format!("{}/api/stats", collector.http))
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| BenchError::Runtime(format!("cannot read the collector's stats: {e}")))?
        .json()
        .await
        .map_err(|e| BenchError::Runtime(format!("the collector's stats are not JSON: {e}")))?;
    let field = |name: &str| stats[name].as_u64().unwrap_or_default();
    Ok(StoreCounts {
        received: field("spans_received"),
        rejected: field("spans_rejected"),
        stored: field("spans_stored"),
    })
}

pub async fn run(rounds: usize, round: Duration, results: &mut Results) -> Result<(), BenchError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = cores >= 2 && have_taskset();
    let restore = if pinned { own_cpus() } else { None };
    if pinned {
        pin(std::process::id(), "0");
    } else {
        results.rows.push(Row::info(
            "ingest",
            "core pinning",
            "none (taskset missing or one core): figures include the sender's competition",
        ));
    }
    let outcome = measure(rounds, round, pinned.then_some("1"), results).await;
    if let Some(cpus) = restore {
        pin(std::process::id(), &cpus);
    }
    outcome
}

async fn measure(
    rounds: usize,
    round: Duration,
    core: Option<&str>,
    results: &mut Results,
) -> Result<(), BenchError> {
    eprintln!("bench: encoding {DISTINCT_EXPORTS} exports of {SPANS_PER_EXPORT} spans");
    let exports: Arc<Vec<Bytes>> = Arc::new(
        (0..DISTINCT_EXPORTS)
            .map(|i| {
                encoded_checkout_request(i * CHECKOUTS_PER_EXPORT as u64, CHECKOUTS_PER_EXPORT)
            })
            .collect(),
    );
    let ticks = procfs::clock_ticks_per_second();

    // 2 first, on a fresh collector: memory after saturation would measure
    // what saturation left behind.
    let mut steady = start_collector(core, Some(STEADY_MAX_SPANS)).await?;
    let idle_rss = procfs::status_bytes(steady.pid, "VmRSS").unwrap_or_default();
    let mut client = RawOtlpClient::connect(&steady.grpc)
        .await
        .map_err(BenchError::Runtime)?;
    let interval = Duration::from_secs_f64(SPANS_PER_EXPORT as f64 / STEADY_SPANS_PER_SECOND);
    let steady_time = round * rounds as u32;
    eprintln!(
        "bench: ingest at a steady {STEADY_SPANS_PER_SECOND} spans/s for {steady_time:?} (collector pid {})",
        steady.pid
    );
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    // One second to settle (connection, first allocations), then measure.
    let settle_until = Instant::now() + Duration::from_secs(1);
    let mut measuring: Option<(Instant, Duration)> = None;
    let mut sent = 0u64;
    let mut errors = 0u64;
    let mut next = 0usize;
    loop {
        ticker.tick().await;
        let now = Instant::now();
        if measuring.is_none() && now >= settle_until {
            let cpu = procfs::cpu_time(steady.pid, ticks).unwrap_or_default();
            measuring = Some((now, cpu));
        }
        if let Some((from, _)) = measuring
            && now - from >= steady_time
        {
            break;
        }
        match client.export(exports[next % exports.len()].clone()).await {
            Ok(_) => sent += SPANS_PER_EXPORT,
            Err(_) => errors += 1,
        }
        next += 1;
    }
    let (from, cpu_from) = measuring.unwrap_or((Instant::now(), Duration::ZERO));
    let elapsed = from.elapsed();
    let cpu = procfs::cpu_time(steady.pid, ticks)
        .unwrap_or_default()
        .saturating_sub(cpu_from);
    let rss = procfs::status_bytes(steady.pid, "VmRSS").unwrap_or_default();
    let peak = procfs::status_bytes(steady.pid, "VmHWM").unwrap_or_default();
    let counts = store_counts(&steady).await?;
    let steady_received = counts.received;
    let _ = steady.child.kill().await;
    let share = cpu.as_secs_f64() / elapsed.as_secs_f64().max(1e-9);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    results.rows.push(Row::target(
        "ingest",
        format!(
            "collector CPU at {STEADY_SPANS_PER_SECOND:.0} spans/s (utime+stime / wall, {:.0} s)",
            elapsed.as_secs_f64()
        ),
        format!("{:.1}% of a core", share * 100.0),
        "<= 5% (OTel Collector CI: <= 20%, measures ~6-8%)",
        share <= MAX_CPU_SHARE,
    ));
    results.rows.push(Row::target(
        "ingest",
        format!(
            "collector RSS at {STEADY_SPANS_PER_SECOND:.0} spans/s, store bound {STEADY_MAX_SPANS} spans reached (end of interval)"
        ),
        format!(
            "{:.1} MiB (peak {:.1}, idle {:.1}; {steady_received} spans received, {} retained, {:.0} B per retained span above idle)",
            mib(rss),
            mib(peak),
            mib(idle_rss),
            counts.stored,
            rss.saturating_sub(idle_rss) as f64 / counts.stored.max(1) as f64
        ),
        "<= 50 MiB (OTel Collector CI: <= 100 MiB, measures 55-78)",
        rss <= MAX_RSS_BYTES,
    ));
    if errors > 0 || steady_received != sent {
        results.rows.push(Row::info(
            "ingest",
            "steady run: sent vs received",
            format!("{sent} acknowledged, {steady_received} received, {errors} failed exports"),
        ));
    }

    // 1: saturation, on another fresh collector.
    let saturated = start_collector(core, None).await?;
    let client = RawOtlpClient::connect(&saturated.grpc)
        .await
        .map_err(BenchError::Runtime)?;
    let mut rates = Vec::new();
    let mut cpu_shares = Vec::new();
    // Spans per second of the collector's own CPU time: on a shared machine
    // the collector may get only part of its core; this figure does not
    // depend on how much it got.
    let mut per_cpu_second = Vec::new();
    let sent_total = Arc::new(AtomicU64::new(0));
    let failed_total = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    for r in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let cpu_from = procfs::cpu_time(saturated.pid, ticks).unwrap_or_default();
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..IN_FLIGHT {
            let (mut client, exports, stop) = (client.clone(), exports.clone(), stop.clone());
            let (sent_total, failed_total, next) =
                (sent_total.clone(), failed_total.clone(), next.clone());
            tasks.spawn(async move {
                let mut acked = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed) % exports.len() as u64;
                    match client.export(exports[i as usize].clone()).await {
                        Ok(0) => acked += SPANS_PER_EXPORT,
                        Ok(_) | Err(_) => {
                            failed_total.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                sent_total.fetch_add(acked, Ordering::Relaxed);
                acked
            });
        }
        tokio::time::sleep(round).await;
        stop.store(true, Ordering::Relaxed);
        let mut acked = 0;
        while let Some(done) = tasks.join_next().await {
            acked += done.unwrap_or_default();
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = procfs::cpu_time(saturated.pid, ticks)
            .unwrap_or_default()
            .saturating_sub(cpu_from);
        let rate = acked as f64 / elapsed;
        eprintln!(
            "bench: round {}/{rounds} ingest {rate:>10.0} spans/s (collector CPU {:.0}% of a core)",
            r + 1,
            cpu.as_secs_f64() / elapsed * 100.0
        );
        rates.push(rate);
        cpu_shares.push(cpu.as_secs_f64() / elapsed);
        per_cpu_second.push(acked as f64 / cpu.as_secs_f64().max(1e-9));
    }
    let StoreCounts {
        received: received_total,
        rejected,
        ..
    } = store_counts(&saturated).await?;
    drop(saturated);
    let sent_total = sent_total.load(Ordering::Relaxed);
    let failed = failed_total.load(Ordering::Relaxed);
    let lossless = sent_total == received_total && rejected == 0 && failed == 0;
    let rate = median(&rates);
    results.rows.push(Row::target(
        "ingest",
        format!(
            "spans/s received, decoded, indexed on one core ({IN_FLIGHT} exports of {SPANS_PER_EXPORT} spans in flight; median of {rounds} rounds)"
        ),
        format!(
            "{rate:.0} spans/s with the collector at {:.0}% of a core (its share of a shared core): {:.0} spans per collector CPU-second",
            median(&cpu_shares) * 100.0,
            median(&per_cpu_second)
        ),
        ">= 100,000 spans/s",
        rate >= MIN_SPANS_PER_SECOND,
    ));
    results.rows.push(Row::target(
        "ingest",
        "spans lost at saturation (acknowledged - received by the store)",
        format!(
            "{} ({sent_total} sent, {received_total} received, {rejected} rejected, {failed} failed exports)",
            sent_total as i64 - received_total as i64
        ),
        "0",
        lossless,
    ));
    results.ratios.push(format!(
        "ingest: {rate:.0} spans/s on one core ({:.2} x the 100,000 target), lossless: {lossless}; at 10,000 spans/s {:.1}% CPU, {:.1} MiB RSS",
        rate / MIN_SPANS_PER_SECOND,
        share * 100.0,
        mib(rss)
    ));
    Ok(())
}
