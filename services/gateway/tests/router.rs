//! The router on its own, through `tower::ServiceExt::oneshot`: everything
//! the gateway answers without calling downstream. The downstream URLs point
//! at a dead port, so a test that reached one would fail loudly (503).

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tracemesh_gateway::{AppState, Config, app};
use tracemesh_runtime::error_body::ErrorBody;
use tracemesh_runtime::fault::Faults;

async fn router_with(config: Config) -> Router {
    app(AppState::new(&config, Faults::default()).unwrap())
}

async fn router() -> Router {
    router_with(common::config(&common::dead_url().await)).await
}

const CHECKOUT: &str = r#"{"user_id":"u-1001","items":[{"sku":"KEY-001","quantity":1}],
    "card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}}"#;

fn post_json(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

/// Sends `request`, and reads the answer as an error body.
async fn error(router: Router, request: Request<Body>) -> (StatusCode, ErrorBody) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "a {status} without a JSON body: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "not an error body ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

#[tokio::test]
async fn healthz_answers_ok_without_calling_downstream() {
    let request = Request::get("/healthz").body(Body::empty()).unwrap();
    let response = router().await.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn an_unknown_path_is_a_json_404() {
    let request = Request::get("/api/nothing").body(Body::empty()).unwrap();
    let (status, body) = error(router().await, request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body.error.code, "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let request = || {
        Request::delete("/api/products")
            .body(Body::empty())
            .unwrap()
    };
    let (status, body) = error(router().await, request()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body.error.code, "method_not_allowed");
    // The JSON fallback keeps the `Allow` header HTTP asks of a 405.
    let response = router().await.oneshot(request()).await.unwrap();
    let allow = response
        .headers()
        .get(header::ALLOW)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(allow.contains("GET"), "{allow}");
}

#[tokio::test]
async fn checkout_with_malformed_json_is_a_json_400() {
    let (status, body) = error(router().await, post_json("/api/checkout", "{not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.error.code, "invalid_json");
}

#[tokio::test]
async fn checkout_without_a_field_is_a_400_naming_it() {
    let json = r#"{"user_id":"u-1001","items":[{"sku":"KEY-001"}],"card":{}}"#;
    let (status, body) = error(router().await, post_json("/api/checkout", json)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.error.code, "invalid_argument");
    assert!(
        body.error.message.contains("items[0]"),
        "{}",
        body.error.message
    );
    assert!(
        body.error.message.contains("quantity"),
        "{}",
        body.error.message
    );
}

#[tokio::test]
async fn checkout_with_a_field_of_the_wrong_type_is_a_400_naming_it() {
    let json = CHECKOUT.replace(r#""quantity":1"#, r#""quantity":"one""#);
    let (status, body) = error(router().await, post_json("/api/checkout", json)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.error.message.contains("items[0].quantity"),
        "{}",
        body.error.message
    );
}

#[tokio::test]
async fn checkout_with_a_malformed_sku_is_a_400_naming_it() {
    let json = CHECKOUT.replace("KEY-001", "key-1");
    let (status, body) = error(router().await, post_json("/api/checkout", json)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.error.code, "invalid_argument");
    assert!(
        body.error.message.starts_with("items[0].sku:"),
        "{}",
        body.error.message
    );
}

#[tokio::test]
async fn checkout_with_a_short_card_number_is_a_400_naming_it() {
    let json = CHECKOUT.replace("4242424242424242", "4242");
    let (status, body) = error(router().await, post_json("/api/checkout", json)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.error.message.starts_with("card.number:"),
        "{}",
        body.error.message
    );
    assert!(
        !body.error.message.contains("4242"),
        "the number is echoed back"
    );
}

#[tokio::test]
async fn checkout_with_a_malformed_idempotency_key_is_a_400() {
    let mut request = post_json("/api/checkout", CHECKOUT);
    request
        .headers_mut()
        .insert("idempotency-key", "has spaces".parse().unwrap());
    let (status, body) = error(router().await, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.error.message.starts_with("Idempotency-Key:"),
        "{}",
        body.error.message
    );
}

#[tokio::test]
async fn checkout_over_the_body_limit_is_a_json_413() {
    let mut config = common::config(&common::dead_url().await);
    config.max_body_bytes = 64;
    let router = router_with(config).await;
    let (status, body) = error(router, post_json("/api/checkout", CHECKOUT)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body.error.code, "payload_too_large");
}

#[tokio::test]
async fn checkout_without_a_json_content_type_is_a_json_415() {
    let request = Request::post("/api/checkout")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(CHECKOUT))
        .unwrap();
    let (status, body) = error(router().await, request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body.error.code, "unsupported_media_type");
}

#[tokio::test]
async fn a_malformed_user_id_is_a_400() {
    let request = Request::get("/api/users/1001").body(Body::empty()).unwrap();
    let (status, body) = error(router().await, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.error.message.starts_with("id:"),
        "{}",
        body.error.message
    );
}

#[tokio::test]
async fn a_malformed_order_id_is_a_400() {
    let request = Request::get("/api/orders/a%2Fb%20c")
        .body(Body::empty())
        .unwrap();
    let (status, body) = error(router().await, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.error.code, "invalid_argument");
}

#[tokio::test]
async fn the_w3c_test_endpoint_is_off_by_default() {
    let (status, _) = error(router().await, post_json("/test", "[]")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_w3c_test_endpoint_refuses_a_malformed_list() {
    let mut config = common::config(&common::dead_url().await);
    config.w3c_test_endpoint = true;
    let router = router_with(config).await;

    let (status, body) = error(router.clone(), post_json("/test", r#"{"url":"x"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.error.code, "invalid_argument");

    let bad_url = r#"[{"url":"ftp://example/","arguments":[]}]"#;
    let (status, body) = error(router, post_json("/test", bad_url)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.error.message.starts_with("[0].url:"),
        "{}",
        body.error.message
    );
}

#[tokio::test]
async fn the_w3c_test_endpoint_answers_200_to_an_empty_list() {
    let mut config = common::config(&common::dead_url().await);
    config.w3c_test_endpoint = true;
    let response = router_with(config)
        .await
        .oneshot(post_json("/test", "[]"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
