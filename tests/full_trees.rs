//! Each gateway endpoint, on success and on each error path, against its
//! declarative expected tree (harness/expectations/*.yaml), on the real mesh.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{DECLINED_CARD, GOOD_CARD, Mesh, Service, checkout_body};
use tracemesh_harness::checks::expect::ExpectedTree;
use tracemesh_harness::checks::full_tree::check_trace;

fn expected(file: &str) -> ExpectedTree {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("harness/expectations")
        .join(file);
    ExpectedTree::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Sends one request and checks its trace against `file`.
async fn assert_tree(
    mesh: &Mesh,
    request: reqwest::RequestBuilder,
    status: u16,
    file: &str,
) -> serde_json::Value {
    let response = request.send().await.expect("the gateway answers");
    assert_eq!(response.status().as_u16(), status, "{file}");
    let trace_id = common::trace_id_of(&response);
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    let spans = mesh.ready_trace(&trace_id).await;
    let verdict = check_trace(&expected(file), &trace_id, spans);
    assert!(
        verdict.passed,
        "{file}: {:#?}\nfigures: {:#?}",
        verdict.reasons, verdict.figures
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_and_error_path_matches_its_expected_tree() {
    let mesh = Mesh::start().await;
    let http = reqwest::Client::new();
    let post = |body| http.post(mesh.url("/api/checkout")).json(&body);

    assert_tree(
        &mesh,
        http.get(mesh.url("/api/products")),
        200,
        "products.yaml",
    )
    .await;
    assert_tree(
        &mesh,
        http.get(mesh.url("/api/users/u-1002")),
        200,
        "user-found.yaml",
    )
    .await;
    assert_tree(
        &mesh,
        http.get(mesh.url("/api/users/u-9999")),
        404,
        "user-not-found.yaml",
    )
    .await;
    let order = assert_tree(
        &mesh,
        post(checkout_body("u-1001", "KEY-001", 1, GOOD_CARD)),
        201,
        "checkout-succeeds.yaml",
    )
    .await;
    assert_tree(
        &mesh,
        post(checkout_body("u-1001", "KEY-001", 0, GOOD_CARD)),
        400,
        "checkout-invalid-input.yaml",
    )
    .await;
    assert_tree(
        &mesh,
        post(checkout_body("u-9999", "KEY-001", 1, GOOD_CARD)),
        422,
        "checkout-unknown-user.yaml",
    )
    .await;
    assert_tree(
        &mesh,
        post(checkout_body("u-1003", "CHR-007", 1, GOOD_CARD)),
        409,
        "checkout-out-of-stock.yaml",
    )
    .await;
    assert_tree(
        &mesh,
        post(checkout_body("u-1004", "MOU-002", 1, DECLINED_CARD)),
        402,
        "checkout-card-declined.yaml",
    )
    .await;
    let id = order["id"].as_str().expect("order id");
    assert_tree(
        &mesh,
        http.get(mesh.url(&format!("/api/orders/{id}"))),
        200,
        "order-found.yaml",
    )
    .await;
    assert_tree(
        &mesh,
        http.get(mesh.url("/api/orders/ord_none")),
        404,
        "order-not-found.yaml",
    )
    .await;

    // A downstream service down: kill inventory outright. The gateway must
    // answer 503 in bounded time, with the error at the hop that failed.
    let inventory = nix::unistd::Pid::from_raw(mesh.pid(Service::Inventory) as i32);
    nix::sys::signal::kill(inventory, nix::sys::signal::Signal::SIGKILL).unwrap();
    common::wait_until_gone(mesh.pid(Service::Inventory));
    // The first call may still find the dead process's connection and see it
    // reset (502); either way the answer comes in bounded time.
    let started = Instant::now();
    let first = http.get(mesh.url("/api/products")).send().await.unwrap();
    assert!(
        [502, 503, 504].contains(&first.status().as_u16()),
        "{}",
        first.status()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the gateway took {:?} to give up on a dead inventory",
        started.elapsed()
    );
    // From then on the connection is refused: 503, error at the failed hop.
    assert_tree(
        &mesh,
        http.get(mesh.url("/api/products")),
        503,
        "products-inventory-down.yaml",
    )
    .await;
}
