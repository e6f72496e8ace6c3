//! End to end: the real `tracemesh` processes, a checkout through the
//! gateway, and the spans all five services exported, received over OTLP by
//! a collector inside this test.

mod common;

use std::collections::HashMap;

use common::{DECLINED_CARD, GOOD_CARD, Mesh, Service, checkout_body};
use tracemesh_harness::SpanRecord;
use tracemesh_harness::model::{SpanKind, StatusCode};
use tracemesh_runtime::telemetry::INSTRUMENTATION_SCOPE;
use tracemesh_runtime::w3c::TraceParent;

const ALL: [&str; 5] = ["gateway", "user", "order", "inventory", "payment"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_makes_one_complete_trace_across_all_five_services() {
    let mut mesh = Mesh::start().await;
    let client = reqwest::Client::new();

    // Baggage set at the edge must arrive at payment, three hops away.
    let response = client
        .post(mesh.url("/api/checkout"))
        .header("baggage", "tenant=workshop,session=s-42")
        .json(&checkout_body("u-1001", "KEY-001", 2, GOOD_CARD))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let trace_id = common::trace_id_of(&response);
    let order: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 201, "checkout answered {order}");
    assert_eq!(order["card_last4"], "4242");

    let spans = mesh.wait_for_trace(&trace_id, &ALL).await;
    let by_id: HashMap<&str, &SpanRecord> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();

    // One trace id (the store indexes by it), and every span of the five
    // services received during the checkout belongs to it. Every span's
    // instrumentation scope is the services' instrumentation, not the
    // service (that is the resource's `service.name`).
    for span in mesh.collector.store().all_spans() {
        assert_eq!(
            span.trace_id, trace_id,
            "a stray span: {} {}",
            span.service_name, span.name
        );
        assert_eq!(
            span.scope_name, INSTRUMENTATION_SCOPE,
            "{} {}",
            span.service_name, span.name
        );
    }

    // Exactly one root, the gateway's SERVER span; every other span's parent
    // is in the trace.
    let roots: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_none())
        .collect();
    assert_eq!(roots.len(), 1, "roots: {roots:#?}");
    assert_eq!(roots[0].service_name, "gateway");
    assert_eq!(roots[0].kind, SpanKind::Server);
    assert_eq!(roots[0].name, "POST /api/checkout");
    assert_eq!(roots[0].attr_i64("http.response.status_code"), Some(201));
    assert_eq!(roots[0].attr_str("http.route"), Some("/api/checkout"));
    for span in &spans {
        if let Some(parent) = &span.parent_span_id {
            assert!(
                by_id.contains_key(parent.as_str()),
                "orphan span {} {}",
                span.service_name,
                span.name
            );
        }
    }

    // Both transports show CLIENT -> SERVER pairs, each CLIENT span with
    // exactly one SERVER child in another service.
    let children_of = |id: &str| -> Vec<&SpanRecord> {
        spans
            .iter()
            .filter(|s| s.parent_span_id.as_deref() == Some(id))
            .collect()
    };
    let mut grpc_pairs = Vec::new();
    let mut http_pairs = Vec::new();
    for client_span in spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client && s.attr_str("db.system.name").is_none())
    {
        let servers: Vec<&SpanRecord> = children_of(&client_span.span_id)
            .into_iter()
            .filter(|c| c.kind == SpanKind::Server)
            .collect();
        assert_eq!(
            servers.len(),
            1,
            "CLIENT {} {} has SERVER children {servers:#?}",
            client_span.service_name,
            client_span.name
        );
        let server = servers[0];
        assert_ne!(server.service_name, client_span.service_name);
        if client_span.attr_str("rpc.system") == Some("grpc") {
            assert_eq!(
                server.name, client_span.name,
                "gRPC span names agree on both sides"
            );
            assert_eq!(server.attr_i64("rpc.grpc.status_code"), Some(0));
            grpc_pairs.push(format!(
                "{}->{} {}",
                client_span.service_name, server.service_name, server.name
            ));
        } else {
            assert_eq!(client_span.attr_str("http.request.method"), Some("POST"));
            assert_eq!(server.attr_i64("http.response.status_code"), Some(201));
            http_pairs.push(format!(
                "{}->{} {}",
                client_span.service_name, server.service_name, server.name
            ));
        }
    }
    grpc_pairs.sort();
    assert_eq!(
        grpc_pairs,
        [
            "gateway->order tracemesh.order.v1.OrderService/PlaceOrder",
            "gateway->user tracemesh.user.v1.UserService/ValidateUser",
            "order->inventory tracemesh.inventory.v1.InventoryService/Reserve",
        ]
    );
    assert_eq!(http_pairs, ["order->payment POST /v1/charges"]);

    // Database spans follow the conventions and hold no values.
    let db_spans: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.attr_str("db.system.name") == Some("sqlite"))
        .collect();
    assert!(db_spans.iter().any(|s| s.service_name == "inventory"));
    assert!(db_spans.iter().any(|s| s.service_name == "order"));
    for span in &db_spans {
        assert_eq!(span.kind, SpanKind::Client);
        assert!(span.attr_str("db.operation.name").is_some());
        let query = span.attr_str("db.query.text").expect("db.query.text");
        assert!(
            !query.contains("u-1001") && !query.contains("KEY-001"),
            "a value in a query: {query}"
        );
    }
    // Baggage arrived at every SERVER span, payment's included.
    for server in spans.iter().filter(|s| s.kind == SpanKind::Server) {
        assert_eq!(
            server.attr_str("baggage.tenant"),
            Some("workshop"),
            "baggage at {} {}",
            server.service_name,
            server.name
        );
    }
    assert!(spans.iter().any(|s| s.service_name == "payment"
        && s.kind == SpanKind::Server
        && s.attr_str("baggage.session") == Some("s-42")));

    // Every span is OK or unset: nothing failed.
    assert!(
        spans.iter().all(|s| s.status.code != StatusCode::Error),
        "{spans:#?}"
    );

    // The card number is nowhere: spans, resource attributes, logs.
    for span in mesh.collector.store().all_spans() {
        let text = format!("{span:?}");
        assert!(
            !text.contains(GOOD_CARD),
            "the card number is in span {} {}",
            span.service_name,
            span.name
        );
    }

    // Stop: every service drains and exits 0, and no process is left.
    let pids: Vec<(Service, u32)> = Service::ALL.iter().map(|s| (*s, mesh.pid(*s))).collect();
    assert!(mesh.stop().await, "a service did not stop cleanly");
    for (service, pid) in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "{service} (pid {pid}) still runs after the mesh stopped"
        );
    }
    let logs = mesh.log_text();
    assert!(logs.contains("\"trace_id\""), "log lines carry trace ids");
    assert!(
        !logs.contains(GOOD_CARD),
        "the card number is in a log line"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_shows_the_saga_compensation_in_the_trace() {
    let mesh = Mesh::start().await;
    let client = reqwest::Client::new();
    let (status, body, trace_id) = mesh
        .checkout(
            &client,
            checkout_body("u-1002", "MOU-002", 1, DECLINED_CARD),
        )
        .await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["code"], "card_declined");

    let spans = mesh
        .wait_for_trace(&trace_id, &["gateway", "order", "inventory", "payment"])
        .await;
    let names: Vec<(&str, &str)> = spans
        .iter()
        .map(|s| (s.service_name.as_str(), s.name.as_str()))
        .collect();
    let release = spans
        .iter()
        .find(|s| {
            s.service_name == "inventory"
                && s.name.ends_with("InventoryService/Release")
                && s.kind == SpanKind::Server
        })
        .unwrap_or_else(|| panic!("no Release in {names:#?}"));
    let reserve = spans
        .iter()
        .find(|s| {
            s.service_name == "inventory"
                && s.name.ends_with("InventoryService/Reserve")
                && s.kind == SpanKind::Server
        })
        .unwrap_or_else(|| panic!("no Reserve in {names:#?}"));
    assert!(
        release.start_unix_nanos >= reserve.end_unix_nanos,
        "Release comes after Reserve"
    );
    // The HTTP client span to payment failed with 402; the gateway's SERVER
    // span is not an error (a 4xx is the client's problem).
    let charge = spans
        .iter()
        .find(|s| {
            s.service_name == "order"
                && s.kind == SpanKind::Client
                && s.attr_str("http.request.method") == Some("POST")
        })
        .expect("the charge's client span");
    assert_eq!(charge.status.code, StatusCode::Error);
    assert_eq!(charge.attr_str("error.type"), Some("402"));
    let root = spans.iter().find(|s| s.parent_span_id.is_none()).unwrap();
    assert_eq!(root.attr_i64("http.response.status_code"), Some(402));
    assert_ne!(root.status.code, StatusCode::Error);
    for span in mesh.collector.store().all_spans() {
        assert!(!format!("{span:?}").contains(DECLINED_CARD));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_traceparent_is_continued_and_unsampled_requests_leave_no_span() {
    let mesh = Mesh::start().await;
    let client = reqwest::Client::new();

    // Sampled: the gateway continues the caller's trace.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = client
        .get(mesh.url("/api/products"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .header("baggage", "tenant=workshop")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(common::trace_id_of(&response), trace_id);
    let spans = mesh
        .wait_for_trace(trace_id, &["gateway", "inventory"])
        .await;
    let root = spans
        .iter()
        .find(|s| s.service_name == "gateway" && s.kind == SpanKind::Server)
        .unwrap();
    assert_eq!(root.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));

    // Unsampled (flags 00): every service obeys, no span anywhere.
    let unsampled = "0af7651916cd43dd8448eb211c80319c";
    let response = client
        .get(mesh.url("/api/products"))
        .header("traceparent", format!("00-{unsampled}-b7ad6b7169203331-00"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = response.headers()["traceresponse"].to_str().unwrap();
    let traceresponse = TraceParent::parse(header).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        traceresponse.trace_id == unsampled && !traceresponse.sampled(),
        "{header}"
    );

    // A malformed traceparent starts a new trace instead of failing.
    let response = client
        .get(mesh.url("/api/products"))
        .header("traceparent", "00-not-a-trace-01")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let fresh = common::trace_id_of(&response);
    mesh.wait_for_trace(&fresh, &["gateway", "inventory"]).await;

    assert!(
        mesh.collector.store().trace(unsampled).is_none(),
        "an unsampled trace leaked spans"
    );
}
