//! Full trees on the mesh as containers: a checkout, a product listing and
//! a declined checkout, each checked against its expected tree in
//! harness/expectations, with the spans read back from the trace backend
//! container over its query API.
//!
//! Three backends: the harness's own collector (always, where the tracemesh
//! image is), and where their public images are present locally, the real
//! OpenTelemetry Collector in front of Tempo, and in front of Jaeger.

mod common;
mod containers_support;

use std::path::Path;

use common::{DECLINED_CARD, GOOD_CARD, checkout_body};
use containers_support::{Backend, ContainerMesh, pinned_reference, split_reference};
use tracemesh_harness::checks::expect::ExpectedTree;
use tracemesh_harness::checks::full_tree::check_trace;

fn expected(file: &str) -> ExpectedTree {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("harness/expectations")
        .join(file);
    ExpectedTree::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Sends one request, expects `status`, and checks its trace against `file`
/// as the backend returns it.
async fn assert_tree(
    mesh: &ContainerMesh,
    request: reqwest::RequestBuilder,
    status: u16,
    file: &str,
) {
    let response = request.send().await.expect("the gateway answers");
    assert_eq!(response.status().as_u16(), status, "{file}");
    let trace_id = common::trace_id_of(&response);
    let spans = mesh.ready_trace(&trace_id).await;
    let verdict = check_trace(&expected(file), &trace_id, spans);
    assert!(
        verdict.passed,
        "{file} through {}: {:#?}\nfigures: {:#?}",
        mesh.source().describe(),
        verdict.reasons,
        verdict.figures
    );
}

/// The three requests of this suite, on whichever backend `mesh` has.
async fn three_trees(mesh: &ContainerMesh) {
    let http = &mesh.http;
    let checkout = |body| http.post(mesh.url("/api/checkout")).json(&body);
    assert_tree(
        mesh,
        checkout(checkout_body("u-1001", "KEY-001", 1, GOOD_CARD)),
        201,
        "checkout-succeeds.yaml",
    )
    .await;
    assert_tree(
        mesh,
        http.get(mesh.url("/api/products")),
        200,
        "products.yaml",
    )
    .await;
    assert_tree(
        mesh,
        checkout(checkout_body("u-1004", "MOU-002", 1, DECLINED_CARD)),
        402,
        "checkout-card-declined.yaml",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_through_the_harness_collector_match_their_expected_trees() {
    let Some(mesh) = ContainerMesh::builder().start().await else {
        return;
    };
    three_trees(&mesh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_through_the_otel_collector_into_tempo_match_their_expected_trees() {
    let Some(mesh) = ContainerMesh::builder()
        .backend(Backend::CollectorToTempo)
        .start()
        .await
    else {
        return;
    };
    three_trees(&mesh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_through_the_otel_collector_into_jaeger_match_their_expected_trees() {
    let Some(mesh) = ContainerMesh::builder()
        .backend(Backend::CollectorToJaeger)
        .start()
        .await
    else {
        return;
    };
    three_trees(&mesh).await;
}

/// The real-backend variants run the images the compose demo pins.
#[test]
fn public_image_tags_are_read_from_the_compose_file() {
    let compose = "services:\n  tempo:\n    image: grafana/tempo:2.9.1\n  \
                   jaeger:\n    image: \"${JAEGER_IMAGE:-cr.jaegertracing.io/jaegertracing/jaeger:2.16.0}\"\n";
    assert_eq!(
        pinned_reference(compose, "grafana/tempo").as_deref(),
        Some("grafana/tempo:2.9.1")
    );
    assert_eq!(
        pinned_reference(compose, "jaegertracing/jaeger").as_deref(),
        Some("cr.jaegertracing.io/jaegertracing/jaeger:2.16.0")
    );
    assert_eq!(
        pinned_reference(compose, "otel/opentelemetry-collector-contrib"),
        None
    );
}

#[test]
fn image_references_split_into_name_and_tag() {
    assert_eq!(
        split_reference("tracemesh:local"),
        ("tracemesh".into(), "local".into())
    );
    assert_eq!(
        split_reference("localhost:5000/tracemesh"),
        ("localhost:5000/tracemesh".into(), "latest".into())
    );
    assert_eq!(
        split_reference("localhost:5000/tracemesh:ci"),
        ("localhost:5000/tracemesh".into(), "ci".into())
    );
}
