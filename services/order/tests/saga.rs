//! Black-box tests of PlaceOrder's saga: the real order `serve` and the real
//! payment `serve`, each on port 0, and a small inventory written here that
//! records the Reserve and Release calls it gets. (The real inventory crate
//! is its own team's; these tests need to count calls anyway.)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};
use tracemesh_order::Config;
use tracemesh_proto::inventory::v1::inventory_service_server::{
    InventoryService, InventoryServiceServer,
};
use tracemesh_proto::inventory::v1::{
    GetStockRequest, GetStockResponse, ListProductsRequest, ListProductsResponse, ReleaseRequest,
    ReleaseResponse, ReserveRequest, ReserveResponse, ReservedLine,
};
use tracemesh_proto::order::v1::order_service_client::OrderServiceClient;
use tracemesh_proto::order::v1::{Card, GetOrderRequest, OrderItem, PlaceOrderRequest};
use tracemesh_runtime::contract::Reason;
use tracemesh_runtime::fault::Faults;
use tracemesh_runtime::grpc_client::{self, Deadlines, TracedChannel};
use tracemesh_runtime::propagation::Hop;
use tracemesh_runtime::service::{ServeError, ServiceContext};
use tracemesh_runtime::shutdown::Shutdown;

const GOOD_CARD: &str = "4242424242424242";
const DECLINED_CARD: &str = "4000000000000002";

/// An inventory with three SKUs (`CHR-007` always out of stock) that
/// records the reservation ids of every Reserve and Release.
#[derive(Debug, Clone, Default)]
struct RecordingInventory {
    reserved: Arc<Mutex<Vec<String>>>,
    released: Arc<Mutex<Vec<String>>>,
}

impl RecordingInventory {
    fn reserved(&self) -> Vec<String> {
        self.reserved.lock().unwrap().clone()
    }
    fn released(&self) -> Vec<String> {
        self.released.lock().unwrap().clone()
    }
}

fn price_of(sku: &str) -> Option<i64> {
    HashMap::from([("KEY-001", 8900), ("MOU-002", 2900), ("CHR-007", 19900)])
        .get(sku)
        .copied()
}

#[tonic::async_trait]
impl InventoryService for RecordingInventory {
    async fn list_products(
        &self,
        _: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        Err(Status::unimplemented("order never lists products"))
    }

    async fn get_stock(
        &self,
        _: Request<GetStockRequest>,
    ) -> Result<Response<GetStockResponse>, Status> {
        Err(Status::unimplemented("order never reads stock"))
    }

    async fn reserve(
        &self,
        request: Request<ReserveRequest>,
    ) -> Result<Response<ReserveResponse>, Status> {
        let request = request.into_inner();
        self.reserved
            .lock()
            .unwrap()
            .push(request.reservation_id.clone());
        let mut lines = Vec::new();
        for item in request.items {
            let Some(price) = price_of(&item.sku) else {
                return Err(Status::not_found(format!("no SKU {}", item.sku)));
            };
            if item.sku == "CHR-007" {
                return Err(Reason::OutOfStock.status("CHR-007 is out of stock"));
            }
            lines.push(ReservedLine {
                sku: item.sku,
                quantity: item.quantity,
                unit_price_cents: price,
            });
        }
        let total_cents = lines.iter().map(|l| l.quantity * l.unit_price_cents).sum();
        Ok(Response::new(ReserveResponse {
            reservation_id: request.reservation_id,
            lines,
            total_cents,
        }))
    }

    async fn release(
        &self,
        request: Request<ReleaseRequest>,
    ) -> Result<Response<ReleaseResponse>, Status> {
        let id = request.into_inner().reservation_id;
        self.released.lock().unwrap().push(id);
        Ok(Response::new(ReleaseResponse { released: true }))
    }
}

/// Where order's payment calls go.
enum Payment {
    /// A real payment service with this provider latency.
    Running { latency_ms: u64 },
    /// A port nothing listens on.
    Down,
}

