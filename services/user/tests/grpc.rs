//! Black-box tests: the real `serve` on port 0 with a fresh data directory,
//! called through a traced channel, as the gateway calls it, then shut down.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tracemesh_proto::user::v1::user_service_client::UserServiceClient;
use tracemesh_proto::user::v1::{GetUserRequest, ValidateUserRequest};
use tracemesh_runtime::contract::Reason;
use tracemesh_runtime::fault::Faults;
use tracemesh_runtime::grpc_client::{self, Deadlines, TracedChannel};
use tracemesh_runtime::propagation::Hop;
use tracemesh_runtime::service::{ServeError, ServiceContext};
use tracemesh_runtime::shutdown::Shutdown;

/// A user service running in this test's runtime.
struct Running {
    url: String,
    shutdown: Shutdown,
    served: JoinHandle<Result<(), ServeError>>,
    _data_dir: tempfile::TempDir,
}

impl Running {
    async fn start() -> Running {
        let data_dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let ctx = ServiceContext {
            data_dir: data_dir.path().to_owned(),
            faults: Faults::default(),
        };
        let shutdown = Shutdown::new();
        let served = tokio::spawn(tracemesh_user::serve(
            listener,
            ctx,
            tracemesh_user::Config::default(),
            shutdown.clone(),
        ));
        Running {
            url,
            shutdown,
            served,
            _data_dir: data_dir,
        }
    }

    fn client(&self) -> UserServiceClient<TracedChannel> {
        UserServiceClient::new(
            grpc_client::connect(Hop::external(), &self.url, Deadlines::default()).unwrap(),
        )
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

fn get(id: &str) -> GetUserRequest {
    GetUserRequest {
        user_id: id.to_owned(),
    }
}

fn validate(id: &str) -> ValidateUserRequest {
    ValidateUserRequest {
        user_id: id.to_owned(),
    }
}

#[tokio::test]
async fn get_user_returns_a_seeded_user() {
    let service = Running::start().await;
    let user = service
        .client()
        .get_user(get("u-1002"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.id, "u-1002");
    assert_eq!(user.name, "Grace Hopper");
    assert_eq!(user.status, "active");
    service.stop().await;
}

#[tokio::test]
async fn get_user_fails_with_not_found_for_an_unknown_user() {
    let service = Running::start().await;
    let status = service.client().get_user(get("u-9999")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(Reason::of(&status), Some(Reason::UserNotFound));
    service.stop().await;
}

#[tokio::test]
async fn get_user_fails_with_invalid_argument_for_an_empty_or_malformed_id() {
    let service = Running::start().await;
    for id in ["", "1001", "u-abc"] {
        let status = service.client().get_user(get(id)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{id:?}: {status:?}");
        assert_eq!(Reason::of(&status), Some(Reason::InvalidUserId));
    }
    service.stop().await;
}

#[tokio::test]
async fn validate_user_returns_an_active_user() {
    let service = Running::start().await;
    let response = service
        .client()
        .validate_user(validate("u-1001"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.user.unwrap().name, "Ada Lovelace");
    service.stop().await;
}

#[tokio::test]
async fn validate_user_fails_with_failed_precondition_when_the_user_is_suspended() {
    let service = Running::start().await;
    let status = service
        .client()
        .validate_user(validate("u-1099"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(Reason::of(&status), Some(Reason::UserSuspended));
    service.stop().await;
}

#[tokio::test]
async fn validate_user_fails_with_not_found_for_an_unknown_user() {
    let service = Running::start().await;
    let status = service
        .client()
        .validate_user(validate("u-4040"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    service.stop().await;
}

#[tokio::test]
async fn the_health_service_reports_the_user_service_serving() {
    let service = Running::start().await;
    let channel =
        grpc_client::connect(Hop::external(), &service.url, Deadlines::default()).unwrap();
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "tracemesh.user.v1.UserService".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.status(), ServingStatus::Serving);
    service.stop().await;
}
