//! Latency attribution on the real mesh: 40 ms injected into inventory's
//! Reserve (through its admin endpoint) shows up as inventory's self time on
//! the critical path, within 10%, and no other service absorbs it.

mod common;

use std::time::Duration;

use common::{GOOD_CARD, Mesh, Service, checkout_body};
use tracemesh_harness::checks::attribution::{
    InjectedLatency, RunAttribution, check_injected_latency,
};
use tracemesh_harness::trace::{TraceTree, TreeOptions};

const CHECKOUTS_PER_RUN: usize = 25;

/// Places `n` checkouts one after another (no queueing at the planted lock)
/// and returns their trees.
async fn run(mesh: &Mesh, http: &reqwest::Client, n: usize) -> Vec<TraceTree> {
    let mut trace_ids = Vec::new();
    for i in 0..n {
        let user = ["u-1001", "u-1002", "u-1003", "u-1004", "u-1005"][i % 5];
        let (status, body, trace_id) = mesh
            .checkout(http, checkout_body(user, "CAB-004", 1, GOOD_CARD))
            .await;
        assert_eq!(status, 201, "{body}");
        trace_ids.push(trace_id);
    }
    let mut trees = Vec::new();
    for id in &trace_ids {
        let spans = mesh.ready_trace(id).await;
        trees.push(TraceTree::build(id, spans, &TreeOptions::default()));
    }
    trees
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_injected_in_inventory_is_attributed_to_inventory() {
    let mesh = Mesh::start().await;
    let http = reqwest::Client::new();
    // Warm the connections so the first checkout's set-up cost is not in the baseline.
    run(&mesh, &http, 2).await;

    // Alternate small batches with and without the fault, so a change in
    // the machine's load during the test affects both sides alike.
    let mut baseline_trees = Vec::new();
    let mut treated_trees = Vec::new();
    for _ in 0..CHECKOUTS_PER_RUN / 5 {
        baseline_trees.extend(run(&mesh, &http, 5).await);
        mesh.set_faults(
            Service::Inventory,
            "seed: 7\noperations:\n  Reserve:\n    latency: {distribution: fixed, ms: 40}\n",
        )
        .await;
        treated_trees.extend(run(&mesh, &http, 5).await);
        mesh.set_faults(Service::Inventory, "").await;
    }
    let (baseline, skipped) = RunAttribution::from_trees(&baseline_trees);
    assert_eq!(skipped, 0);
    let (treated, skipped) = RunAttribution::from_trees(&treated_trees);
    assert_eq!(skipped, 0);

    let injected = InjectedLatency {
        service: "inventory".into(),
        operation: None,
        latency: Duration::from_millis(40),
    };
    let verdict = check_injected_latency(&baseline, &treated, &injected, 0.10);
    eprintln!("attribution figures: {:#?}", verdict.figures);
    assert!(
        verdict.passed,
        "{:#?}\n{:#?}",
        verdict.reasons, verdict.figures
    );
}
