//! The trace model: trees of any depth, the structural defects, and
//! readiness without sleeps. Each defect is planted into a clean checkout
//! trace and must be reported as itself (and the clean trace as sound).

mod trees_support;

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tracemesh_harness::TraceStore;
use tracemesh_harness::model::SpanKind;
use tracemesh_harness::trace::synthetic::{SyntheticTrace, at_ms};
use tracemesh_harness::trace::{
    DefectKind, Readiness, ReadinessPolicy, StructuralDefect, TraceTree, TreeOptions,
    wait_for_trace, wait_polling,
};
use trees_support::*;

fn defect_kinds(tree: &TraceTree) -> Vec<DefectKind> {
    tree.defects().iter().map(StructuralDefect::kind).collect()
}

#[test]
fn a_clean_checkout_is_one_sound_tree_with_children_by_start_time() {
    let tree = tree_of(1, clean_checkout(1));
    assert!(tree.is_sound(), "{:?}", tree.defects());
    let root = tree.root().unwrap();
    assert_eq!(tree.span(root).name, "POST /api/checkout");
    let children: Vec<&str> = tree
        .children(root)
        .iter()
        .map(|&c| tree.span(c).name.as_str())
        .collect();
    assert_eq!(
        children,
        ["tracemesh.user.v1.UserService/ValidateUser", ORDER_RPC]
    );
    let walk = tree.depth_first();
    assert_eq!(walk.len(), tree.len(), "every span reached once");
    assert_eq!(walk[0], (root, 0));
}

#[test]
fn children_are_ordered_by_start_time_whatever_the_arrival_order() {
    let mut spans = clean_checkout(1);
    spans.reverse();
    let tree = tree_of(1, spans);
    let order = find(tree.spans(), "order", ORDER_RPC, SpanKind::Server);
    let starts: Vec<u64> = tree
        .children(order)
        .iter()
        .map(|&c| tree.span(c).start_unix_nanos)
        .collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
    assert_eq!(tree.children(order).len(), 4);
}

#[test]
fn a_hop_that_dropped_its_context_splits_the_trace_into_two_roots() {
    let mut spans = clean_checkout(1);
    // Payment ignored the traceparent: its server span became a new root.
    let payment = find(&spans, "payment", "POST /v1/charges", SpanKind::Server);
    spans[payment].parent_span_id = None;
    let tree = tree_of(1, spans);
    assert_eq!(defect_kinds(&tree), [DefectKind::SeveralRoots]);
    let message = tree.defects()[0].to_string();
    assert!(message.contains("2 root spans"), "{message}");
    assert!(
        message.contains("payment POST /v1/charges [server]"),
        "{message}"
    );
    assert!(message.contains("dropped the context"), "{message}");
    assert_eq!(tree.root(), None, "no single root any more");
}

#[test]
fn a_missing_span_leaves_its_children_with_a_missing_parent() {
    let mut spans = clean_checkout(1);
    let order = find(&spans, "order", ORDER_RPC, SpanKind::Server);
    spans.remove(order);
    let tree = tree_of(1, spans);
    // Its four children are now orphans, each reported.
    assert_eq!(tree.orphans().len(), 4);
    assert!(
        defect_kinds(&tree)
            .iter()
            .all(|k| *k == DefectKind::MissingParent)
    );
    let message = tree.defects()[0].to_string();
    assert!(
        message.starts_with("missing parent: order SELECT orders [client]"),
        "{message}"
    );
    // The orphans' subtrees are still walked, so nothing is silently lost.
    assert_eq!(tree.depth_first().len(), tree.len());
    assert!(tree.outline(100).contains("(parent missing)"));
}

#[test]
fn a_wrong_parent_outside_the_parents_time_is_reported_with_both_spans() {
    let mut spans = clean_checkout(1);
    // BATCH stock (27..29 ms) reattached under ValidateUser's client span (1..6 ms).
    let batch = find(&spans, "inventory", "BATCH stock", SpanKind::Client);
    let user_call = find(
        &spans,
        "gateway",
        "tracemesh.user.v1.UserService/ValidateUser",
        SpanKind::Client,
    );
    spans[batch].parent_span_id = Some(spans[user_call].span_id.clone());
    let tree = tree_of(1, spans);
    assert_eq!(defect_kinds(&tree), [DefectKind::ChildOutsideParent]);
    let message = tree.defects()[0].to_string();
    assert!(
        message.contains(
            "child inventory BATCH stock [client] ends 23.000 ms after its parent \
             gateway tracemesh.user.v1.UserService/ValidateUser [client]"
        ),
        "{message}"
    );
}

