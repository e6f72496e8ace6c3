//! Black-box tests: the real `serve` on port 0 with a fresh data directory,
//! called through a traced channel, as order calls it, then shut down.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tracemesh_inventory::Config;
use tracemesh_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use tracemesh_proto::inventory::v1::{
    GetStockRequest, LineItem, ListProductsRequest, ReleaseRequest, ReserveRequest,
};
use tracemesh_runtime::contract::Reason;
use tracemesh_runtime::fault::Faults;
use tracemesh_runtime::grpc_client::{self, Deadlines, TracedChannel};
use tracemesh_runtime::propagation::Hop;
use tracemesh_runtime::service::{ServeError, ServiceContext};
use tracemesh_runtime::shutdown::Shutdown;

/// Generous deadlines: these tests check answers, not speed, and 50 queued
/// Reserves on a busy two-core machine must not turn into timeouts.
const PATIENT: Deadlines = Deadlines {
    connect: Duration::from_secs(5),
    request: Duration::from_secs(60),
};

/// An inventory service running in this test's runtime.
struct Running {
    url: String,
    shutdown: Shutdown,
    served: JoinHandle<Result<(), ServeError>>,
    _data_dir: tempfile::TempDir,
}

impl Running {
    /// The service with the lock planted and a 1 ms check.
    async fn start() -> Running {
        Running::start_with(Config {
            warehouse_check_ms: 1,
            fix_inventory_lock: false,
            fix_catalog_queries: false,
        })
        .await
    }

    async fn start_with(config: Config) -> Running {
        let data_dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let ctx = ServiceContext {
            data_dir: data_dir.path().to_owned(),
            faults: Faults::default(),
        };
        let shutdown = Shutdown::new();
        let served = tokio::spawn(tracemesh_inventory::serve(
            listener,
            ctx,
            config,
            shutdown.clone(),
        ));
        Running {
            url,
            shutdown,
            served,
            _data_dir: data_dir,
        }
    }

    fn client(&self) -> InventoryServiceClient<TracedChannel> {
        InventoryServiceClient::new(
            grpc_client::connect(Hop::external(), &self.url, PATIENT).unwrap(),
        )
    }

    async fn available(&self, sku: &str) -> i64 {
        let response = self
            .client()
            .get_stock(GetStockRequest {
                skus: vec![sku.to_owned()],
            })
            .await
            .unwrap()
            .into_inner();
        response.levels[0].available
    }

    /// Triggers shutdown and checks that `serve` returned cleanly.
    async fn stop(self) {
        self.shutdown.trigger();
        let served = tokio::time::timeout(Duration::from_secs(10), self.served)
            .await
            .expect("serve did not return after shutdown");
        served.unwrap().unwrap();
    }
}

fn reserve(id: &str, items: &[(&str, i64)]) -> ReserveRequest {
    ReserveRequest {
        reservation_id: id.to_owned(),
        items: items
            .iter()
            .map(|(sku, quantity)| LineItem {
                sku: (*sku).to_owned(),
                quantity: *quantity,
            })
            .collect(),
    }
}

fn release(id: &str) -> ReleaseRequest {
    ReleaseRequest {
        reservation_id: id.to_owned(),
    }
}

#[tokio::test]
async fn list_products_returns_the_catalog_with_stock() {
    let service = Running::start().await;
    let products = service
        .client()
        .list_products(ListProductsRequest {})
        .await
        .unwrap()
        .into_inner()
        .products;
    assert_eq!(products.len(), 8);
    let chair = products.iter().find(|p| p.sku == "CHR-007").unwrap();
    assert_eq!((chair.price_cents, chair.stock), (19900, 0));
    service.stop().await;
}

