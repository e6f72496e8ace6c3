//! Latency attribution: self time, the critical path, run percentiles, and
//! the injected-latency check — which must fail, naming the service that
//! absorbed the latency, when latency lands somewhere other than injected.

mod trees_support;

use std::time::Duration;

use tracemesh_harness::checks::attribution::{
    InjectedLatency, RunAttribution, TraceAttribution, check_injected_latency, critical_path,
    self_times,
};
use tracemesh_harness::model::SpanKind;
use tracemesh_harness::trace::synthetic::{CheckoutDelays, SyntheticTrace, checkout};
use tracemesh_harness::trace::{TraceTree, TreeOptions};
use trees_support::*;

const MS: u64 = 1_000_000;

/// Root `a` [0,100] with children `b` [10,40] and `c` [20,90] overlapping,
/// and `d` [95,105] sticking out past the root's end.
fn overlapping() -> TraceTree {
    let mut t = SyntheticTrace::new(1);
    let a = t.span(None, "a", "root", SpanKind::Server, 0.0, 100.0);
    t.span(Some(a), "b", "early", SpanKind::Client, 10.0, 40.0);
    t.span(Some(a), "c", "long", SpanKind::Client, 20.0, 90.0);
    t.span(Some(a), "d", "late", SpanKind::Client, 95.0, 105.0);
    t.into_tree(&TreeOptions::default())
}

#[test]
fn self_time_is_the_duration_minus_the_union_of_children_clipped_to_the_span() {
    let tree = overlapping();
    let times = self_times(&tree);
    // Children cover [10,90] (b and c overlap) and [95,100] (d clipped).
    assert_eq!(times[0], 15 * MS);
    assert_eq!(times[1], 30 * MS);
    assert_eq!(times[3], 10 * MS, "a span's own self time is not clipped");
}

#[test]
fn the_critical_path_walks_back_through_the_last_finishing_child() {
    let tree = overlapping();
    let path: Vec<(String, u64, u64)> = critical_path(&tree, 0)
        .into_iter()
        .map(|s| {
            (
                s.service.clone(),
                (s.start_unix_nanos - tree.span(0).start_unix_nanos) / MS,
                (s.end_unix_nanos - tree.span(0).start_unix_nanos) / MS,
            )
        })
        .collect();
    // b ran alongside c and ended before c did: it never held the request up.
    assert_eq!(
        path,
        [
            ("a".to_string(), 0, 20),
            ("c".to_string(), 20, 90),
            ("a".to_string(), 90, 95),
            ("d".to_string(), 95, 100),
        ]
    );
    let attribution = TraceAttribution::of(&tree).unwrap();
    assert_eq!(attribution.critical_by_service["a"], 25 * MS);
    assert!(!attribution.critical_by_service.contains_key("b"));
    // Plain self time still sees b's work.
    assert_eq!(attribution.self_by_service["b"], 30 * MS);
}

#[test]
fn children_that_follow_each_other_exactly_are_all_on_the_critical_path() {
    let mut t = SyntheticTrace::new(2);
    let root = t.span(None, "a", "root", SpanKind::Server, 0.0, 30.0);
    for (i, service) in ["b", "c", "d"].into_iter().enumerate() {
        let start = i as f64 * 10.0;
        t.span(
            Some(root),
            service,
            "step",
            SpanKind::Client,
            start,
            start + 10.0,
        );
    }
    let attribution = TraceAttribution::of(&t.into_tree(&TreeOptions::default())).unwrap();
    for service in ["b", "c", "d"] {
        assert_eq!(
            attribution.critical_by_service[service],
            10 * MS,
            "{service}"
        );
    }
    assert!(!attribution.critical_by_service.contains_key("a"));
}