/// The services of one test, and how to stop them.
struct Mesh {
    order: OrderServiceClient<TracedChannel>,
    inventory: RecordingInventory,
    shutdown: Shutdown,
    servers: Vec<JoinHandle<Result<(), ServeError>>>,
    _data_dir: tempfile::TempDir,
}

async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

impl Mesh {
    async fn start(payment: Payment, payment_timeout_ms: u64) -> Mesh {
        let shutdown = Shutdown::new();
        let data_dir = tempfile::tempdir().unwrap();
        let ctx = ServiceContext {
            data_dir: data_dir.path().to_owned(),
            faults: Faults::default(),
        };
        let mut servers = Vec::new();

        let inventory = RecordingInventory::default();
        let (listener, inventory_addr) = bind().await;
        let service = InventoryServiceServer::new(inventory.clone());
        let stop = shutdown.clone();
        servers.push(tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop.wait())
                .await
                .map_err(|e| ServeError::Server(e.into()))
        }));

        let payment_addr = match payment {
            Payment::Running { latency_ms } => {
                let (listener, addr) = bind().await;
                let config = tracemesh_payment::Config {
                    provider_latency_ms: latency_ms,
                    provider_jitter_ms: 0,
                };
                servers.push(tokio::spawn(tracemesh_payment::serve(
                    listener,
                    ctx.clone(),
                    config,
                    shutdown.clone(),
                )));
                addr
            }
            // Bound then dropped: the port is free and nothing answers.
            Payment::Down => bind().await.1,
        };

        let (listener, order_addr) = bind().await;
        let config = Config {
            inventory_url: format!("http://{inventory_addr}"),
            payment_url: format!("http://{payment_addr}"),
            payment_timeout_ms,
            fix_payment_pool: false,
        };
        servers.push(tokio::spawn(tracemesh_order::serve(
            listener,
            ctx,
            config,
            shutdown.clone(),
        )));
        let order = OrderServiceClient::new(
            grpc_client::connect(
                Hop::external(),
                &format!("http://{order_addr}"),
                Deadlines::default(),
            )
            .unwrap(),
        );
        Mesh {
            order,
            inventory,
            shutdown,
            servers,
            _data_dir: data_dir,
        }
    }

    async fn place(
        &self,
        request: PlaceOrderRequest,
    ) -> Result<tracemesh_proto::order::v1::Order, Status> {
        self.order
            .clone()
            .place_order(request)
            .await
            .map(Response::into_inner)
    }

    /// Triggers shutdown and checks that every server returned cleanly.
    async fn stop(self) {
        self.shutdown.trigger();
        for server in self.servers {
            let served = tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .expect("a server returns promptly after shutdown")
                .unwrap();
            assert!(served.is_ok(), "{served:?}");
        }
    }
}

fn order_request(key: &str, card_number: &str, items: &[(&str, i64)]) -> PlaceOrderRequest {
    PlaceOrderRequest {
        user_id: "u-1001".to_owned(),
        items: items
            .iter()
            .map(|(sku, quantity)| OrderItem {
                sku: (*sku).to_owned(),
                quantity: *quantity,
            })
            .collect(),
        card: Some(Card {
            number: card_number.to_owned(),
            exp_month: 12,
            exp_year: 2099,
            cvc: "123".to_owned(),
        }),
        idempotency_key: key.to_owned(),
    }
}

fn reason(status: &Status) -> Option<Reason> {
    Reason::of(status)
}

