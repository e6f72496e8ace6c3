//! Lab 2, propagation: (a) a trace the learner started with their own
//! `traceparent` (the gateway's SERVER span has a parent span id, the
//! learner's, that is not in the trace); (b) baggage that reached payment
//! (a payment SERVER span with a `baggage.<key>` attribute); (c) the split
//! the `drop_context` fault on order -> payment makes: a trace whose root
//! is payment's SERVER span `POST /v1/charges`.

use tracemesh_harness::SpanRecord;
use tracemesh_harness::model::SpanKind;
use tracemesh_harness::sources::TraceQuery;
use tracemesh_harness::trace::TraceTree;
use tracemesh_runtime::contract::attr::BAGGAGE_PREFIX;

use super::collector::sole_root;
use super::{Context, Requirement};

pub const CHARGE: &str = "POST /v1/charges";

fn server_spans<'t>(tree: &'t TraceTree, service: &'t str) -> impl Iterator<Item = &'t SpanRecord> {
    tree.spans()
        .iter()
        .filter(move |s| s.service_name == service && s.kind == SpanKind::Server)
}

/// The gateway's SERVER span continues a caller's trace: its parent is a
/// span of the caller, not in the trace.
fn started_by_the_learner(tree: &TraceTree) -> bool {
    server_spans(tree, "gateway").any(|gateway| {
        gateway
            .parent_span_id
            .as_ref()
            .is_some_and(|parent| !tree.spans().iter().any(|s| &s.span_id == parent))
    })
}

/// The first `baggage.<key>` attribute on a payment SERVER span.
fn baggage_at_payment(tree: &TraceTree) -> Option<String> {
    server_spans(tree, "payment").find_map(|payment| {
        payment
            .attributes
            .keys()
            .find(|k| k.starts_with(BAGGAGE_PREFIX))
            .cloned()
    })
}

/// Payment's charge is the trace's own root: the context was lost on the
/// way into it.
fn split_at_payment(tree: &TraceTree) -> bool {
    sole_root(tree).is_some_and(|root| {
        root.service_name == "payment" && root.kind == SpanKind::Server && root.name == CHARGE
    })
}

pub async fn check(cx: &Context<'_>) -> Vec<Requirement> {
    let m = cx.messages;
    let reachable = cx.collector_answers().await;
    let gateway = cx
        .collector
        .traces(&cx.traces, TraceQuery::service("gateway"))
        .await;
    let own = gateway.iter().find(|t| started_by_the_learner(t));
    let payment = cx
        .collector
        .traces(&cx.traces, TraceQuery::service("payment").named(CHARGE))
        .await;
    let baggage = payment
        .iter()
        .find_map(|t| baggage_at_payment(t).map(|key| (t.trace_id().to_owned(), key)));
    let split = payment.iter().find(|t| split_at_payment(t));
    vec![
        reachable,
        Requirement::new(
            own.is_some(),
            match own {
                Some(t) => m.f("lab2.traceparent", &[("id", t.trace_id())]),
                None => m.t("lab2.traceparent_not"),
            },
            m.t("lab2.traceparent.hint"),
        ),
        Requirement::new(
            baggage.is_some(),
            match &baggage {
                Some((id, key)) => m.f("lab2.baggage", &[("key", key), ("id", id)]),
                None => m.t("lab2.baggage_not"),
            },
            m.t("lab2.baggage.hint"),
        ),
        Requirement::new(
            split.is_some(),
            match split {
                Some(t) => m.f("lab2.split", &[("id", t.trace_id())]),
                None => m.t("lab2.split_not"),
            },
            m.t("lab2.split.hint"),
        ),
    ]
}
