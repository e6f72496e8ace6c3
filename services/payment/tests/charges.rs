//! `POST /v1/charges` through the whole router (middleware included), with
//! `tower::ServiceExt::oneshot`: each provider outcome, idempotent replay,
//! key reuse, and the JSON errors of malformed requests.

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use tracemesh_payment::provider::{
    CARD_DECLINED, CARD_INSUFFICIENT_FUNDS, CARD_PROCESSING_ERROR, CARD_SUCCEEDS,
};
use tracemesh_payment::{AppState, Config, REPLAYED_HEADER, app};
use tracemesh_runtime::fault::Faults;

fn state() -> AppState {
    let no_latency = Config {
        provider_latency_ms: 0,
        provider_jitter_ms: 0,
    };
    AppState::new(&no_latency, Faults::default())
}

fn charge_body(number: &str) -> Value {
    json!({
        "amount_cents": 8900,
        "currency": "usd",
        "card": {"number": number, "exp_month": 12, "exp_year": 2099, "cvc": "123"},
        "description": "order o-1"
    })
}

fn post(key: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post("/v1/charges").header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.body(body.into()).unwrap()
}

fn post_json(key: &str, body: &Value) -> Request<Body> {
    post(Some(key), body.to_string())
}

/// Sends `request` and returns the status, the replay header and the JSON body.
async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, bool, Value) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let replayed = response.headers().contains_key(REPLAYED_HEADER);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("body is not JSON ({e}): {bytes:?}"));
    (status, replayed, body)
}

#[tokio::test]
async fn a_good_card_is_charged_with_201() {
    let (status, replayed, body) =
        send(&state(), post_json("k1", &charge_body(CARD_SUCCEEDS))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(!replayed);
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("ch_") && id.len() == 35, "{id}");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["amount_cents"], 8900);
    assert_eq!(body["currency"], "usd");
    assert_eq!(body["card_last4"], "4242");
    let created_at = body["created_at"].as_str().unwrap();
    assert!(
        created_at.ends_with('Z') && created_at.contains('T'),
        "{created_at}"
    );
}

