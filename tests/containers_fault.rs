//! One fault, the way an orchestrator causes it: the inventory container is
//! stopped (`docker stop`) while requests are flowing.
//!
//! - Requests that need inventory get 502/503/504 from the gateway, each in
//!   bounded time (under 5 s), never a hang.
//! - Their traces end in an error at the hop that failed: the CLIENT span
//!   calling inventory (the gateway's, for a product listing; order's, for
//!   a checkout) is an error and has no SERVER child, and no inventory span
//!   exists.
//! - Requests that do not need inventory (a user lookup) still succeed.

mod common;
mod containers_support;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{GOOD_CARD, checkout_body};
use containers_support::ContainerMesh;
use tokio::sync::mpsc;
use tracemesh_harness::SpanRecord;
use tracemesh_harness::checks::expect::{ExpectedSpan, ExpectedStatus, ExpectedTree};
use tracemesh_harness::checks::full_tree::check_trace;
use tracemesh_harness::model::{SpanKind, StatusCode};
use tracemesh_harness::trace::{TraceTree, TreeOptions};

/// The most a request may take while a service behind the gateway is gone.
/// The gateway's own deadlines (connect 1 s, call 3 s) keep it under this.
const ANSWER_BOUND: Duration = Duration::from_secs(5);
/// Requests of the background load answered before, and after, the stop.
const REQUESTS_EACH_SIDE: usize = 20;
/// Statuses a gateway may answer when a service behind it is down.
const DOWNSTREAM_FAILED: [u16; 3] = [502, 503, 504];

/// One request of the background load.
#[derive(Debug)]
struct Outcome {
    path: &'static str,
    sent: Instant,
    elapsed: Duration,
    /// The status, or why there was no answer.
    status: Result<u16, String>,
}