#[tokio::test]
async fn place_order_stores_a_paid_order_that_get_order_returns() {
    let mesh = Mesh::start(Payment::Running { latency_ms: 0 }, 2000).await;
    let placed = mesh
        .place(order_request(
            "key-ok",
            GOOD_CARD,
            &[("KEY-001", 1), ("MOU-002", 2)],
        ))
        .await
        .unwrap();
    assert!(placed.id.starts_with("ord_"), "{}", placed.id);
    assert_eq!(placed.user_id, "u-1001");
    assert_eq!(placed.status, "paid");
    assert_eq!(placed.total_cents, 8900 + 2 * 2900);
    assert!(
        placed.payment_id.starts_with("ch_"),
        "{}",
        placed.payment_id
    );
    assert_eq!(placed.card_last4, "4242");
    assert_eq!(placed.lines.len(), 2);
    assert_eq!(placed.lines[1].sku, "MOU-002");
    assert_eq!(placed.lines[1].unit_price_cents, 2900);
    // RFC 3339 in UTC: 2026-11-03T10:00:00.123Z
    let created_at = &placed.created_at;
    assert!(
        created_at.as_bytes().get(10) == Some(&b'T') && created_at.ends_with('Z'),
        "{created_at}"
    );
    assert_eq!(mesh.inventory.reserved(), vec!["key-ok"]);
    assert!(mesh.inventory.released().is_empty());

    let fetched = mesh
        .order
        .clone()
        .get_order(GetOrderRequest {
            order_id: placed.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, placed);
    mesh.stop().await;
}

#[tokio::test]
async fn a_declined_card_releases_the_reservation_once_and_fails_with_card_declined() {
    let mesh = Mesh::start(Payment::Running { latency_ms: 0 }, 2000).await;
    let status = mesh
        .place(order_request(
            "key-declined",
            DECLINED_CARD,
            &[("KEY-001", 1)],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status), Some(Reason::CardDeclined));
    assert!(status.message().contains("generic_decline"), "{status:?}");
    assert_eq!(mesh.inventory.released(), vec!["key-declined"]);
    mesh.stop().await;
}

#[tokio::test]
async fn payment_down_releases_the_reservation_and_fails_with_unavailable() {
    let mesh = Mesh::start(Payment::Down, 2000).await;
    let status = mesh
        .place(order_request("key-down", GOOD_CARD, &[("KEY-001", 1)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(reason(&status), Some(Reason::PaymentUnavailable));
    assert_eq!(mesh.inventory.released(), vec!["key-down"]);
    mesh.stop().await;
}

#[tokio::test]
async fn a_slow_payment_releases_the_reservation_and_fails_with_deadline_exceeded() {
    let mesh = Mesh::start(Payment::Running { latency_ms: 500 }, 50).await;
    let status = mesh
        .place(order_request("key-slow", GOOD_CARD, &[("KEY-001", 1)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(reason(&status), Some(Reason::PaymentUnavailable));
    assert_eq!(mesh.inventory.released(), vec!["key-slow"]);
    mesh.stop().await;
}

#[tokio::test]
async fn an_invalid_card_releases_the_reservation_and_fails_with_invalid_card() {
    let mesh = Mesh::start(Payment::Running { latency_ms: 0 }, 2000).await;
    let status = mesh
        .place(order_request(
            "key-luhn",
            "4242424242424241",
            &[("KEY-001", 1)],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(reason(&status), Some(Reason::InvalidCard));
    assert!(!status.message().contains("4242424242424241"), "{status:?}");
    assert_eq!(mesh.inventory.released(), vec!["key-luhn"]);
    mesh.stop().await;
}

#[tokio::test]
async fn a_retried_place_order_reserves_and_charges_once() {
    let mesh = Mesh::start(Payment::Running { latency_ms: 0 }, 2000).await;
    let request = order_request("key-retry", GOOD_CARD, &[("MOU-002", 1)]);
    let first = mesh.place(request.clone()).await.unwrap();
    let again = mesh.place(request).await.unwrap();
    assert_eq!(first, again, "the same order, same payment id");
    // The charge comes after the Reserve in the saga: one Reserve, at most
    // one charge; and the retry was answered from the store.
    assert_eq!(mesh.inventory.reserved(), vec!["key-retry"]);
    mesh.stop().await;
}

#[tokio::test]
async fn another_user_cannot_get_an_order_by_reusing_its_key() {
    let mesh = Mesh::start(Payment::Running { latency_ms: 0 }, 2000).await;
    mesh.place(order_request("key-shared", GOOD_CARD, &[("MOU-002", 1)]))
        .await
        .unwrap();
    let mut other_user = order_request("key-shared", GOOD_CARD, &[("MOU-002", 1)]);
    other_user.user_id = "u-1002".to_owned();
    let status = mesh.place(other_user).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status), Some(Reason::IdempotencyKeyReused));
    mesh.stop().await;
}

#[tokio::test]
async fn out_of_stock_fails_with_failed_precondition_and_charges_nothing() {
    let mesh = Mesh::start(Payment::Running { latency_ms: 0 }, 2000).await;
    let status = mesh
        .place(order_request("key-oos", GOOD_CARD, &[("CHR-007", 1)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status), Some(Reason::OutOfStock));
    // Nothing was reserved, so nothing is released.
    assert!(mesh.inventory.released().is_empty());
    mesh.stop().await;
}

#[tokio::test]
async fn an_unknown_sku_fails_with_not_found() {
    let mesh = Mesh::start(Payment::Running { latency_ms: 0 }, 2000).await;
    let status = mesh
        .place(order_request("key-sku", GOOD_CARD, &[("ZZZ-999", 1)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(reason(&status), Some(Reason::UnknownSku));
    mesh.stop().await;
}

#[tokio::test]
async fn an_invalid_request_fails_before_anything_is_reserved() {
    let mesh = Mesh::start(Payment::Running { latency_ms: 0 }, 2000).await;
    let status = mesh
        .place(order_request("key-bad", GOOD_CARD, &[("KEY-001", 0)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("items[0].quantity"), "{status:?}");
    assert!(mesh.inventory.reserved().is_empty());
    mesh.stop().await;
}

#[tokio::test]
async fn get_order_of_an_unknown_or_empty_id_fails_with_not_found_or_invalid_argument() {
    let mesh = Mesh::start(Payment::Running { latency_ms: 0 }, 2000).await;
    let get = |order_id: &str| {
        let mut client = mesh.order.clone();
        let request = GetOrderRequest {
            order_id: order_id.to_owned(),
        };
        async move { client.get_order(request).await.unwrap_err() }
    };
    let missing = get("ord_missing").await;
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    assert_eq!(reason(&missing), Some(Reason::OrderNotFound));
    assert_eq!(get("").await.code(), Code::InvalidArgument);
    mesh.stop().await;
}

#[tokio::test]
async fn inventory_down_fails_with_unavailable() {
    // Order pointed at a port nothing listens on, for inventory this time.
    let (_, dead) = bind().await;
    let shutdown = Shutdown::new();
    let data_dir = tempfile::tempdir().unwrap();
    let ctx = ServiceContext {
        data_dir: data_dir.path().to_owned(),
        faults: Faults::default(),
    };
    let (listener, order_addr) = bind().await;
    let config = Config {
        inventory_url: format!("http://{dead}"),
        payment_url: format!("http://{dead}"),
        payment_timeout_ms: 2000,
        fix_payment_pool: false,
    };
    let server = tokio::spawn(tracemesh_order::serve(
        listener,
        ctx,
        config,
        shutdown.clone(),
    ));
    let mut client = OrderServiceClient::new(
        grpc_client::connect(
            Hop::external(),
            &format!("http://{order_addr}"),
            Deadlines::default(),
        )
        .unwrap(),
    );
    let status = client
        .place_order(order_request("key-inv", GOOD_CARD, &[("KEY-001", 1)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(reason(&status), Some(Reason::InventoryUnavailable));
    shutdown.trigger();
    let served = server.await.unwrap();
    assert!(served.is_ok(), "{served:?}");
}
