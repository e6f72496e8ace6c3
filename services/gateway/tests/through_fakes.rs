//! The gateway end to end over HTTP, in front of a fake mesh: one in-test
//! tonic server playing user, order and inventory, whose answers are chosen
//! by the input (a SKU, a card number), so every error path is reachable.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Gateway;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};
use tracemesh_proto::inventory::v1::inventory_service_server::{
    InventoryService, InventoryServiceServer,
};
use tracemesh_proto::inventory::v1::{
    GetStockRequest, GetStockResponse, ListProductsRequest, ListProductsResponse, Product,
    ReleaseRequest, ReleaseResponse, ReserveRequest, ReserveResponse,
};
use tracemesh_proto::order::v1::order_service_server::{OrderService, OrderServiceServer};
use tracemesh_proto::order::v1::{GetOrderRequest, Order, OrderLine, PlaceOrderRequest};
use tracemesh_proto::user::v1::user_service_server::{UserService, UserServiceServer};
use tracemesh_proto::user::v1::{GetUserRequest, User, ValidateUserRequest, ValidateUserResponse};
use tracemesh_runtime::contract::Reason;
use tracemesh_runtime::error_body::ErrorBody;

// ---------------------------------------------------------------- the fake mesh

/// The three services at once. It remembers the idempotency keys it was sent.
#[derive(Clone, Default)]
struct FakeMesh {
    keys: Arc<Mutex<Vec<String>>>,
}

const ORDER_ID: &str = "o-0001";

fn user(id: &str) -> Option<User> {
    let (name, status) = match id {
        "u-1001" => ("Ada Lovelace", "active"),
        "u-1099" => ("Mallory Suspended", "suspended"),
        _ => return None,
    };
    Some(User {
        id: id.to_owned(),
        name: name.to_owned(),
        email: format!("{id}@example.com"),
        status: status.to_owned(),
    })
}

fn order(key: &str, last4: &str) -> Order {
    Order {
        id: ORDER_ID.to_owned(),
        user_id: "u-1001".to_owned(),
        lines: vec![OrderLine {
            sku: "KEY-001".to_owned(),
            quantity: 2,
            unit_price_cents: 8900,
        }],
        total_cents: 17800,
        status: "paid".to_owned(),
        payment_id: format!("pay-{key}"),
        card_last4: last4.to_owned(),
        created_at: "2026-11-01T12:00:00Z".to_owned(),
    }
}

#[tonic::async_trait]
impl UserService for FakeMesh {
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        user(&request.into_inner().user_id)
            .map(Response::new)
            .ok_or_else(|| Status::not_found("no such user"))
    }

    async fn validate_user(
        &self,
        request: Request<ValidateUserRequest>,
    ) -> Result<Response<ValidateUserResponse>, Status> {
        let user =
            user(&request.into_inner().user_id).ok_or_else(|| Status::not_found("no such user"))?;
        if user.status == "suspended" {
            return Err(Reason::UserSuspended.status("the account is suspended"));
        }
        Ok(Response::new(ValidateUserResponse { user: Some(user) }))
    }
}

#[tonic::async_trait]
impl OrderService for FakeMesh {
    async fn place_order(
        &self,
        request: Request<PlaceOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let request = request.into_inner();
        self.keys
            .lock()
            .unwrap()
            .push(request.idempotency_key.clone());
        let number = request.card.map(|c| c.number).unwrap_or_default();
        let sku = request
            .items
            .first()
            .map(|i| i.sku.as_str())
            .unwrap_or_default();
        match (sku, number.as_str()) {
            ("CHR-007", _) => Err(Reason::OutOfStock.status("CHR-007: 0 available")),
            ("ZZZ-999", _) => Err(Status::not_found("unknown SKU ZZZ-999")),
            ("BUG-000", _) => Err(Status::internal("a bug in the order service")),
            ("SLO-000", _) => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Err(Status::internal("woke up too late"))
            }
            (_, "4000000000000002") => {
                Err(Reason::CardDeclined.status("card declined: generic_decline"))
            }
            (_, "4000000000000119") => {
                Err(Reason::PaymentUnavailable.status("payment answered 503"))
            }
            (_, "4242424242424241") => {
                Err(Reason::InvalidCard.status("the card number fails the Luhn check"))
            }
            _ => Ok(Response::new(order(
                &request.idempotency_key,
                &number[number.len() - 4..],
            ))),
        }
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        if request.into_inner().order_id == ORDER_ID {
            Ok(Response::new(order("k", "4242")))
        } else {
            Err(Status::not_found("no such order"))
        }
    }
}

