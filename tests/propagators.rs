//! End to end: `OTEL_PROPAGATORS` on every service of a real mesh. A request
//! carrying only B3 or Jaeger headers continues its caller's trace when that
//! propagator is configured, through every hop (gRPC and HTTP, each service
//! injecting and extracting that format only), and starts a new trace when
//! it is not: here W3C `traceparent` itself is ignored.
//!
//! Both B3 flavours *extract* either encoding (the B3 specification asks
//! for it); they differ in what they inject, which
//! `w3c::propagator`'s unit tests check header by header.

mod common;

use common::{GOOD_CARD, Mesh, checkout_body};
use tracemesh_harness::SpanRecord;
use tracemesh_harness::model::SpanKind;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

type Headers = &'static [(&'static str, &'static str)];

const B3_SINGLE: Headers = &[("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1")];
const B3_MULTI: Headers = &[
    ("x-b3-traceid", CALLER_TRACE),
    ("x-b3-spanid", CALLER_SPAN),
    ("x-b3-sampled", "1"),
];
const JAEGER: Headers = &[(
    "uber-trace-id",
    "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
)];
const W3C: Headers = &[(
    "traceparent",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
)];

fn server_span<'a>(spans: &'a [SpanRecord], service: &str) -> &'a SpanRecord {
    spans
        .iter()
        .find(|s| s.service_name == service && s.kind == SpanKind::Server)
        .unwrap_or_else(|| panic!("no {service} SERVER span in {spans:#?}"))
}

fn with_headers(mut request: reqwest::RequestBuilder, headers: Headers) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
}

/// With `OTEL_PROPAGATORS=propagators` everywhere: a checkout carrying
/// `continued` joins the caller's trace in all five services; a product
/// listing carrying any of `ignored` starts a new trace.
async fn check(propagators: &str, continued: Headers, ignored: &[Headers]) {
    let _turn = common::one_load_at_a_time().await;
    let mut mesh = Mesh::start_with(&[("OTEL_PROPAGATORS", propagators)]).await;
    let client = reqwest::Client::new();

    let response = with_headers(client.post(mesh.url("/api/checkout")), continued)
        .json(&checkout_body("u-1001", "KEY-001", 1, GOOD_CARD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{propagators}");
    assert_eq!(
        common::trace_id_of(&response),
        CALLER_TRACE,
        "{propagators}"
    );
    let spans = mesh
        .wait_for_trace(
            CALLER_TRACE,
            &["gateway", "user", "order", "inventory", "payment"],
        )
        .await;
    let gateway = server_span(&spans, "gateway");
    assert_eq!(
        gateway.parent_span_id.as_deref(),
        Some(CALLER_SPAN),
        "{propagators}"
    );
    // Every hop behind the gateway continued the trace in this format: each
    // SERVER span's parent is a CLIENT span of the same trace.
    for service in ["user", "order", "inventory", "payment"] {
        let server = server_span(&spans, service);
        let parent = server.parent_span_id.as_deref();
        assert!(
            spans
                .iter()
                .any(|s| Some(s.span_id.as_str()) == parent && s.kind == SpanKind::Client),
            "{propagators}: {service}'s SERVER span has no CLIENT parent: {server:#?}"
        );
    }

    for headers in ignored {
        let response = with_headers(client.get(mesh.url("/api/products")), headers)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let trace_id = common::trace_id_of(&response);
        assert_ne!(trace_id, CALLER_TRACE, "{propagators} read {headers:?}");
        let spans = mesh.wait_for_trace(&trace_id, &["gateway"]).await;
        assert!(server_span(&spans, "gateway").is_root(), "{headers:?}");
    }
    assert!(
        mesh.stop().await,
        "{propagators}: a service did not stop cleanly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b3_single_header_continues_the_trace_and_jaeger_or_w3c_do_not() {
    check("b3", B3_SINGLE, &[JAEGER, W3C]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b3_multi_headers_continue_the_trace_and_jaeger_or_w3c_do_not() {
    check("b3multi", B3_MULTI, &[JAEGER, W3C]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_continues_the_trace_and_b3_or_w3c_do_not() {
    check("jaeger", JAEGER, &[B3_SINGLE, B3_MULTI, W3C]).await;
}
