//! A realistic [`RunReport`] for the report tests: the mesh after a
//! `slow-inventory` run, with one failed check whose reasons contain markup
//! (`<script>`, `&`, quotes), five services, and two waterfalls of 16
//! spans with errors and injected faults.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;

use serde_json::json;
use tracemesh_harness::checks::Verdict;
use tracemesh_harness::checks::baseline::{self, Baseline};
use tracemesh_harness::report::RunReport;
use tracemesh_harness::report::model::{
    Bottleneck, BottleneckReport, CriticalPathShare, EndpointLoad, LatencySample, LoadSummary,
    OperationAttribution, ProcessCpu, RepeatedCall, RunSettings, ServiceAttribution, TraceCounts,
    Waterfall, WaterfallLog, WaterfallSpan,
};

/// The failed check's first reason: markup that must come out escaped.
pub const HOSTILE_REASON: &str = r#"trace 4bf92f3577b34da6a3ce929d0e0e4736: span "<script>alert('x')</script>" & its parent are missing"#;
/// A span name with every character markup cares about.
pub const HOSTILE_SPAN: &str = r#"render <cart> & "totals""#;

pub fn realistic_report() -> RunReport {
    RunReport {
        tracemesh_version: "0.1.0".into(),
        started_at: "2026-11-22T16:20:00.250Z".into(),
        duration_secs: 21.4,
        partial: false,
        config: RunSettings {
            seed: 1,
            fixes: vec!["inventory-lock".into(), "payment-pool".into()],
            scenario: "slow-inventory".into(),
            users: 10,
            run_time_secs: 20.0,
            sampler_ratio: 0.25,
            target: "http://127.0.0.1:8080".into(),
            trace_source: "embedded".into(),
            expectations: Vec::new(),
        },
        load: LoadSummary {
            requests: 1234,
            failures: 12,
            requests_per_sec: 61.7,
            p50_ms: 12.3,
            p99_ms: 88.5,
            by_endpoint: vec![
                endpoint("browse_products", 500, 0, 4.5, 20.0, &[("200", 500)]),
                endpoint("checkout", 400, 8, 61.0, 140.0, &[("201", 392), ("503", 8)]),
                endpoint(
                    "checkout_declined",
                    100,
                    4,
                    55.0,
                    130.0,
                    &[("402", 96), ("none", 4)],
                ),
                endpoint("look_up_user", 234, 0, 3.5, 12.0, &[("200", 234)]),
            ],
        },
        traces: TraceCounts {
            sdk_export: None,
            expected: 310,
            found: 309,
            complete: 305,
            unsampled: 924,
            spans_received: 4480,
            readiness_p50_ms: 45.0,
            readiness_p99_ms: 180.0,
        },
        verdicts: verdicts(),
        attribution: vec![
            attribution("inventory", 40.5, 62.0, 88.0, 41.25, 63.0, 90.0),
            attribution("payment", 18.0, 25.0, 40.0, 18.5, 26.0, 41.0),
            attribution("order", 6.0, 8.0, 14.0, 8.0, 10.0, 16.0),
            attribution("gateway", 2.0, 3.0, 6.0, 3.0, 4.0, 7.0),
            attribution("user", 1.5, 2.0, 4.0, 1.5, 2.0, 4.0),
        ],
        critical_path: vec![
            share("inventory", 0.5, 41.25),
            share("payment", 0.25, 20.5),
            share("order", 0.125, 10.25),
            share("gateway", 0.0625, 5.0),
            share("user", 0.0625, 5.0),
        ],
        waterfalls: vec![slowest_trace(), failing_trace()],
        files: vec!["goose-report.html".into(), "goose-report.json".into()],
        operations: Vec::new(),
        baseline: None,
        exemplar_jump: None,
        shard: None,
        bottleneck: Some(BottleneckReport {
            verdict: Bottleneck::Mesh,
            reason: "the cores were full, mostly in the mesh: services 151%, busiest inventory \
                     62%, load generator 33%, of 200% (2 cores)"
                .into(),
            cores: 2,
            window_secs: 20.5,
            generator: cpu("tracemesh run", 101, 33.2),
            services: Some(vec![
                cpu("gateway", 102, 38.0),
                cpu("user", 103, 12.5),
                cpu("order", 104, 28.0),
                cpu("inventory", 105, 62.0),
                cpu("payment", 106, 10.5),
            ]),
            machine_percent: Some(191.0),
        }),
        repeated_calls: vec![RepeatedCall {
            service: "inventory".into(),
            parent: "tracemesh.inventory.v1.InventoryService/ListProducts".into(),
            name: "SELECT stock".into(),
            traces: 111,
            count_p50: 8,
            time_p50_ms: 1.75,
        }],
    }
}