#[tokio::test]
async fn a_declined_card_gets_402_with_its_decline_code() {
    for (number, decline_code) in [
        (CARD_DECLINED, "generic_decline"),
        (CARD_INSUFFICIENT_FUNDS, "insufficient_funds"),
    ] {
        let (status, _, body) = send(&state(), post_json("k1", &charge_body(number))).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
        assert_eq!(body["error"]["code"], "card_declined");
        assert_eq!(body["error"]["decline_code"], decline_code);
        assert!(body["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn an_expired_card_gets_402_expired_card() {
    let mut body = charge_body(CARD_SUCCEEDS);
    body["card"]["exp_year"] = json!(2001);
    let (status, _, body) = send(&state(), post_json("k1", &body)).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(body["error"]["code"], "expired_card");
    assert!(body["error"].get("decline_code").is_none(), "{body}");
}

#[tokio::test]
async fn a_provider_error_gets_503_processing_error() {
    let (status, _, body) = send(
        &state(),
        post_json("k1", &charge_body(CARD_PROCESSING_ERROR)),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "processing_error");
}

#[tokio::test]
async fn an_invalid_card_number_gets_400_naming_the_field() {
    let (status, _, body) = send(&state(), post_json("k1", &charge_body("4242424242424241"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_number");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("card.number"), "{message}");
    assert!(!message.contains("4242424242424241"), "{message}");
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_charge() {
    let state = state();
    let body = charge_body(CARD_SUCCEEDS);
    let (first_status, first_replayed, first) = send(&state, post_json("order-7", &body)).await;
    let (again_status, again_replayed, again) = send(&state, post_json("order-7", &body)).await;
    assert_eq!(first_status, StatusCode::CREATED);
    assert_eq!(again_status, StatusCode::CREATED);
    assert!(!first_replayed);
    assert!(again_replayed);
    assert_eq!(first, again, "same id, same body");
}

#[tokio::test]
async fn a_retried_decline_is_replayed_too() {
    let state = state();
    let body = charge_body(CARD_DECLINED);
    let (_, _, first) = send(&state, post_json("order-8", &body)).await;
    let (status, replayed, again) = send(&state, post_json("order-8", &body)).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert!(replayed);
    assert_eq!(first, again);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_make_one_charge() {
    let slow = Config {
        provider_latency_ms: 20,
        provider_jitter_ms: 0,
    };
    let state = AppState::new(&slow, Faults::default());
    let body = charge_body(CARD_SUCCEEDS);
    let (a, b) = tokio::join!(
        send(&state, post_json("order-9", &body)),
        send(&state, post_json("order-9", &body))
    );
    assert_eq!(a.0, StatusCode::CREATED);
    assert_eq!(b.0, StatusCode::CREATED);
    assert_eq!(a.2["id"], b.2["id"]);
    assert!(a.1 != b.1, "exactly one of the two is a replay");
}

#[tokio::test]
async fn the_same_key_with_another_request_is_a_409() {
    let state = state();
    send(&state, post_json("order-10", &charge_body(CARD_SUCCEEDS))).await;
    let mut other = charge_body(CARD_SUCCEEDS);
    other["amount_cents"] = json!(100);
    let (status, _, body) = send(&state, post_json("order-10", &other)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn a_request_that_failed_validation_can_be_fixed_and_retried_with_its_key() {
    let state = state();
    let (status, _, _) = send(&state, post_json("order-11", &charge_body("1234"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(&state, post_json("order-11", &charge_body(CARD_SUCCEEDS))).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_missing_or_oversized_idempotency_key_is_a_400() {
    let body = charge_body(CARD_SUCCEEDS).to_string();
    for key in [None, Some(""), Some(&*"k".repeat(256))] {
        let (status, _, json) = send(&state(), post(key, body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{key:?}");
        assert_eq!(json["error"]["code"], "missing_idempotency_key");
    }
    let (status, _, _) = send(&state(), post(Some(&"k".repeat(255)), body)).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn malformed_json_is_a_400_json_error() {
    let (status, _, body) = send(&state(), post(Some("k1"), "{\"amount_cents\": ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_json");
}

#[tokio::test]
async fn a_missing_field_is_a_400_naming_it() {
    let mut body = charge_body(CARD_SUCCEEDS);
    body["card"].as_object_mut().unwrap().remove("cvc");
    let (status, _, body) = send(&state(), post_json("k1", &body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_request");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("card: missing field `cvc`"),
        "{message}"
    );
}

#[tokio::test]
async fn a_mistyped_field_is_a_400_naming_it() {
    let mut body = charge_body(CARD_SUCCEEDS);
    body["card"]["exp_month"] = json!("twelve");
    let (status, _, body) = send(&state(), post_json("k1", &body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("card.exp_month"), "{message}");
}

#[tokio::test]
async fn a_card_number_sent_as_a_number_is_named_but_never_echoed() {
    let mut body = charge_body(CARD_SUCCEEDS);
    body["card"]["number"] = json!(4242424242424242_u64);
    let (status, _, body) = send(&state(), post_json("k1", &body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("card.number"), "{message}");
    assert!(!message.contains("4242"), "{message}");
}

#[tokio::test]
async fn an_unknown_field_is_a_400_naming_it() {
    let mut body = charge_body(CARD_SUCCEEDS);
    body["card"]["pin"] = json!("0000");
    let (status, _, body) = send(&state(), post_json("k1", &body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("pin"), "{message}");
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_a_415_json_error() {
    let request = Request::post("/v1/charges")
        .header("idempotency-key", "k1")
        .body(Body::from(charge_body(CARD_SUCCEEDS).to_string()))
        .unwrap();
    let (status, _, body) = send(&state(), request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"]["code"], "unsupported_media_type");
}

#[tokio::test]
async fn an_oversized_body_is_a_413_json_error() {
    let mut body = charge_body(CARD_SUCCEEDS);
    body["description"] = json!("x".repeat(tracemesh_payment::MAX_BODY_BYTES));
    let (status, _, body) = send(&state(), post_json("k1", &body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn an_unknown_path_is_a_json_404() {
    let request = Request::get("/v1/refunds").body(Body::empty()).unwrap();
    let (status, _, body) = send(&state(), request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let request = Request::get("/v1/charges").body(Body::empty()).unwrap();
    let (status, _, body) = send(&state(), request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn healthz_answers_200() {
    let request = Request::get("/healthz").body(Body::empty()).unwrap();
    let (status, _, body) = send(&state(), request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}
