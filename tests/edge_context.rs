//! End to end: what the gateway does with trace context from the outside
//! world, through the real `tracemesh up` processes and the spans they
//! export. Trusting (the default), the caller's trace continues and an
//! oversized `baggage` is cut to the W3C limits (64 list-members, 8192
//! bytes) without failing the request; with `TRACEMESH_UNTRUSTED_EDGE=true`
//! the gateway starts its own root trace, which the services behind it
//! continue as usual.

mod common;

use common::Mesh;
use tracemesh_harness::SpanRecord;
use tracemesh_harness::model::SpanKind;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn server_span<'a>(spans: &'a [SpanRecord], service: &str) -> &'a SpanRecord {
    spans
        .iter()
        .find(|s| s.service_name == service && s.kind == SpanKind::Server)
        .unwrap_or_else(|| panic!("no {service} SERVER span in {spans:#?}"))
}

/// 100 list-members, exactly 10,000 bytes: over both W3C limits. The first
/// is 100 bytes, the others 99 (`k001=vvv…`), so 64 of them take 6,400
/// bytes: the member count is the limit that cuts.
fn oversized_baggage() -> String {
    let members: Vec<String> = (0..100)
        .map(|i| {
            let pad = if i == 0 { 95 } else { 94 };
            format!("k{i:03}={}", "v".repeat(pad))
        })
        .collect();
    let value = members.join(",");
    assert_eq!(value.len(), 10_000);
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_edge_starts_a_new_root_trace_that_the_services_behind_continue() {
    let mesh = Mesh::start_with(&[("TRACEMESH_UNTRUSTED_EDGE", "true")]).await;
    let client = reqwest::Client::new();

    let response = client
        .get(mesh.url("/api/products"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("tracestate", "vendor=outside")
        .header("baggage", "tenant=outsider")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let trace_id = common::trace_id_of(&response);
    assert_ne!(trace_id, CALLER_TRACE, "the caller chose the trace id");

    let spans = mesh
        .wait_for_trace(&trace_id, &["gateway", "inventory"])
        .await;
    let gateway = server_span(&spans, "gateway");
    assert!(
        gateway.is_root(),
        "gateway SERVER span has a parent: {gateway:#?}"
    );
    assert_eq!(
        gateway.attr_str("tracemesh.incoming_context"),
        Some("dropped")
    );
    assert!(
        gateway.attr_str("baggage.tenant").is_none(),
        "baggage ignored"
    );
    // Behind the gateway, propagation is as usual: inventory's SERVER span
    // is the child of the gateway's CLIENT span, in the gateway's trace.
    let inventory = server_span(&spans, "inventory");
    let parent = inventory
        .parent_span_id
        .as_deref()
        .expect("inventory has a parent");
    let client_span = spans
        .iter()
        .find(|s| s.span_id == parent)
        .expect("inventory's parent is in the trace");
    assert_eq!(
        (client_span.service_name.as_str(), client_span.kind),
        ("gateway", SpanKind::Client)
    );
    assert!(inventory.attr_str("tracemesh.incoming_context").is_none());
    assert!(
        mesh.collector.store().trace(CALLER_TRACE).is_none(),
        "a span joined the caller's trace"
    );

    // Nothing sent, nothing dropped: no mark.
    let response = client.get(mesh.url("/api/products")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let fresh = common::trace_id_of(&response);
    let spans = mesh.wait_for_trace(&fresh, &["gateway", "inventory"]).await;
    assert!(
        server_span(&spans, "gateway")
            .attr_str("tracemesh.incoming_context")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusting_edge_keeps_the_callers_trace_and_cuts_oversized_baggage_to_the_limits() {
    let mesh = Mesh::start().await;
    let response = reqwest::Client::new()
        .get(mesh.url("/api/products"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("baggage", oversized_baggage())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "oversized baggage failed the request"
    );
    assert_eq!(common::trace_id_of(&response), CALLER_TRACE);

    let spans = mesh
        .wait_for_trace(CALLER_TRACE, &["gateway", "inventory"])
        .await;
    let gateway = server_span(&spans, "gateway");
    assert_eq!(gateway.parent_span_id.as_deref(), Some(CALLER_SPAN));
    assert!(gateway.attr_str("tracemesh.incoming_context").is_none());
    // 64 kept, 36 dropped, and the drop is on the span.
    assert_eq!(gateway.attr_i64("tracemesh.baggage.dropped"), Some(36));
    // The kept members travel on: the first ones reach inventory (the
    // server layers copy at most 16, sorted, as `baggage.<key>`), and what
    // the gateway forwards is within the limits, so nothing more is dropped.
    let inventory = server_span(&spans, "inventory");
    assert!(
        inventory.attr_str("baggage.k000").is_some(),
        "{inventory:#?}"
    );
    assert!(inventory.attr_str("baggage.k015").is_some());
    assert!(inventory.attr_i64("tracemesh.baggage.dropped").is_none());
}