/// The planted N+1 and its fix differ in the trace only, never in the answer.
#[tokio::test]
async fn the_catalog_answers_alike_with_the_n_plus_one_and_with_the_join() {
    let mut answers = Vec::new();
    for fix_catalog_queries in [false, true] {
        let service = Running::start_with(Config {
            warehouse_check_ms: 1,
            fix_inventory_lock: false,
            fix_catalog_queries,
        })
        .await;
        answers.push(
            service
                .client()
                .list_products(ListProductsRequest {})
                .await
                .unwrap()
                .into_inner()
                .products,
        );
        service.stop().await;
    }
    assert_eq!(answers[0].len(), 8);
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn get_stock_fails_with_not_found_naming_an_unknown_sku() {
    let service = Running::start().await;
    let status = service
        .client()
        .get_stock(GetStockRequest {
            skus: vec!["KEY-001".to_owned(), "ZZZ-999".to_owned()],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().contains("ZZZ-999"), "{}", status.message());
    service.stop().await;
}

#[tokio::test]
async fn reserve_returns_priced_lines_and_total() {
    let service = Running::start().await;
    let response = service
        .client()
        .reserve(reserve("r-1", &[("MON-003", 1), ("CAB-004", 2)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.reservation_id, "r-1");
    assert_eq!(response.total_cents, 24900 + 2 * 900);
    let lines: Vec<(&str, i64, i64)> = response
        .lines
        .iter()
        .map(|l| (l.sku.as_str(), l.quantity, l.unit_price_cents))
        .collect();
    assert_eq!(lines, [("CAB-004", 2, 900), ("MON-003", 1, 24900)]);
    assert_eq!(service.available("MON-003").await, 499);
    service.stop().await;
}

#[tokio::test]
async fn reserve_fails_with_failed_precondition_when_stock_is_short() {
    let service = Running::start().await;
    let status = service
        .client()
        .reserve(reserve("r-1", &[("KEY-001", 1), ("CHR-007", 1)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(Reason::of(&status), Some(Reason::OutOfStock));
    assert!(status.message().contains("CHR-007"), "{}", status.message());
    // Every line or none: the keyboard was not taken.
    assert_eq!(service.available("KEY-001").await, 1000);
    service.stop().await;
}

#[tokio::test]
async fn reserve_fails_with_not_found_for_an_unknown_sku() {
    let service = Running::start().await;
    let status = service
        .client()
        .reserve(reserve("r-1", &[("ZZZ-999", 1)]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(Reason::of(&status), Some(Reason::UnknownSku));
    service.stop().await;
}

#[tokio::test]
async fn reserve_fails_with_invalid_argument_for_malformed_requests() {
    let service = Running::start().await;
    let malformed = [
        reserve("", &[("KEY-001", 1)]),
        reserve("r-1", &[]),
        reserve("r-1", &[("KEY-001", 0)]),
        reserve("r-1", &[("KEY-001", -5)]),
        reserve("r-1", &[("KEY-001", 1001)]),
        reserve("r-1", &[("key-001", 1)]),
    ];
    for request in malformed {
        let status = service.client().reserve(request.clone()).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{request:?}: {status:?}"
        );
    }
    service.stop().await;
}

#[tokio::test]
async fn a_retried_reserve_does_not_reserve_twice() {
    let service = Running::start().await;
    let first = service
        .client()
        .reserve(reserve("r-1", &[("DSK-008", 4)]))
        .await
        .unwrap()
        .into_inner();
    let retry = service
        .client()
        .reserve(reserve("r-1", &[("DSK-008", 4)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, retry);
    assert_eq!(service.available("DSK-008").await, 16);
    service.stop().await;
}

#[tokio::test]
async fn release_gives_stock_back_once() {
    let service = Running::start().await;
    service
        .client()
        .reserve(reserve("r-1", &[("LMP-006", 2)]))
        .await
        .unwrap();
    assert_eq!(service.available("LMP-006").await, 1);

    let first = service.client().release(release("r-1")).await.unwrap();
    assert!(first.into_inner().released);
    assert_eq!(service.available("LMP-006").await, 3);

    let second = service.client().release(release("r-1")).await.unwrap();
    assert!(!second.into_inner().released);
    assert_eq!(service.available("LMP-006").await, 3);
    service.stop().await;
}

/// Fires 50 concurrent Reserves of one desk lamp (stock 3) through real
/// gRPC clients and checks that exactly 3 win and nothing is oversold.
async fn concurrent_reserves_never_oversell(config: Config) {
    const ATTEMPTS: usize = 50;
    let service = Running::start_with(config).await;
    let client = service.client();
    let attempts: Vec<_> = (0..ATTEMPTS)
        .map(|i| {
            let mut client = client.clone();
            tokio::spawn(async move {
                client
                    .reserve(reserve(&format!("race-{i}"), &[("LMP-006", 1)]))
                    .await
            })
        })
        .collect();

    let mut won = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => won += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                assert_eq!(Reason::of(&status), Some(Reason::OutOfStock));
            }
        }
    }
    assert_eq!(won, 3);
    assert_eq!(service.available("LMP-006").await, 0);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reserves_never_oversell_with_the_planted_lock() {
    concurrent_reserves_never_oversell(Config {
        warehouse_check_ms: 1,
        fix_inventory_lock: false,
        fix_catalog_queries: false,
    })
    .await;
}

/// Without the lock the checks overlap, and only the transaction stands
/// between the racers and the stock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reserves_never_oversell_with_the_lock_fixed() {
    concurrent_reserves_never_oversell(Config {
        warehouse_check_ms: 1,
        fix_inventory_lock: true,
        fix_catalog_queries: false,
    })
    .await;
}

#[tokio::test]
async fn the_health_service_reports_the_inventory_service_serving() {
    let service = Running::start().await;
    let channel = grpc_client::connect(Hop::external(), &service.url, PATIENT).unwrap();
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "tracemesh.inventory.v1.InventoryService".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.status(), ServingStatus::Serving);
    service.stop().await;
}

#[tokio::test]
async fn stock_taken_before_a_restart_stays_taken() {
    let data_dir = tempfile::tempdir().unwrap();
    for expected_before in [20, 19] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = Shutdown::new();
        let served = tokio::spawn(tracemesh_inventory::serve(
            listener,
            ServiceContext {
                data_dir: data_dir.path().to_owned(),
                faults: Faults::default(),
            },
            Config {
                warehouse_check_ms: 1,
                fix_inventory_lock: false,
                fix_catalog_queries: false,
            },
            shutdown.clone(),
        ));
        let mut client = InventoryServiceClient::new(
            grpc_client::connect(Hop::external(), &url, PATIENT).unwrap(),
        );
        let before = client
            .get_stock(GetStockRequest {
                skus: vec!["DSK-008".to_owned()],
            })
            .await
            .unwrap()
            .into_inner()
            .levels[0]
            .available;
        assert_eq!(before, expected_before);
        client
            .reserve(reserve(&format!("r-{expected_before}"), &[("DSK-008", 1)]))
            .await
            .unwrap();
        shutdown.trigger();
        served.await.unwrap().unwrap();
    }
}