#[test]
fn the_checkout_critical_path_covers_the_whole_request() {
    let tree = tree_of(1, clean_checkout(1));
    let attribution = TraceAttribution::of(&tree).unwrap();
    let total: u64 = attribution.critical_by_service.values().sum();
    assert_eq!(total, attribution.duration_nanos);
    assert_eq!(attribution.duration_nanos, 45 * MS);
    // Inventory's Reserve (19.5 ms) is entirely on the path.
    assert_eq!(attribution.critical_by_service["inventory"], 19_500_000);
    let segments = &attribution.critical_path;
    assert!(
        segments
            .windows(2)
            .all(|w| w[0].end_unix_nanos <= w[1].start_unix_nanos),
        "segments are in time order and do not overlap"
    );
}

/// A run of `n` checkouts with a little jitter in the warehouse check, and
/// `delays` on top.
fn run(n: u128, delays: CheckoutDelays) -> RunAttribution {
    let attributions: Vec<TraceAttribution> = (1..=n)
        .map(|i| {
            // Halves of a millisecond are exact in binary, so deltas are exact.
            let jitter = (i % 5) as f64 * 0.5;
            let d = CheckoutDelays {
                warehouse_check_ms: delays.warehouse_check_ms + jitter,
                ..delays
            };
            let trace = checkout(i, d);
            TraceAttribution::of(&trace.into_tree(&TreeOptions::default())).unwrap()
        })
        .collect();
    RunAttribution::from_traces(&attributions)
}

fn injected_into_inventory(operation: Option<&str>) -> InjectedLatency {
    InjectedLatency {
        service: "inventory".into(),
        operation: operation.map(str::to_string),
        latency: Duration::from_millis(40),
    }
}

#[test]
fn latency_injected_into_inventory_is_attributed_to_inventory() {
    let baseline = run(50, CheckoutDelays::default());
    let treated = run(
        50,
        CheckoutDelays {
            inventory_ms: 40.0,
            ..CheckoutDelays::default()
        },
    );
    let verdict = check_injected_latency(
        &baseline,
        &treated,
        &injected_into_inventory(Some(RESERVE_RPC)),
        0.10,
    );
    assert!(verdict.passed, "{:#?}", verdict.reasons);
    assert_eq!(verdict.examined, 100);
    assert_eq!(verdict.figures["delta_ms"]["inventory"], 40.0);
    assert_eq!(verdict.figures["delta_ms"]["order"], 0.0);
    assert_eq!(verdict.figures["operation_delta_ms"], 40.0);
}

#[test]
fn latency_that_moved_to_another_service_fails_naming_the_service_that_absorbed_it() {
    let baseline = run(50, CheckoutDelays::default());
    // The delay happened in order, before it called inventory.
    let treated = run(
        50,
        CheckoutDelays {
            order_ms: 40.0,
            ..CheckoutDelays::default()
        },
    );
    let verdict = check_injected_latency(&baseline, &treated, &injected_into_inventory(None), 0.10);
    assert!(!verdict.passed);
    assert_reason(
        &verdict.reasons,
        "inventory's critical-path self time (median) grew by 0.000 ms, expected 40.000 ms ± 4.000 ms",
    );
    assert_reason(
        &verdict.reasons,
        "order absorbed injected latency: its critical-path self time (median) grew by 40.000 ms",
    );
    assert_eq!(verdict.reasons.len(), 2, "{:#?}", verdict.reasons);
}

#[test]
fn latency_split_between_services_fails_for_both() {
    let baseline = run(30, CheckoutDelays::default());
    let treated = run(
        30,
        CheckoutDelays {
            order_ms: 20.0,
            inventory_ms: 20.0,
            ..CheckoutDelays::default()
        },
    );
    let verdict = check_injected_latency(&baseline, &treated, &injected_into_inventory(None), 0.10);
    assert_reason(
        &verdict.reasons,
        "inventory's critical-path self time (median) grew by 20.000 ms",
    );
    assert_reason(&verdict.reasons, "order absorbed injected latency");
}