#[tonic::async_trait]
impl InventoryService for FakeMesh {
    async fn list_products(
        &self,
        _: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        let product = |sku: &str, name: &str, price_cents, stock| Product {
            sku: sku.to_owned(),
            name: name.to_owned(),
            price_cents,
            stock,
        };
        Ok(Response::new(ListProductsResponse {
            products: vec![
                product("KEY-001", "Mechanical keyboard", 8900, 1000),
                product("CHR-007", "Office chair", 19900, 0),
            ],
        }))
    }

    async fn get_stock(
        &self,
        _: Request<GetStockRequest>,
    ) -> Result<Response<GetStockResponse>, Status> {
        Err(Status::unimplemented("not used by the gateway"))
    }

    async fn reserve(
        &self,
        _: Request<ReserveRequest>,
    ) -> Result<Response<ReserveResponse>, Status> {
        Err(Status::unimplemented("not used by the gateway"))
    }

    async fn release(
        &self,
        _: Request<ReleaseRequest>,
    ) -> Result<Response<ReleaseResponse>, Status> {
        Err(Status::unimplemented("not used by the gateway"))
    }
}

/// Serves the fake mesh on port 0, health included; returns its URL. The
/// server task ends with the test's runtime.
async fn start_fake_mesh(mesh: FakeMesh) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<UserServiceServer<FakeMesh>>().await;
    reporter.set_serving::<OrderServiceServer<FakeMesh>>().await;
    reporter
        .set_serving::<InventoryServiceServer<FakeMesh>>()
        .await;
    let server = tonic::transport::Server::builder()
        .add_service(health)
        .add_service(UserServiceServer::new(mesh.clone()))
        .add_service(OrderServiceServer::new(mesh.clone()))
        .add_service(InventoryServiceServer::new(mesh))
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    format!("http://{addr}")
}

async fn start() -> (Gateway, FakeMesh) {
    let mesh = FakeMesh::default();
    let url = start_fake_mesh(mesh.clone()).await;
    (Gateway::start(common::config(&url)).await, mesh)
}

// ---------------------------------------------------------------- checkout

