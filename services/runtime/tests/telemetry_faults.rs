//! Telemetry faults through the real layers: a gRPC client and server and an
//! HTTP client and server in this process, their spans through the fault
//! span processor and the fault sampler into memory, the faults replaced
//! between phases as the admin endpoint would.
//!
//! One test, in phases: the subscriber is process-global and the faults
//! are shared, so parallel tests would see each other's spans.

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracerProvider, SimpleSpanProcessor, SpanData,
};
use tokio_stream::wrappers::TcpListenerStream;
use tracemesh_proto::user::v1::user_service_client::UserServiceClient;
use tracemesh_proto::user::v1::user_service_server::{UserService, UserServiceServer};
use tracemesh_proto::user::v1::{GetUserRequest, User, ValidateUserRequest, ValidateUserResponse};
use tracemesh_runtime::contract::attr;
use tracemesh_runtime::fault::sampler::TelemetryFaultSampler;
use tracemesh_runtime::fault::span_processor::TelemetryFaultProcessor;
use tracemesh_runtime::fault::{FaultConfig, Faults};
use tracemesh_runtime::grpc_client::{Deadlines, TracedChannel, connect};
use tracemesh_runtime::grpc_server::GrpcServerLayer;
use tracemesh_runtime::http_client::TracedHttpClient;
use tracemesh_runtime::http_server::{HttpTracing, trace_http};
use tracemesh_runtime::topology::Service;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// `GetUser` answers, `ValidateUser` fails with INTERNAL (a server error).
struct Users;

#[tonic::async_trait]
impl UserService for Users {
    async fn get_user(
        &self,
        _req: tonic::Request<GetUserRequest>,
    ) -> Result<tonic::Response<User>, tonic::Status> {
        Ok(tonic::Response::new(User {
            id: "u-1".into(),
            ..Default::default()
        }))
    }
    async fn validate_user(
        &self,
        _req: tonic::Request<ValidateUserRequest>,
    ) -> Result<tonic::Response<ValidateUserResponse>, tonic::Status> {
        Err(tonic::Status::internal("a bug"))
    }
}

const GET_USER: &str = "tracemesh.user.v1.UserService/GetUser";
const VALIDATE_USER: &str = "tracemesh.user.v1.UserService/ValidateUser";
/// A caller's context whose sampled flag is off.
const UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

struct Mesh {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    faults: Faults,
    user: UserServiceClient<TracedChannel>,
    payment: TracedHttpClient,
    charges_url: String,
}

impl Mesh {
    /// Plants `yaml` (validated, as the admin PUT does) and forgets the
    /// spans so far.
    fn plant(&self, yaml: &str) {
        self.faults.replace(FaultConfig::parse(yaml).unwrap());
        self.provider.force_flush().unwrap();
        self.exporter.reset();
    }

    fn spans(&self) -> Vec<SpanData> {
        self.provider.force_flush().unwrap();
        self.exporter.get_finished_spans().unwrap()
    }

    /// One gRPC call and one HTTP call under a root span; the root's ids.
    async fn call_both(&mut self) -> (opentelemetry::trace::TraceId, opentelemetry::trace::SpanId) {
        let root = tracing::info_span!("test.root");
        let ids = {
            let cx = root.context();
            let sc = cx.span().span_context().clone();
            (sc.trace_id(), sc.span_id())
        };
        async {
            self.user
                .get_user(GetUserRequest {
                    user_id: "u-1".into(),
                })
                .await
                .unwrap();
            let request = self
                .payment
                .inner()
                .post(&self.charges_url)
                .build()
                .unwrap();
            let response = self.payment.send(request).await.unwrap();
            assert!(response.status().is_success());
        }
        .instrument(root)
        .await;
        ids
    }
}