#[test]
fn a_child_outside_its_parent_fails_only_beyond_the_tolerance() {
    let build = |late_ms: f64, early_ms: f64| {
        let mut t = SyntheticTrace::new(9);
        let root = t.span(None, "gateway", "GET /x", SpanKind::Server, 10.0, 20.0);
        t.span(
            Some(root),
            "gateway",
            "child",
            SpanKind::Internal,
            10.0 - early_ms,
            20.0 + late_ms,
        );
        t.into_tree(&TreeOptions::default())
    };
    assert!(
        build(4.9, 4.9).is_sound(),
        "within the 5 ms default tolerance"
    );
    let late = build(6.0, 0.0);
    assert_eq!(defect_kinds(&late), [DefectKind::ChildOutsideParent]);
    assert!(
        late.defects()[0].to_string().contains(
            "ends 6.000 ms after its parent gateway GET /x [server] (tolerance 5.000 ms)"
        )
    );
    let early = build(0.0, 7.0);
    assert!(
        early.defects()[0]
            .to_string()
            .contains("starts 7.000 ms before")
    );
    // A stricter tolerance turns the small offset into a defect.
    let mut t = SyntheticTrace::new(9);
    let root = t.span(None, "gateway", "GET /x", SpanKind::Server, 10.0, 20.0);
    t.span(
        Some(root),
        "gateway",
        "child",
        SpanKind::Internal,
        10.0,
        20.5,
    );
    let strict = TreeOptions {
        clock_tolerance: Duration::from_micros(100),
    };
    assert!(!t.into_tree(&strict).is_sound());
}

#[test]
fn a_span_of_another_trace_is_reported_and_left_out() {
    let mut spans = clean_checkout(1);
    let mut stray = clean_checkout(2).remove(5);
    stray.parent_span_id = None;
    spans.push(stray);
    let tree = tree_of(1, spans);
    assert_eq!(defect_kinds(&tree), [DefectKind::ForeignSpan]);
    assert_eq!(tree.len(), 16, "the stray span is not in the tree");
    let message = tree.defects()[0].to_string();
    assert!(
        message.contains(&format!("belongs to another trace, {}", trace_id(2))),
        "{message}"
    );
}

