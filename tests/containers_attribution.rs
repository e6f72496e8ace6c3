//! Latency attribution on the mesh as containers: 40 ms injected into
//! inventory's Reserve through inventory's admin endpoint (exposed on the
//! container's port 9000, token-guarded, mapped to the host) shows up as
//! inventory's self time on the critical path, within 10%, and no other
//! service absorbs it — with every hop crossing the container network.
//!
//! Unlike the process-based test (a baseline block, then a treated block),
//! the checkouts here alternate: fault off, fault on, fault on, fault off, ...
//! Six processes in containers share two cores with whatever else the
//! machine runs; a burst of load during one block would shift that block's
//! medians by more than the 4 ms tolerance. Interleaved, both runs see the
//! same conditions and only the injected latency tells them apart.

mod common;
mod containers_support;

use std::time::Duration;

use common::{GOOD_CARD, checkout_body};
use containers_support::ContainerMesh;
use tracemesh_harness::checks::attribution::{
    InjectedLatency, RunAttribution, check_injected_latency,
};
use tracemesh_harness::trace::{TraceTree, TreeOptions};

/// Checkouts in each run (baseline and treated).
const CHECKOUTS_PER_RUN: usize = 30;
const FAULT: &str =
    "seed: 7\noperations:\n  Reserve:\n    latency: {distribution: fixed, ms: 40}\n";

/// One checkout, one after another (no queueing at inventory's planted
/// lock to blur the picture); returns its trace id.
async fn checkout(mesh: &ContainerMesh, i: usize) -> String {
    let user = ["u-1001", "u-1002", "u-1003", "u-1004", "u-1005"][i % 5];
    let response = mesh
        .http
        .post(mesh.url("/api/checkout"))
        .json(&checkout_body(user, "CAB-004", 1, GOOD_CARD))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 201, "checkout #{i}");
    common::trace_id_of(&response)
}

/// The trees of `trace_ids`, read back from the backend.
async fn trees(mesh: &ContainerMesh, trace_ids: &[String]) -> Vec<TraceTree> {
    mesh.ready_traces(trace_ids)
        .await
        .into_iter()
        .zip(trace_ids)
        .map(|(spans, id)| TraceTree::build(id, spans, &TreeOptions::default()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_injected_into_the_inventory_container_is_attributed_to_inventory() {
    let Some(mesh) = ContainerMesh::builder().start().await else {
        return;
    };
    // Exposed beyond loopback, the admin endpoint is guarded: without the
    // bearer token nobody on the network can inject faults.
    let refused = mesh
        .http
        .put(mesh.admin_url("inventory"))
        .body(FAULT)
        .send()
        .await
        .expect("the admin endpoint answers");
    assert_eq!(refused.status(), 401, "a fault PUT without the token");

    // Warm every connection on the path, so no set-up cost lands in a run.
    for i in 0..2 {
        checkout(&mesh, i).await;
    }

    // Pairs in alternating order (off-on, on-off), so neither run is
    // always the one right after a fault change.
    let (mut baseline_ids, mut treated_ids) = (Vec::new(), Vec::new());
    for pair in 0..CHECKOUTS_PER_RUN {
        for fault_on in [pair % 2 == 1, pair % 2 == 0] {
            if fault_on {
                mesh.set_faults("inventory", FAULT).await;
                treated_ids.push(checkout(&mesh, pair).await);
            } else {
                mesh.clear_faults("inventory").await;
                baseline_ids.push(checkout(&mesh, pair).await);
            }
        }
    }
    mesh.clear_faults("inventory").await;

    let (baseline, skipped) = RunAttribution::from_trees(&trees(&mesh, &baseline_ids).await);
    assert_eq!(skipped, 0, "baseline traces without a root");
    let (treated, skipped) = RunAttribution::from_trees(&trees(&mesh, &treated_ids).await);
    assert_eq!(skipped, 0, "treated traces without a root");

    let injected = InjectedLatency {
        service: "inventory".into(),
        operation: None,
        latency: Duration::from_millis(40),
    };
    let verdict = check_injected_latency(&baseline, &treated, &injected, 0.10);
    eprintln!("attribution: {}", verdict.figures["delta_ms"]);
    assert!(
        verdict.passed,
        "{:#?}\n{:#?}",
        verdict.reasons, verdict.figures
    );
}