/// Both sides in this process, one provider built as `telemetry::init`
/// builds it (fault processor outermost, fault sampler around the
/// configured one), with the shared faults.
async fn start() -> Mesh {
    tracemesh_runtime::w3c::install_propagator();
    let faults = Faults::default();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(TelemetryFaultProcessor::new(
            faults.telemetry(),
            SimpleSpanProcessor::new(exporter.clone()),
        ))
        .with_sampler(TelemetryFaultSampler::new(
            Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            None,
            faults.telemetry(),
        ))
        .build();
    tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("test"))
                // As `telemetry::init` does: our spans only, not h2's.
                .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                    meta.target().starts_with("tracemesh") || meta.target() == module_path!()
                })),
        )
        .init();

    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_addr = grpc.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(GrpcServerLayer::new(faults.clone()))
            .add_service(UserServiceServer::new(Users))
            .serve_with_incoming(TcpListenerStream::new(grpc)),
    );
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = http.local_addr().unwrap();
    let app = Router::new()
        .route("/v1/charges", post(|| async { "charged" }))
        .layer(axum::middleware::from_fn_with_state(
            HttpTracing {
                faults: faults.clone(),
                traceresponse: false,
            },
            trace_http,
        ));
    tokio::spawn(async move { axum::serve(http, app).await });

    let user = UserServiceClient::new(
        connect(
            faults.hop(Service::User),
            &format!("http://{grpc_addr}"),
            Deadlines::default(),
        )
        .unwrap(),
    );
    let payment = TracedHttpClient::new(
        faults.hop(Service::Payment),
        Duration::from_secs(1),
        Duration::from_secs(3),
    )
    .unwrap();
    Mesh {
        exporter,
        provider,
        faults,
        user,
        payment,
        charges_url: format!("http://{http_addr}/v1/charges"),
    }
}

fn one<'a>(spans: &'a [SpanData], kind: SpanKind, name: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == kind && s.name == name)
        .collect();
    assert_eq!(found.len(), 1, "{kind:?} {name}: {spans:#?}");
    found[0]
}

