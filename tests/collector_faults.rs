//! The collector failing under a running mesh, through a TCP proxy between
//! the services' exporters and the collector (`common::proxy`):
//!
//! - unreachable for 10 s, then back: requests keep being served at full
//!   speed; with a queue big enough for the outage no span is dropped
//!   (exporters retry for 30 s); with a small queue the spans dropped are
//!   counted by the services (`/admin/telemetry`), and counted exactly.
//!   One loss remains possible: an export in flight at the instant of the cut
//!   dies with a broken connection, which gRPC reports as UNKNOWN and the
//!   OTLP specification calls not retryable. Those spans are counted as
//!   failed, at most one batch per service;
//! - slow to answer: the exporters wait, requests do not.
//!
//! Figures are printed (`cargo test --test collector_faults -- --nocapture`)
//! and quoted in RELIABILITY.md.

mod common;

use std::time::{Duration, Instant};

use common::Mesh;
use common::load::{Load, Outcome, p50_p99};
use common::proxy::CutProxy;

const OUTAGE: Duration = Duration::from_secs(10);

/// A mesh exporting through `proxy`, every 100 ms, with `queue` spans of room.
async fn mesh_behind(proxy: &CutProxy, queue: &str) -> Mesh {
    let mesh = Mesh::start_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &proxy.url()),
        ("OTEL_BSP_MAX_QUEUE_SIZE", queue),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
        // Retry for longer than the outage.
        ("TRACEMESH_EXPORT_RETRY_SECS", "30"),
    ])
    .await;
    proxy.set_target(mesh.collector.grpc_addr());
    mesh
}

fn successes_between(outcomes: &[Outcome], from: Instant, to: Instant) -> Vec<&Outcome> {
    outcomes
        .iter()
        .filter(|o| o.started >= from && o.started < to)
        .collect()
}

/// Prints the answers' p50/p99 in the 3 s before the fault and during it,
/// and fails if any answer during the fault took 2 s or more: a request that
/// waited for the exporter would wait as long as the fault lasts.
fn assert_unaffected(outcomes: &[Outcome], fault: &str, from: Instant, to: Instant) {
    let before = successes_between(outcomes, from - Duration::from_secs(3), from);
    let during = successes_between(outcomes, from, to);
    let (p50_before, p99_before) = p50_p99(&before);
    let (p50_during, p99_during) = p50_p99(&during);
    println!(
        "{fault}: {} checkouts in the 3 s before (p50 {p50_before:?}, p99 {p99_before:?}), \
         {} during the fault's {:?} (p50 {p50_during:?}, p99 {p99_during:?})",
        before.len(),
        during.len(),
        to - from
    );
    let slowest = during.iter().map(|o| o.elapsed).max().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(2),
        "{fault}: a request waited {slowest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_outage_loses_no_span_when_the_queue_holds_it() {
    let _alone = common::one_load_at_a_time().await;
    let mut proxy = CutProxy::start().await;
    let mut mesh = mesh_behind(&proxy, "65536").await;

    let load = Load::start(&mesh.gateway, 2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cut_at = Instant::now();
    proxy.cut();
    tokio::time::sleep(OUTAGE).await;
    proxy.restore().await;
    let restored_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let outcomes = load.finish().await;

    // Served all along, and as fast during the outage as before it.
    for o in &outcomes {
        assert_eq!(o.status, Some(201), "a request failed: {o:?}");
    }
    // Export is off the request path: a request that waited for the
    // exporter would wait for the whole outage.
    assert_unaffected(&outcomes, "collector cut for 10 s", cut_at, restored_at);

    // Every span the services ended reached the store, none dropped.
    let counts = mesh.flushed_export_counts().await;
    let stored = mesh.wait_for_distinct_spans(counts.spans_exported).await;
    println!("outage with a 65536-span queue: {counts:?}; {stored} distinct spans stored");
    assert_eq!(
        counts.spans_not_exported, 0,
        "the queue dropped spans: {counts:?}"
    );
    // Only exports cut mid-flight may fail: one batch per service at most.
    assert!(
        counts.spans_failed <= 5 * 512,
        "more failed than the batches in flight: {counts:?}"
    );
    assert_stored_as_counted(&counts, stored);
    mesh.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_outage_with_a_small_queue_counts_every_span_dropped() {
    let _alone = common::one_load_at_a_time().await;
    let mut proxy = CutProxy::start().await;
    let mut mesh = mesh_behind(&proxy, "512").await;

    let load = Load::start(&mesh.gateway, 2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.cut();
    tokio::time::sleep(OUTAGE).await;
    proxy.restore().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let outcomes = load.finish().await;
    assert!(outcomes.iter().all(|o| o.status == Some(201)));

    let counts = mesh.flushed_export_counts().await;
    let stored = mesh.wait_for_distinct_spans(counts.spans_exported).await;
    println!("outage with a 512-span queue: {counts:?}; {stored} distinct spans stored");
    // The queue could not hold 10 s of spans: some were dropped, and the
    // count of the dropped is exact (see assert_stored_as_counted).
    assert!(counts.spans_not_exported > 0, "{counts:?}");
    assert_stored_as_counted(&counts, stored);
    mesh.stop().await;
}

/// The store holds every span the exporters counted as acknowledged, and
/// of the rest only spans of exports counted as failed: an export whose
/// request reached the collector before the cut took its answer is stored
/// and, to the exporter, failed. Anything else the services ended and the
/// store lacks was dropped and counted (`spans_not_exported` is ended minus
/// exported minus failed), so a span lost without being counted, or one
/// counted as exported that never arrived, breaks the bounds.
fn assert_stored_as_counted(counts: &tracemesh_runtime::export_stats::ExportSnapshot, stored: u64) {
    assert!(
        stored >= counts.spans_exported,
        "acknowledged spans missing from the store: {stored} stored, {counts:?}"
    );
    assert!(
        stored <= counts.spans_exported + counts.spans_failed,
        "spans stored that no export carried: {stored} stored, {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_collector_does_not_slow_requests() {
    let _alone = common::one_load_at_a_time().await;
    let proxy = CutProxy::start().await;
    let mut mesh = mesh_behind(&proxy, "65536").await;

    let load = Load::start(&mesh.gateway, 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let slow_from = Instant::now();
    // Every chunk towards the collector waits 2 s: each export takes at
    // least that long, so the exporters fall behind.
    proxy.set_delay(Duration::from_secs(2));
    tokio::time::sleep(Duration::from_secs(8)).await;
    let slow_to = Instant::now();
    proxy.set_delay(Duration::ZERO);
    let outcomes = load.finish().await;

    assert!(outcomes.iter().all(|o| o.status == Some(201)));
    assert_unaffected(
        &outcomes,
        "collector answering 2 s late",
        slow_from,
        slow_to,
    );
    let counts = mesh.flushed_export_counts().await;
    println!("slow collector: {counts:?}");
    assert_eq!(counts.spans_failed, 0, "{counts:?}");
    mesh.stop().await;
}