#[test]
fn latency_in_the_right_service_but_the_wrong_operation_fails_the_operation_check() {
    let baseline = run(30, CheckoutDelays::default());
    // Inventory is slower, but in warehouse.check, not in Reserve itself.
    let treated = run(
        30,
        CheckoutDelays {
            warehouse_check_ms: 40.0,
            ..CheckoutDelays::default()
        },
    );
    let service_only =
        check_injected_latency(&baseline, &treated, &injected_into_inventory(None), 0.10);
    assert!(service_only.passed, "{:#?}", service_only.reasons);
    let with_operation = check_injected_latency(
        &baseline,
        &treated,
        &injected_into_inventory(Some(RESERVE_RPC)),
        0.10,
    );
    assert_eq!(
        with_operation.reasons,
        [format!(
            "inventory {RESERVE_RPC}: critical-path self time (median) grew by 0.000 ms, expected 40.000 ms ± 4.000 ms"
        )]
    );
}

#[test]
fn the_check_refuses_empty_runs_and_unknown_services() {
    let some = run(5, CheckoutDelays::default());
    let empty = RunAttribution::default();
    let verdict = check_injected_latency(&empty, &some, &injected_into_inventory(None), 0.1);
    assert!(!verdict.passed);
    assert_reason(&verdict.reasons, "baseline has 0, treated has 5");

    let nowhere = InjectedLatency {
        service: "shipping".into(),
        operation: None,
        latency: Duration::from_millis(40),
    };
    let verdict = check_injected_latency(&some, &some, &nowhere, 0.1);
    assert_eq!(
        verdict.reasons,
        ["service shipping does not appear in either run"]
    );
}

#[test]
fn run_percentiles_count_a_service_absent_from_a_trace_as_zero() {
    let mut traces = Vec::new();
    for i in 1..=10u128 {
        let mut t = SyntheticTrace::new(i);
        let root = t.span(None, "gateway", "GET /x", SpanKind::Server, 0.0, 20.0);
        // Only every other trace calls the cache.
        if i % 2 == 0 {
            t.span(
                Some(root),
                "cache",
                "get",
                SpanKind::Client,
                5.0,
                5.0 + i as f64,
            );
        }
        traces.push(t.into_tree(&TreeOptions::default()));
    }
    let (run, skipped) = RunAttribution::from_trees(&traces);
    assert_eq!((run.traces(), skipped), (10, 0));
    let summary = run.summary();
    // cache: five zeros, then 2, 4, 6, 8, 10 ms.
    assert_eq!(summary["cache"].critical_path_self_time.p50_ms, 0.0);
    assert_eq!(summary["cache"].critical_path_self_time.p90_ms, 8.0);
    assert_eq!(summary["cache"].critical_path_self_time.p99_ms, 10.0);
    assert_eq!(summary["gateway"].self_time.p99_ms, 20.0);
    // gateway: 20 ms minus the cache call: 10, 12, 14, 16, 18, then 20 five times.
    assert_eq!(summary["gateway"].self_time.p50_ms, 18.0);
}

#[test]
fn ten_thousand_spans_deep_or_wide_are_attributed_without_overflowing_the_stack() {
    const N: usize = 10_000;
    let mut deep = SyntheticTrace::new(20);
    let mut parent = None;
    for level in 0..N {
        let start = level as f64 * 0.001;
        let service = if level % 2 == 0 { "even" } else { "odd" };
        parent = Some(deep.span(
            parent,
            service,
            "step",
            SpanKind::Internal,
            start,
            100.0 - start,
        ));
    }
    let deep = TraceAttribution::of(&deep.into_tree(&TreeOptions::default())).unwrap();
    assert_eq!(deep.critical_path.len(), 2 * N - 1);
    assert_eq!(deep.critical_by_service.values().sum::<u64>(), 100 * MS);

    let mut wide = SyntheticTrace::new(21);
    let root = wide.span(None, "fan", "root", SpanKind::Server, 0.0, 1000.0);
    for i in 0..N {
        wide.span(
            Some(root),
            "leaf",
            "get",
            SpanKind::Client,
            i as f64 * 0.01,
            i as f64 * 0.01 + 5.0,
        );
    }
    let wide = TraceAttribution::of(&wide.into_tree(&TreeOptions::default())).unwrap();
    assert_eq!(wide.critical_by_service.values().sum::<u64>(), 1000 * MS);
    // The leaves cover [0, 104.99] ms without a gap.
    assert_eq!(wide.self_by_service["fan"], 895_010_000);
}