fn has(span: &SpanData, key: &str) -> bool {
    span.attributes.iter().any(|kv| kv.key.as_str() == key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_faults_break_the_traces_and_nothing_else() {
    let mut mesh = start().await;

    // No fault: each SERVER span is the child of its CLIENT span.
    let (trace, _) = mesh.call_both().await;
    let spans = mesh.spans();
    for (client, server) in [(GET_USER, GET_USER), ("POST", "POST /v1/charges")] {
        let client = one(&spans, SpanKind::Client, client);
        let server = one(&spans, SpanKind::Server, server);
        assert_eq!(client.span_context.trace_id(), trace);
        assert_eq!(server.span_context.trace_id(), trace);
        assert_eq!(server.parent_span_id, client.span_context.span_id());
    }

    // drop_context on the HTTP hop: payment's span starts a new trace, the
    // CLIENT span is still exported in the caller's trace, the gRPC hop is
    // untouched.
    mesh.plant("telemetry: [{kind: drop_context, hop: payment}]");
    let (trace, root) = mesh.call_both().await;
    let spans = mesh.spans();
    let client = one(&spans, SpanKind::Client, "POST");
    assert_eq!(client.span_context.trace_id(), trace);
    assert_eq!(client.parent_span_id, root);
    let server = one(&spans, SpanKind::Server, "POST /v1/charges");
    assert_ne!(server.span_context.trace_id(), trace);
    assert_eq!(server.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    let grpc_client = one(&spans, SpanKind::Client, GET_USER);
    let grpc_server = one(&spans, SpanKind::Server, GET_USER);
    assert_eq!(
        grpc_server.parent_span_id,
        grpc_client.span_context.span_id()
    );

    // corrupt_context on the gRPC hop: user's span has a parent, in a trace
    // nobody else is in; payment's hop is untouched now.
    mesh.plant("telemetry: [{kind: corrupt_context, hop: user}]");
    let (trace, _) = mesh.call_both().await;
    let spans = mesh.spans();
    let client = one(&spans, SpanKind::Client, GET_USER);
    let server = one(&spans, SpanKind::Server, GET_USER);
    assert_eq!(client.span_context.trace_id(), trace);
    assert_ne!(server.span_context.trace_id(), trace);
    assert_ne!(server.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert!(
        spans
            .iter()
            .all(|s| s.span_context.span_id() != server.parent_span_id),
        "the parent it names exists nowhere"
    );
    let http_server = one(&spans, SpanKind::Server, "POST /v1/charges");
    assert_eq!(http_server.span_context.trace_id(), trace);

    // drop_span, drop_attribute and lose_error_status on real spans.
    mesh.plant(&format!(
        "telemetry:\n\
         - {{kind: drop_span, span: 'POST /v1/charges'}}\n\
         - {{kind: drop_attribute, span: '{GET_USER}', attribute: rpc.grpc.status_code}}\n\
         - {{kind: lose_error_status, operation: ValidateUser}}\n"
    ));
    mesh.call_both().await;
    let err = mesh
        .user
        .validate_user(ValidateUserRequest {
            user_id: "u-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal, "the service still fails");
    let spans = mesh.spans();
    assert!(spans.iter().all(|s| s.name != "POST /v1/charges"));
    one(&spans, SpanKind::Client, "POST");
    // Both sides are "this service" here: both spans named GetUser lose the
    // attribute, the spans named otherwise keep it.
    for kind in [SpanKind::Server, SpanKind::Client] {
        assert!(!has(
            one(&spans, kind.clone(), GET_USER),
            "rpc.grpc.status_code"
        ));
        assert!(has(
            one(&spans, kind, VALIDATE_USER),
            "rpc.grpc.status_code"
        ));
    }
    let failed = one(&spans, SpanKind::Server, VALIDATE_USER);
    assert_eq!(failed.status, Status::Unset);
    assert!(!has(failed, "error.type"));
    assert!(has(failed, "rpc.grpc.status_code"));
    let caller = one(&spans, SpanKind::Client, VALIDATE_USER);
    assert!(matches!(caller.status, Status::Error { .. }));

    // unmarked_latency: the SERVER span is slower and carries no fault mark;
    // an operation fault's latency, for contrast, is marked.
    mesh.plant(
        "operations: {'POST /v1/charges': {latency: {distribution: fixed, ms: 1}}}\n\
         telemetry: [{kind: unmarked_latency, operation: GetUser, ms: 40}]",
    );
    mesh.call_both().await;
    let spans = mesh.spans();
    let slow = one(&spans, SpanKind::Server, GET_USER);
    let took = slow.end_time.duration_since(slow.start_time).unwrap();
    assert!(took >= Duration::from_millis(40), "{took:?}");
    assert!(!has(slow, attr::FAULT_INJECTED) && !has(slow, attr::FAULT_KIND));
    assert!(has(
        one(&spans, SpanKind::Server, "POST /v1/charges"),
        attr::FAULT_INJECTED
    ));

    // ignore_parent_sampling: a caller's unsampled traceparent is obeyed
    // (no span) until the fault is planted, then overruled.
    let unsampled = |url: String| async move {
        let response = reqwest::Client::new()
            .post(url)
            .header("traceparent", UNSAMPLED)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    };
    mesh.plant("");
    unsampled(mesh.charges_url.clone()).await;
    assert!(mesh.spans().is_empty(), "{:#?}", mesh.spans());
    mesh.plant("telemetry: [{kind: ignore_parent_sampling}]");
    unsampled(mesh.charges_url.clone()).await;
    let spans = mesh.spans();
    let server = one(&spans, SpanKind::Server, "POST /v1/charges");
    assert!(server.span_context.is_sampled());
    assert_eq!(
        server.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "still the caller's trace: only the sampled flag was ignored"
    );

    // Removed at run time: the traces are whole again.
    mesh.plant("");
    let (trace, _) = mesh.call_both().await;
    let spans = mesh.spans();
    assert_eq!(spans.len(), 5, "{spans:#?}");
    assert!(spans.iter().all(|s| s.span_context.trace_id() == trace));
}