fn cpu(name: &str, pid: u32, cpu_percent: f64) -> ProcessCpu {
    ProcessCpu {
        name: name.into(),
        pid,
        cpu_percent,
    }
}

/// inventory's Reserve, as its SERVER span is named.
pub const RESERVE: &str = "tracemesh.inventory.v1.InventoryService/Reserve";

/// The realistic report with its fault-free figures: inventory's Reserve
/// at `reserve_p50` ms critical-path self time, checkout at `checkout_p50`.
pub fn with_operations(reserve_p50: f64, checkout_p50: f64) -> RunReport {
    let mut report = realistic_report();
    let op =
        |service: &str, name: Option<&str>, traces: u64, p50: f64, p90: f64| OperationAttribution {
            service: service.into(),
            operation: name.map(str::to_owned),
            traces,
            critical_p50_ms: p50,
            critical_p90_ms: p90,
            self_p50_ms: p50,
            self_p90_ms: p90,
        };
    report.operations = vec![
        op("gateway", None, 150, 2.0, 3.0),
        op("gateway", Some("POST /api/checkout"), 60, 2.5, 3.5),
        op("inventory", None, 150, reserve_p50 + 1.0, reserve_p50 + 3.0),
        op(
            "inventory",
            Some(RESERVE),
            60,
            reserve_p50,
            reserve_p50 + 2.0,
        ),
        op("inventory", Some("SELECT products"), 150, 0.3, 0.6),
        op("inventory", Some(HOSTILE_SPAN), 25, 1.0, 2.0),
        op("payment", Some("POST /v1/charges"), 8, 18.0, 25.0),
    ];
    for e in &mut report.load.by_endpoint {
        let p50 = if e.name == "checkout" {
            checkout_p50
        } else {
            e.p50_ms
        };
        e.fault_free = Some(LatencySample {
            requests: e.requests / 2,
            p50_ms: p50,
            p90_ms: p50 * 1.3,
        });
    }
    report
}

/// A run where Reserve became 30 ms slower without any fault marker,
/// compared with its baseline (the default tolerance): the `baseline`
/// verdict fails and the comparison is in the report.
pub fn baseline_regression() -> RunReport {
    let before = with_operations(1.1, 40.0);
    let mut now = with_operations(31.2, 70.5);
    let (comparison, verdict) = baseline::compare(
        &now,
        &Baseline::new(&before, "reports/2026-11-22T16-00-00Z"),
    );
    now.baseline = Some(comparison);
    now.verdicts.push(verdict);
    now
}

/// Every verdict passes; still a complete run.
pub fn passing_report() -> RunReport {
    let mut report = realistic_report();
    report.verdicts.retain(|v| v.passed);
    report
}

fn verdicts() -> Vec<Verdict> {
    let mut full_tree = Verdict::new("full_tree");
    for _ in 0..305 {
        full_tree.examine();
    }
    full_tree.figure("traces", 305);
    full_tree.figure("traces_failed", 0);

    let mut completeness = Verdict::new("completeness");
    for _ in 0..310 {
        completeness.examine();
    }
    completeness.fail(HOSTILE_REASON);
    completeness
        .fail("4 traces incomplete: inventory dropped spans & the exporter's queue was full");
    completeness.figure(
        "categories",
        json!({"not_found": 1, "missing_spans": 4, "incorrect_result": 0}),
    );

    let mut sampling_root = Verdict::new("sampling.root.ratio");
    for _ in 0..310 {
        sampling_root.examine();
    }
    sampling_root.figure("requests", 310);
    sampling_root.figure("sampled", 74);
    sampling_root.figure("ratio", 0.25);
    sampling_root.figure("observed_ratio", 0.2387);
    sampling_root.figure("confidence", 0.999);
    sampling_root.figure("interval", json!({"low": 0.1834, "high": 0.3052}));

    let mut sampling_parent = Verdict::new("sampling.parent");
    for _ in 0..924 {
        sampling_parent.examine();
    }
    sampling_parent.figure("requests", 924);

    let mut attribution = Verdict::new("attribution");
    for _ in 0..40 {
        attribution.examine();
    }
    attribution.figure("injected_service", "inventory");
    attribution.figure("injected_ms", 40.0);
    attribution.figure("delta_ms", json!({"inventory": 39.5, "order": 0.5}));

    [
        full_tree,
        completeness,
        sampling_root,
        sampling_parent,
        attribution,
    ]
    .into_iter()
    .map(Verdict::finish)
    .collect()
}

