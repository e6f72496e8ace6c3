//! The gateway served for real (port 0, `serve`, a real HTTP client) with
//! every downstream URL pointing at a port nothing listens on: it must stay
//! up, answer JSON 503s in bounded time, and still shut down cleanly.

mod common;

use std::time::{Duration, Instant};

use common::Gateway;
use tracemesh_runtime::error_body::ErrorBody;

#[tokio::test]
async fn products_answer_a_json_503_promptly_when_inventory_is_down() {
    let gateway = Gateway::start(common::config(&common::dead_url().await)).await;
    let started = Instant::now();
    let response = reqwest::get(gateway.url("/api/products")).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 503);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.code, "service_unavailable");
    assert!(
        body.error.message.contains("inventory"),
        "{}",
        body.error.message
    );
    // A refused connection fails at once, well inside the 3 s deadline.
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn checkout_answers_a_json_503_when_the_user_service_is_down() {
    let gateway = Gateway::start(common::config(&common::dead_url().await)).await;
    let body = serde_json::json!({
        "user_id": "u-1001",
        "items": [{"sku": "KEY-001", "quantity": 1}],
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    });
    let response = reqwest::Client::new()
        .post(gateway.url("/api/checkout"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: ErrorBody = response.json().await.unwrap();
    assert!(
        body.error.message.contains("user"),
        "{}",
        body.error.message
    );
    gateway.stop().await;
}

#[tokio::test]
async fn readyz_names_every_service_that_is_down() {
    let gateway = Gateway::start(common::config(&common::dead_url().await)).await;
    let started = Instant::now();
    let response = reqwest::get(gateway.url("/readyz")).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "probes are not bounded"
    );
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "not_ready", "unavailable": ["user", "order", "inventory"]})
    );
    gateway.stop().await;
}

#[tokio::test]
async fn healthz_stays_ok_while_downstream_is_down() {
    let gateway = Gateway::start(common::config(&common::dead_url().await)).await;
    let response = reqwest::get(gateway.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    gateway.stop().await;
}

#[tokio::test]
async fn serve_refuses_a_downstream_url_that_is_not_a_url() {
    let mut config = common::config(&common::dead_url().await);
    config.order_url = "not a url".to_owned();
    let gateway = Gateway::start(config).await;
    let served = gateway.served.await.unwrap();
    let message = served.unwrap_err().to_string();
    assert!(message.contains("--order-url"), "{message}");
}
