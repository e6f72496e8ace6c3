//! Black-box: `serve` on a real port, called by a real HTTP client, then
//! shut down.

use tracemesh_payment::{Config, serve};
use tracemesh_runtime::fault::Faults;
use tracemesh_runtime::service::ServiceContext;
use tracemesh_runtime::shutdown::Shutdown;

#[tokio::test]
async fn serve_charges_over_http_and_returns_after_shutdown() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let ctx = ServiceContext {
        data_dir: data_dir.path().to_owned(),
        faults: Faults::default(),
    };
    let config = Config {
        provider_latency_ms: 1,
        provider_jitter_ms: 1,
    };
    let shutdown = Shutdown::new();
    let server = tokio::spawn(serve(listener, ctx, config, shutdown.clone()));

    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/charges"))
        .header("idempotency-key", "serve-test")
        .json(&serde_json::json!({
            "amount_cents": 2900,
            "currency": "usd",
            "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2099, "cvc": "999"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let charge: tracemesh_payment::api::Charge = response.json().await.unwrap();
    assert_eq!(charge.card_last4, "4242");
    assert_eq!(charge.amount_cents, 2900);

    shutdown.trigger();
    let served = tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("serve returns promptly after shutdown")
        .unwrap();
    assert!(served.is_ok(), "{served:?}");
}
