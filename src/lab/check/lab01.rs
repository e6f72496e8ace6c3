//! Lab 1, your first trace: a checkout trace in the collector, complete
//! (one root, without a parent, nothing orphaned) with spans of all five
//! services.

use std::collections::BTreeSet;

use tracemesh_harness::sources::TraceQuery;
use tracemesh_runtime::topology::Service;

use tracemesh_harness::model::SpanKind;
use tracemesh_harness::trace::TraceTree;

use super::collector::sole_root;
use super::{Context, Requirement};

pub const CHECKOUT: &str = "POST /api/checkout";

/// The trace holds the gateway's checkout SERVER span.
fn is_checkout(tree: &TraceTree) -> bool {
    tree.spans()
        .iter()
        .any(|s| s.service_name == "gateway" && s.kind == SpanKind::Server && s.name == CHECKOUT)
}

/// The checkout span is the trace's one root, without a parent.
fn complete(tree: &TraceTree) -> bool {
    sole_root(tree).is_some_and(|root| root.service_name == "gateway" && root.name == CHECKOUT)
}

/// The services with no span in the trace.
fn missing_services(tree: &TraceTree) -> Vec<&'static str> {
    let present: BTreeSet<&str> = tree
        .spans()
        .iter()
        .map(|s| s.service_name.as_str())
        .collect();
    Service::ALL
        .iter()
        .map(|s| s.name())
        .filter(|s| !present.contains(s))
        .collect()
}

pub async fn check(cx: &Context<'_>) -> Vec<Requirement> {
    let m = cx.messages;
    let reachable = cx.collector_answers().await;
    let trees = cx
        .collector
        .traces(&cx.traces, TraceQuery::service("gateway").named(CHECKOUT))
        .await;
    let checkouts: Vec<&TraceTree> = trees.iter().filter(|t| is_checkout(t)).collect();
    // The newest checkout that meets everything; else the newest, to say
    // what it lacks (search answers come newest first).
    let checkout = checkouts
        .iter()
        .find(|t| complete(t) && missing_services(t).is_empty())
        .or(checkouts.first())
        .copied();
    let id = checkout.map_or_else(String::new, |t| t.trace_id().to_owned());
    let missing = checkout.map(missing_services).unwrap_or_default();
    vec![
        reachable,
        Requirement::new(
            checkout.is_some(),
            match checkout {
                Some(_) => m.f("lab1.trace", &[("id", &id)]),
                None => m.t("lab1.trace_not"),
            },
            m.t("lab1.trace.hint"),
        ),
        Requirement::new(
            checkout.is_some_and(complete),
            m.t("lab1.complete"),
            m.f("lab1.complete.hint", &[("id", &id)]),
        ),
        Requirement::new(
            checkout.is_some() && missing.is_empty(),
            m.t("lab1.services"),
            m.f("lab1.services.hint", &[("missing", &missing.join(", "))]),
        ),
    ]
}