/// Alternates a request that needs inventory with one that does not, until
/// the receiver is dropped.
async fn background_load(http: reqwest::Client, gateway: String, tx: mpsc::Sender<Outcome>) {
    for path in ["/api/products", "/api/users/u-1001"].into_iter().cycle() {
        let sent = Instant::now();
        let status = http
            .get(format!("{gateway}{path}"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string());
        let outcome = Outcome {
            path,
            sent,
            elapsed: sent.elapsed(),
            status,
        };
        if tx.send(outcome).await.is_err() {
            return;
        }
    }
}

fn expected(file: &str) -> ExpectedTree {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("harness/expectations")
        .join(file);
    ExpectedTree::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// GET /api/products with inventory's container gone. Like
/// products-inventory-down.yaml, except that `error.type` is only required,
/// not fixed: with the container's name gone from the network's DNS the
/// call may fail to resolve, be refused or time out, depending on timing.
fn products_with_inventory_gone(status: u16) -> ExpectedTree {
    ExpectedTree::new(
        "products with the inventory container stopped",
        ExpectedSpan::server("gateway", "GET /api/products")
            .status(ExpectedStatus::Error)
            .attr("http.route", "/api/products")
            .attr("http.response.status_code", i64::from(status))
            .attr_present("error.type")
            .child(
                ExpectedSpan::client(
                    "gateway",
                    "tracemesh.inventory.v1.InventoryService/ListProducts",
                )
                .status(ExpectedStatus::Error)
                .attr("rpc.system", "grpc")
                .attr_present("error.type"),
            ),
    )
}

/// The CLIENT spans calling inventory that failed without an answer: an
/// error, and no SERVER child.
fn unanswered_inventory_calls(tree: &TraceTree) -> Vec<usize> {
    (0..tree.len())
        .filter(|&i| {
            let span = tree.span(i);
            span.kind == SpanKind::Client
                && span
                    .name
                    .starts_with("tracemesh.inventory.v1.InventoryService/")
                && span.status.code == StatusCode::Error
                && !tree
                    .children(i)
                    .iter()
                    .any(|&c| tree.span(c).kind == SpanKind::Server)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_inventory_container_fails_only_the_requests_that_need_it() {
    let Some(mesh) = ContainerMesh::builder().start().await else {
        return;
    };

    // Load before the stop, so the gateway holds live connections to inventory.
    let (tx, mut rx) = mpsc::channel(64);
    let load = tokio::spawn(background_load(mesh.http.clone(), mesh.gateway.clone(), tx));
    let mut outcomes = Vec::new();
    while outcomes.len() < REQUESTS_EACH_SIDE {
        outcomes.push(rx.recv().await.expect("the load runs"));
    }

    let stop_sent = Instant::now();
    let stop_took = mesh.stop_service("inventory").await;
    let stopped = Instant::now();
    assert!(!mesh.is_running("inventory").await, "inventory still runs");
    eprintln!("docker stop inventory took {stop_took:?}");

    // Load after the stop: only requests sent after it completed count as
    // "after", those in flight during it may have been served either way.
    let mut after = 0;
    while after < REQUESTS_EACH_SIDE {
        let outcome = rx.recv().await.expect("the load runs");
        after += usize::from(outcome.sent >= stopped);
        outcomes.push(outcome);
    }
    drop(rx);
    load.await.expect("the load task");

    for o in &outcomes {
        let status = o
            .status
            .as_ref()
            .unwrap_or_else(|e| panic!("{} got no answer from the gateway: {e}", o.path));
        assert!(
            o.elapsed < ANSWER_BOUND,
            "{} took {:?} (answered {status})",
            o.path,
            o.elapsed
        );
        if o.path.starts_with("/api/users/") {
            assert_eq!(*status, 200, "a user lookup does not need inventory");
        } else if o.sent >= stopped {
            assert!(
                DOWNSTREAM_FAILED.contains(status),
                "products after the stop answered {status}"
            );
        } else if o.sent < stop_sent {
            assert_eq!(*status, 200, "products before the stop");
        } else {
            assert!(
                *status == 200 || DOWNSTREAM_FAILED.contains(status),
                "products during the stop answered {status}"
            );
        }
    }
    let worst = outcomes.iter().map(|o| o.elapsed).max().unwrap_or_default();
    eprintln!("{} requests, slowest {worst:?}", outcomes.len());

    // A product listing now: the error is at the gateway's call to inventory.
    let started = Instant::now();
    let response = mesh
        .http
        .get(mesh.url("/api/products"))
        .send()
        .await
        .expect("the gateway answers");
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    assert!(DOWNSTREAM_FAILED.contains(&status), "products: {status}");
    assert!(elapsed < ANSWER_BOUND, "products took {elapsed:?}");
    let trace_id = common::trace_id_of(&response);
    let verdict = check_trace(
        &products_with_inventory_gone(status),
        &trace_id,
        mesh.ready_trace(&trace_id).await,
    );
    assert!(
        verdict.passed,
        "{:#?}\n{:#?}",
        verdict.reasons, verdict.figures
    );

    // A checkout: user validates, order fails to reserve; the error is at
    // order's call to inventory, and the gateway reports it.
    let started = Instant::now();
    let response = mesh
        .http
        .post(mesh.url("/api/checkout"))
        .json(&checkout_body("u-1002", "KEY-001", 1, GOOD_CARD))
        .send()
        .await
        .expect("the gateway answers");
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    assert!(DOWNSTREAM_FAILED.contains(&status), "checkout: {status}");
    assert!(elapsed < ANSWER_BOUND, "checkout took {elapsed:?}");
    let trace_id = common::trace_id_of(&response);
    let spans: Vec<SpanRecord> = mesh.ready_trace(&trace_id).await;
    let tree = TraceTree::build(&trace_id, spans, &TreeOptions::default());
    let outline = tree.outline(40);
    assert!(tree.is_sound(), "{:?}\n{outline}", tree.defects());
    let root = tree.span(tree.root().expect("a root span"));
    assert_eq!(root.status.code, StatusCode::Error, "{outline}");
    let unanswered = unanswered_inventory_calls(&tree);
    assert_eq!(
        unanswered.len(),
        1,
        "one unanswered call to inventory:\n{outline}"
    );
    assert_eq!(
        tree.span(unanswered[0]).service_name,
        "order",
        "the failed call is order's: {}",
        tree.path_label(unanswered[0])
    );
    assert!(
        tree.spans().iter().all(|s| s.service_name != "inventory"),
        "a stopped inventory recorded spans:\n{outline}"
    );

    // A user lookup still succeeds, with its usual tree.
    let response = mesh
        .http
        .get(mesh.url("/api/users/u-1001"))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
    let trace_id = common::trace_id_of(&response);
    let verdict = check_trace(
        &expected("user-found.yaml"),
        &trace_id,
        mesh.ready_trace(&trace_id).await,
    );
    assert!(
        verdict.passed,
        "{:#?}\n{:#?}",
        verdict.reasons, verdict.figures
    );
}