fn endpoint(
    name: &str,
    requests: u64,
    failures: u64,
    p50_ms: f64,
    p99_ms: f64,
    statuses: &[(&str, u64)],
) -> EndpointLoad {
    EndpointLoad {
        name: name.into(),
        requests,
        failures,
        p50_ms,
        p90_ms: (p50_ms + p99_ms) / 2.0,
        p99_ms,
        fault_free: None,
        statuses: statuses
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn attribution(
    service: &str,
    self_p50_ms: f64,
    self_p90_ms: f64,
    self_p99_ms: f64,
    critical_p50_ms: f64,
    critical_p90_ms: f64,
    critical_p99_ms: f64,
) -> ServiceAttribution {
    ServiceAttribution {
        service: service.into(),
        self_p50_ms,
        self_p90_ms,
        self_p99_ms,
        critical_p50_ms,
        critical_p90_ms,
        critical_p99_ms,
    }
}

fn share(service: &str, share: f64, mean_ms: f64) -> CriticalPathShare {
    CriticalPathShare {
        service: service.into(),
        share,
        mean_ms,
    }
}

/// `(depth, service, name, kind, start, end)`; flags set afterwards.
type Row = (usize, &'static str, &'static str, &'static str, f64, f64);

/// The checkout trace as the mesh emits it: 16 spans, 5 services.
const CHECKOUT: [Row; 16] = [
    (0, "gateway", "POST /api/checkout", "server", 0.0, 120.0),
    (
        1,
        "gateway",
        "tracemesh.user.v1.UserService/ValidateUser",
        "client",
        1.0,
        9.0,
    ),
    (
        2,
        "user",
        "tracemesh.user.v1.UserService/ValidateUser",
        "server",
        2.0,
        8.5,
    ),
    (3, "user", "SELECT users", "client", 3.0, 5.0),
    (
        1,
        "gateway",
        "tracemesh.order.v1.OrderService/PlaceOrder",
        "client",
        10.0,
        116.0,
    ),
    (
        2,
        "order",
        "tracemesh.order.v1.OrderService/PlaceOrder",
        "server",
        11.0,
        115.0,
    ),
    (
        3,
        "order",
        "tracemesh.inventory.v1.InventoryService/Reserve",
        "client",
        12.0,
        70.0,
    ),
    (
        4,
        "inventory",
        "tracemesh.inventory.v1.InventoryService/Reserve",
        "server",
        13.0,
        69.0,
    ),
    (
        5,
        "inventory",
        "warehouse.lock.wait",
        "internal",
        14.0,
        56.0,
    ),
    (5, "inventory", "warehouse.check", "internal", 56.0, 60.0),
    (5, "inventory", "BATCH stock", "client", 60.0, 68.0),
    (3, "order", "POST", "client", 71.0, 108.0),
    (4, "payment", "POST /v1/charges", "server", 72.0, 107.0),
    (5, "payment", "provider.authorize", "internal", 73.0, 105.0),
    (3, "order", "INSERT orders", "client", 109.0, 114.0),
    (1, "gateway", HOSTILE_SPAN, "internal", 116.5, 119.0),
];

fn spans(errors: &[usize], faults: &[usize], not_critical: &[usize]) -> Vec<WaterfallSpan> {
    CHECKOUT
        .iter()
        .enumerate()
        .map(
            |(i, &(depth, service, name, kind, start, end))| WaterfallSpan {
                depth,
                service: service.into(),
                name: name.into(),
                kind: kind.into(),
                start_ms: start,
                duration_ms: end - start,
                self_ms: (end - start) / 4.0,
                error: errors.contains(&i),
                critical: !not_critical.contains(&i),
                fault: faults.contains(&i),
            },
        )
        .collect()
}

/// The slowest trace: the lock wait in inventory carries the injected delay.
pub fn slowest_trace() -> Waterfall {
    Waterfall {
        title: "slowest trace: checkout took 120 ms".into(),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        duration_ms: 120.0,
        spans: spans(&[], &[8], &[1, 2, 3]),
        start_unix_nanos: 0,
        logs: Vec::new(),
    }
}

/// A failing trace: payment's provider failed, and every caller with it.
pub fn failing_trace() -> Waterfall {
    Waterfall {
        title: "a failing trace: checkout answered 503 <payment & provider>".into(),
        trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
        duration_ms: 120.0,
        spans: spans(&[0, 4, 5, 11, 12, 13], &[13], &[1, 2, 3, 14]),
        start_unix_nanos: 1_764_556_000_000_000_000,
        logs: vec![
            WaterfallLog {
                offset_ms: 101.5,
                service: "payment".into(),
                level: "WARN".into(),
                message: "charge failed <provider down> & retried".into(),
                fields: "code=provider_unavailable".into(),
                span_id: Some("00f067aa0ba902b7".into()),
            },
            WaterfallLog {
                offset_ms: 119.0,
                service: "gateway".into(),
                level: "WARN".into(),
                message: "POST /api/checkout".into(),
                fields: "status=503".into(),
                span_id: None,
            },
        ],
    }
}