fn checkout(user_id: &str, sku: &str, card: &str) -> serde_json::Value {
    serde_json::json!({
        "user_id": user_id,
        "items": [{"sku": sku, "quantity": 2}],
        "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    })
}

const GOOD_CARD: &str = "4242424242424242";

async fn post_checkout(gateway: &Gateway, body: &serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(gateway.url("/api/checkout"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Checks out `body` and expects an error: its HTTP status and JSON code.
async fn checkout_error(body: serde_json::Value) -> (u16, String) {
    let (gateway, _) = start().await;
    let response = post_checkout(&gateway, &body).await;
    let status = response.status().as_u16();
    let error: ErrorBody = response.json().await.unwrap();
    gateway.stop().await;
    (status, error.error.code)
}

#[tokio::test]
async fn checkout_places_the_order_and_answers_201_with_it() {
    let (gateway, _) = start().await;
    let response = post_checkout(&gateway, &checkout("u-1001", "KEY-001", GOOD_CARD)).await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers().get("location").unwrap(),
        &format!("/api/orders/{ORDER_ID}")
    );
    let order: serde_json::Value = response.json().await.unwrap();
    assert_eq!(order["id"], ORDER_ID);
    assert_eq!(order["user_id"], "u-1001");
    assert_eq!(
        order["lines"],
        serde_json::json!([{"sku": "KEY-001", "quantity": 2, "unit_price_cents": 8900}])
    );
    assert_eq!(order["total_cents"], 17800);
    assert_eq!(order["status"], "paid");
    assert_eq!(order["card_last4"], "4242");
    assert_eq!(order["created_at"], "2026-11-01T12:00:00Z");
    assert!(order["payment_id"].as_str().unwrap().starts_with("pay-"));
    gateway.stop().await;
}

#[tokio::test]
async fn checkout_passes_the_idempotency_key_on_or_makes_one() {
    let (gateway, mesh) = start().await;
    let body = checkout("u-1001", "KEY-001", GOOD_CARD);
    for _ in 0..2 {
        let response = reqwest::Client::new()
            .post(gateway.url("/api/checkout"))
            .header("Idempotency-Key", "retry-42")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    assert_eq!(post_checkout(&gateway, &body).await.status(), 201);
    let keys = mesh.keys.lock().unwrap().clone();
    assert_eq!(keys[..2], ["retry-42", "retry-42"]);
    assert!(uuid::Uuid::parse_str(&keys[2]).is_ok(), "{}", keys[2]);
    gateway.stop().await;
}

#[tokio::test]
async fn checkout_answers_422_for_an_unknown_user() {
    let error = checkout_error(checkout("u-4040", "KEY-001", GOOD_CARD)).await;
    assert_eq!(error, (422, "unknown_user".to_owned()));
}

#[tokio::test]
async fn checkout_answers_403_for_a_suspended_user() {
    let error = checkout_error(checkout("u-1099", "KEY-001", GOOD_CARD)).await;
    assert_eq!(error, (403, "user_suspended".to_owned()));
}

#[tokio::test]
async fn checkout_answers_409_when_out_of_stock() {
    let error = checkout_error(checkout("u-1001", "CHR-007", GOOD_CARD)).await;
    assert_eq!(error, (409, "out_of_stock".to_owned()));
}

#[tokio::test]
async fn checkout_answers_422_for_an_unknown_sku() {
    let error = checkout_error(checkout("u-1001", "ZZZ-999", GOOD_CARD)).await;
    assert_eq!(error, (422, "unknown_sku".to_owned()));
}

#[tokio::test]
async fn checkout_answers_402_when_the_card_is_declined() {
    let error = checkout_error(checkout("u-1001", "KEY-001", "4000000000000002")).await;
    assert_eq!(error, (402, "card_declined".to_owned()));
}

#[tokio::test]
async fn checkout_answers_400_for_a_card_the_provider_calls_invalid() {
    let error = checkout_error(checkout("u-1001", "KEY-001", "4242424242424241")).await;
    assert_eq!(error, (400, "invalid_card".to_owned()));
}

#[tokio::test]
async fn checkout_answers_503_when_payment_is_unavailable() {
    let error = checkout_error(checkout("u-1001", "KEY-001", "4000000000000119")).await;
    assert_eq!(error, (503, "service_unavailable".to_owned()));
}

#[tokio::test]
async fn checkout_answers_502_when_the_order_service_fails() {
    let error = checkout_error(checkout("u-1001", "BUG-000", GOOD_CARD)).await;
    assert_eq!(error, (502, "bad_gateway".to_owned()));
}

#[tokio::test]
async fn checkout_answers_504_within_the_deadline_when_the_order_service_hangs() {
    let mesh = FakeMesh::default();
    let url = start_fake_mesh(mesh).await;
    let mut config = common::config(&url);
    config.downstream_timeout_ms = 300;
    let gateway = Gateway::start(config).await;

    let started = Instant::now();
    let response = post_checkout(&gateway, &checkout("u-1001", "SLO-000", GOOD_CARD)).await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 504);
    let error: ErrorBody = response.json().await.unwrap();
    assert_eq!(error.error.code, "gateway_timeout");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    gateway.stop().await;
}

// ---------------------------------------------------------------- reads

#[tokio::test]
async fn products_are_listed_from_inventory() {
    let (gateway, _) = start().await;
    let response = reqwest::get(gateway.url("/api/products")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["products"][0],
        serde_json::json!({"sku": "KEY-001", "name": "Mechanical keyboard", "price_cents": 8900, "stock": 1000})
    );
    assert_eq!(body["products"].as_array().unwrap().len(), 2);
    gateway.stop().await;
}

#[tokio::test]
async fn a_user_is_read_from_the_user_service() {
    let (gateway, _) = start().await;
    let response = reqwest::get(gateway.url("/api/users/u-1001"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"id": "u-1001", "name": "Ada Lovelace", "email": "u-1001@example.com", "status": "active"})
    );
    gateway.stop().await;
}

#[tokio::test]
async fn an_unknown_user_is_a_json_404() {
    let (gateway, _) = start().await;
    let response = reqwest::get(gateway.url("/api/users/u-4040"))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let error: ErrorBody = response.json().await.unwrap();
    assert_eq!(error.error.code, "not_found");
    gateway.stop().await;
}

#[tokio::test]
async fn an_order_is_read_back_and_an_unknown_one_is_a_404() {
    let (gateway, _) = start().await;
    let found = reqwest::get(gateway.url(&format!("/api/orders/{ORDER_ID}")))
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    let order: serde_json::Value = found.json().await.unwrap();
    assert_eq!(order["id"], ORDER_ID);
    let missing = reqwest::get(gateway.url("/api/orders/o-9999"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    gateway.stop().await;
}

#[tokio::test]
async fn readyz_is_ready_when_every_service_serves() {
    let (gateway, _) = start().await;
    let response = reqwest::get(gateway.url("/readyz")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ready"}));
    gateway.stop().await;
}
