//! Lab 3, errors: three error traces in the collector, each told by its
//! gateway SERVER span's `http.response.status_code`: a checkout answered
//! 402 (card declined), one answered 409 (out of stock), and a request
//! answered 503 because inventory was down, where a span at inventory or
//! of a call to it has status ERROR and an `error.type`.

use tracemesh_harness::model::{SpanKind, StatusCode};
use tracemesh_harness::sources::TraceQuery;
use tracemesh_harness::trace::TraceTree;

use super::lab01::CHECKOUT;
use super::{Context, Requirement};

const STATUS_CODE: &str = "http.response.status_code";
const ERROR_TYPE: &str = "error.type";
/// The gRPC service inventory serves: in its callers' CLIENT span names.
const INVENTORY_RPC: &str = "InventoryService/";

/// The gateway answered `status` (to `endpoint`, when given).
fn answered(tree: &TraceTree, status: i64, endpoint: Option<&str>) -> bool {
    tree.spans().iter().any(|s| {
        s.service_name == "gateway"
            && s.kind == SpanKind::Server
            && s.attr_i64(STATUS_CODE) == Some(status)
            && endpoint.is_none_or(|e| s.name == e)
    })
}

/// A span at inventory, or of a call to it, says what went wrong: status
/// ERROR and an `error.type`. (Inventory stopped, the caller's CLIENT span
/// `tracemesh.inventory.v1.InventoryService/...` says it; inventory failing,
/// its own SERVER span.)
fn inventory_error_span(tree: &TraceTree) -> bool {
    tree.spans().iter().any(|s| {
        s.status.code == StatusCode::Error
            && s.attributes.contains_key(ERROR_TYPE)
            && (s.service_name == "inventory" || s.name.contains(INVENTORY_RPC))
    })
}

/// The gateway's answers with `status`, found with TraceQL.
fn answered_query(status: u16) -> TraceQuery {
    TraceQuery::traceql(format!(
        "{{ resource.service.name = \"gateway\" && kind = server && span.{STATUS_CODE} = {status} }}"
    ))
}

pub async fn check(cx: &Context<'_>) -> Vec<Requirement> {
    let m = cx.messages;
    let reachable = cx.collector_answers().await;
    let mut requirements = vec![reachable];
    let checkouts = [
        (402, m.t("lab3.declined"), m.t("lab3.declined.hint")),
        (409, m.t("lab3.out_of_stock"), m.t("lab3.out_of_stock.hint")),
    ];
    for (status, text, hint) in checkouts {
        let trees = cx
            .collector
            .traces(&cx.traces, answered_query(status))
            .await;
        let found = trees
            .iter()
            .find(|t| answered(t, i64::from(status), Some(CHECKOUT)));
        let text = match found {
            Some(t) => m.f("check.found_in", &[("what", &text), ("id", t.trace_id())]),
            None => text,
        };
        requirements.push(Requirement::new(found.is_some(), text, hint));
    }
    let trees = cx.collector.traces(&cx.traces, answered_query(503)).await;
    let unavailable = trees.iter().find(|t| answered(t, 503, None));
    let explained = trees
        .iter()
        .find(|t| answered(t, 503, None) && inventory_error_span(t));
    requirements.push(Requirement::new(
        unavailable.is_some(),
        match unavailable {
            Some(t) => m.f(
                "check.found_in",
                &[("what", &m.t("lab3.unavailable")), ("id", t.trace_id())],
            ),
            None => m.t("lab3.unavailable"),
        },
        m.t("lab3.unavailable.hint"),
    ));
    requirements.push(Requirement::new(
        explained.is_some(),
        m.t("lab3.error_type"),
        m.t("lab3.error_type.hint"),
    ));
    requirements
}
