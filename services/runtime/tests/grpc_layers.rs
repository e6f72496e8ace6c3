//! The gRPC client and server layers over a real tonic connection, with the
//! real OpenTelemetry SDK keeping spans in memory: one CLIENT and one SERVER
//! span per call, the server's parent is the client, statuses come from the
//! trailers, and a refused connection is an error span.

use std::time::Duration;

use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tokio_stream::wrappers::TcpListenerStream;
use tracemesh_proto::user::v1::user_service_client::UserServiceClient;
use tracemesh_proto::user::v1::user_service_server::{UserService, UserServiceServer};
use tracemesh_proto::user::v1::{GetUserRequest, User, ValidateUserRequest, ValidateUserResponse};
use tracemesh_runtime::fault::Faults;
use tracemesh_runtime::grpc_client::{Deadlines, connect};
use tracemesh_runtime::grpc_server::GrpcServerLayer;
use tracemesh_runtime::propagation::Hop;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// A user service that knows one user.
struct OneUser;

#[tonic::async_trait]
impl UserService for OneUser {
    async fn get_user(
        &self,
        req: tonic::Request<GetUserRequest>,
    ) -> Result<tonic::Response<User>, tonic::Status> {
        if req.get_ref().user_id == "u-1" {
            Ok(tonic::Response::new(User {
                id: "u-1".into(),
                ..Default::default()
            }))
        } else {
            Err(tonic::Status::not_found("no such user"))
        }
    }
    async fn validate_user(
        &self,
        _req: tonic::Request<ValidateUserRequest>,
    ) -> Result<tonic::Response<ValidateUserResponse>, tonic::Status> {
        Err(tonic::Status::internal("a bug"))
    }
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a opentelemetry::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// Both sides live in this process, so one global subscriber sees both.
fn install() -> (InMemorySpanExporter, SdkTracerProvider) {
    tracemesh_runtime::w3c::install_propagator();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .init();
    (exporter, provider)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_server_spans_pair_up_and_record_statuses() {
    let (exporter, provider) = install();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(GrpcServerLayer::new(Faults::default()))
            .add_service(UserServiceServer::new(OneUser))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let mut client = UserServiceClient::new(
        connect(
            Hop::external(),
            &format!("http://{addr}"),
            Deadlines::default(),
        )
        .unwrap(),
    );

    let parent = tracing::info_span!("test.root");
    async {
        client
            .get_user(GetUserRequest {
                user_id: "u-1".into(),
            })
            .await
            .unwrap();
        let err = client
            .get_user(GetUserRequest {
                user_id: "nobody".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let err = client
            .validate_user(ValidateUserRequest {
                user_id: "u-1".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Internal);
    }
    .instrument(parent)
    .await;

    // A peer that is not there: an error span with error.type, in bounded time.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let mut nobody = UserServiceClient::new(
        connect(
            Hop::external(),
            &format!("http://{dead_addr}"),
            Deadlines::default(),
        )
        .unwrap(),
    );
    let started = std::time::Instant::now();
    let err = nobody
        .get_user(GetUserRequest {
            user_id: "u-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(started.elapsed() < Duration::from_secs(5));

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let named = |kind: SpanKind| -> Vec<&SpanData> {
        spans
            .iter()
            .filter(|s| s.span_kind == kind && s.name == "tracemesh.user.v1.UserService/GetUser")
            .collect()
    };
    let clients = named(SpanKind::Client);
    let servers = named(SpanKind::Server);
    assert_eq!(
        clients.len(),
        3,
        "two calls to the live server, one to the dead one"
    );
    assert_eq!(servers.len(), 2);
    for server in &servers {
        let client = clients
            .iter()
            .find(|c| c.span_context.span_id() == server.parent_span_id)
            .expect("every SERVER span's parent is a CLIENT span");
        assert_eq!(
            client.span_context.trace_id(),
            server.span_context.trace_id()
        );
        assert_eq!(attr(server, "rpc.system").unwrap().as_str(), "grpc");
        assert_eq!(
            attr(server, "rpc.service").unwrap().as_str(),
            "tracemesh.user.v1.UserService"
        );
        assert_eq!(attr(server, "rpc.method").unwrap().as_str(), "GetUser");
    }
    // OK: status 0 from the trailers on both sides.
    let ok_server = servers
        .iter()
        .find(|s| attr(s, "rpc.grpc.status_code") == Some(&opentelemetry::Value::I64(0)));
    assert!(ok_server.is_some(), "{servers:#?}");
    // NOT_FOUND: the client span is an error, the server span is not.
    let nf_server = servers
        .iter()
        .find(|s| attr(s, "rpc.grpc.status_code") == Some(&opentelemetry::Value::I64(5)))
        .unwrap();
    assert_eq!(nf_server.status, Status::Unset);
    let nf_client = clients
        .iter()
        .find(|c| c.span_context.span_id() == nf_server.parent_span_id)
        .unwrap();
    assert!(matches!(nf_client.status, Status::Error { .. }));
    assert_eq!(attr(nf_client, "error.type").unwrap().as_str(), "NOT_FOUND");
    // INTERNAL: an error on both sides.
    let internal = spans
        .iter()
        .filter(|s| s.name.ends_with("ValidateUser"))
        .collect::<Vec<_>>();
    assert_eq!(internal.len(), 2);
    assert!(
        internal
            .iter()
            .all(|s| matches!(s.status, Status::Error { .. }))
    );
    // The refused connection.
    let dead_client = clients
        .iter()
        .find(|c| {
            attr(c, "server.port") == Some(&opentelemetry::Value::I64(i64::from(dead_addr.port())))
        })
        .unwrap();
    assert!(matches!(dead_client.status, Status::Error { .. }));
    assert_eq!(
        attr(dead_client, "error.type").unwrap().as_str(),
        "UNAVAILABLE"
    );
    server.abort();
}