#[test]
fn duplicate_span_ids_are_reported_once_per_id_and_say_if_identical() {
    let mut spans = clean_checkout(1);
    let charge = find(&spans, "payment", "POST /v1/charges", SpanKind::Server);
    // A resent batch: an identical copy, twice.
    spans.push(spans[charge].clone());
    spans.push(spans[charge].clone());
    // A broken id generator: another span with the root's id.
    let mut clash = spans[charge].clone();
    clash.span_id = spans[0].span_id.clone();
    clash.name = "other".into();
    spans.push(clash);
    let tree = tree_of(1, spans);
    assert_eq!(
        defect_kinds(&tree),
        [DefectKind::DuplicateSpanId, DefectKind::DuplicateSpanId]
    );
    let messages: Vec<String> = tree.defects().iter().map(ToString::to_string).collect();
    assert!(
        messages[0].contains("appears 2 times, with different content"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("appears 3 times, identical copies"),
        "{messages:?}"
    );
    assert_eq!(tree.len(), 16, "one copy of each id is kept");
}

#[test]
fn a_parent_cycle_is_reported_and_does_not_hang_the_walks() {
    let mut t = SyntheticTrace::new(3);
    let root = t.span(None, "gateway", "GET /", SpanKind::Server, 0.0, 10.0);
    let a = t.span(Some(root), "gateway", "a", SpanKind::Internal, 1.0, 2.0);
    let b = t.span(Some(a), "gateway", "b", SpanKind::Internal, 1.0, 2.0);
    let mut spans = t.into_spans();
    spans[a].parent_span_id = Some(spans[b].span_id.clone());
    let tree = TraceTree::build(&trace_id(3), spans, &TreeOptions::default());
    assert_eq!(defect_kinds(&tree), [DefectKind::Cycle]);
    assert_eq!(tree.depth_first().len(), 1);
    assert!(tree.ancestry(a).len() <= tree.len() + 1);
}

#[test]
fn spans_without_a_root_are_reported() {
    let mut spans = clean_checkout(1);
    spans.remove(0);
    let tree = tree_of(1, spans);
    assert!(defect_kinds(&tree).contains(&DefectKind::NoRoot));
}

#[test]
fn a_ten_thousand_deep_chain_builds_and_walks_without_overflowing_the_stack() {
    const DEPTH: usize = 10_000;
    let mut t = SyntheticTrace::new(10);
    let mut parent = None;
    for level in 0..DEPTH {
        let start = level as f64 * 0.001;
        parent = Some(t.span(
            parent,
            "chain",
            "step",
            SpanKind::Internal,
            start,
            100.0 - start,
        ));
    }
    let tree = t.into_tree(&TreeOptions::default());
    assert!(tree.is_sound(), "{:?}", tree.defects().first());
    assert_eq!(tree.max_depth(), DEPTH - 1);
    assert_eq!(tree.depth_first().len(), DEPTH);
    let deepest = tree.depth_first().last().unwrap().0;
    assert_eq!(tree.ancestry(deepest).len(), DEPTH);
    let label = tree.path_label(deepest);
    assert!(
        label.contains("… 9992 more …"),
        "long paths are shortened: {label}"
    );
    assert_eq!(tree.outline(50).lines().count(), 51);
}

#[test]
fn a_ten_thousand_wide_fan_out_builds_in_start_order() {
    const WIDTH: usize = 10_000;
    let mut t = SyntheticTrace::new(11);
    let root = t.span(None, "fan", "root", SpanKind::Server, 0.0, 1000.0);
    // Added latest-first, so the tree has to sort them.
    for i in (0..WIDTH).rev() {
        t.span(
            Some(root),
            "fan",
            "leaf",
            SpanKind::Client,
            i as f64 * 0.05,
            i as f64 * 0.05 + 1.0,
        );
    }
    let tree = t.into_tree(&TreeOptions::default());
    assert!(tree.is_sound());
    let children = tree.children(tree.root().unwrap());
    assert_eq!(children.len(), WIDTH);
    assert!(
        children
            .windows(2)
            .all(|w| tree.span(w[0]).start_unix_nanos <= tree.span(w[1]).start_unix_nanos)
    );
}

#[test]
fn the_trace_id_can_be_inferred_from_the_majority_of_spans() {
    let mut spans = clean_checkout(4);
    spans.push(clean_checkout(5).remove(0));
    let tree = TraceTree::build_inferred(spans, &TreeOptions::default());
    assert_eq!(tree.trace_id(), trace_id(4));
    assert_eq!(defect_kinds(&tree), [DefectKind::ForeignSpan]);
}

/// One OTLP batch for `service` with spans `(span byte)` of trace byte `trace`.
fn otlp_batch(trace: u8, span_bytes: &[u8]) -> Vec<ResourceSpans> {
    vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("order".into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: span_bytes
                .iter()
                .map(|&s| Span {
                    trace_id: vec![trace; 16],
                    span_id: vec![s; 8],
                    name: "op".into(),
                    start_time_unix_nano: at_ms(0.0),
                    end_time_unix_nano: at_ms(1.0),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        schema_url: String::new(),
    }]
}

fn quick_policy(expected: Option<usize>) -> ReadinessPolicy {
    ReadinessPolicy {
        expected_spans: expected,
        quiet: Duration::from_millis(150),
        deadline: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn the_store_wait_completes_when_the_expected_spans_arrive() {
    let store = TraceStore::new(1000);
    let writer = store.clone();
    let feeding = tokio::spawn(async move {
        for s in 1..=3u8 {
            writer.insert(otlp_batch(7, &[s]));
            tokio::task::yield_now().await;
        }
    });
    let id = "07".repeat(16);
    let outcome = wait_for_trace(&store, &id, &quick_policy(Some(3))).await;
    assert_eq!(outcome, Readiness::Complete { spans: 3 });
    feeding.await.unwrap();
}

#[tokio::test]
async fn the_store_wait_settles_on_a_stable_count_below_the_expected_one() {
    let store = TraceStore::new(1000);
    store.insert(otlp_batch(7, &[1, 2]));
    let started = std::time::Instant::now();
    let outcome = wait_for_trace(&store, &"07".repeat(16), &quick_policy(Some(5))).await;
    assert_eq!(outcome, Readiness::Stable { spans: 2 });
    assert!(outcome.is_ready());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the quiet period, not the deadline"
    );
}

#[tokio::test]
async fn the_store_wait_times_out_when_nothing_arrives() {
    let store = TraceStore::new(1000);
    let policy = ReadinessPolicy {
        deadline: Duration::from_millis(200),
        ..quick_policy(None)
    };
    let outcome = wait_for_trace(&store, &"07".repeat(16), &policy).await;
    assert_eq!(outcome, Readiness::TimedOut { spans: 0 });
    assert!(!outcome.is_ready());
}

#[tokio::test]
async fn polling_any_counter_reaches_the_same_outcomes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let polls = Arc::new(AtomicUsize::new(0));
    // A "remote backend" whose count grows by one per poll up to 4.
    let counter = {
        let polls = polls.clone();
        move || {
            let polls = polls.clone();
            async move { (polls.fetch_add(1, Ordering::SeqCst) + 1).min(4) }
        }
    };
    let outcome = wait_polling(
        counter.clone(),
        &quick_policy(Some(4)),
        Duration::from_millis(5),
    )
    .await;
    assert_eq!(outcome, Readiness::Complete { spans: 4 });

    polls.store(0, Ordering::SeqCst);
    let outcome = wait_polling(counter, &quick_policy(Some(10)), Duration::from_millis(5)).await;
    assert_eq!(outcome, Readiness::Stable { spans: 4 });

    let outcome = wait_polling(
        || async { 0 },
        &ReadinessPolicy {
            deadline: Duration::from_millis(50),
            ..quick_policy(None)
        },
        Duration::from_millis(5),
    )
    .await;
    assert_eq!(outcome, Readiness::TimedOut { spans: 0 });
}
