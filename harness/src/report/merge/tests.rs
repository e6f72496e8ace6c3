//! The merge over constructed shard reports: refusals, combined verdicts,
//! exact percentiles, the shards check.

use serde_json::{Value, json};

use super::*;
use crate::checks::sampling::{self, RatioCounts, RatioSampler};
use crate::checks::{Verdict, orphans};
use crate::report::model::ProcessCpu;

fn verdict(check: &str, passed: bool, reasons: &[&str], figures: Value) -> Verdict {
    let mut v = Verdict::new(check);
    v.examined = 1;
    for reason in reasons {
        v.fail(*reason);
    }
    v.passed = passed;
    if let Value::Object(map) = figures {
        v.figures = map.into_iter().collect();
    }
    v
}

/// Shard `index` of `count` with these checkout latencies and trace ids.
fn shard(index: u32, count: u32, latencies: &[f64], trace_ids: &[&str]) -> ShardReport {
    let requests = latencies.len() as u64;
    let report = RunReport {
        tracemesh_version: "0.1.0".into(),
        started_at: format!("2026-12-01T07:0{index}:00Z"),
        duration_secs: 5.0 + f64::from(index),
        partial: false,
        config: RunSettings {
            scenario: "baseline".into(),
            users: 2,
            run_time_secs: 5.0,
            sampler_ratio: 1.0,
            target: "http://gateway".into(),
            trace_source: "http://tempo".into(),
            seed: Shard::new(index, count).unwrap().seed(7),
            expectations: Vec::new(),
            fixes: vec!["inventory-lock".into()],
        },
        load: LoadSummary {
            requests,
            failures: 1,
            requests_per_sec: 10.0,
            // What a shard's own percentiles say; the merge must not use them.
            p50_ms: -1.0,
            p99_ms: -1.0,
            by_endpoint: vec![EndpointLoad {
                name: "checkout".into(),
                requests,
                failures: 1,
                statuses: BTreeMap::from([("201".into(), requests - 1), ("503".into(), 1)]),
                ..EndpointLoad::default()
            }],
        },
        traces: TraceCounts {
            expected: requests,
            found: requests,
            complete: requests,
            ..TraceCounts::default()
        },
        verdicts: vec![verdict("full_tree", true, &[], json!({"traces": requests}))],
        attribution: Vec::new(),
        critical_path: Vec::new(),
        waterfalls: Vec::new(),
        files: Vec::new(),
        operations: Vec::new(),
        baseline: None,
        exemplar_jump: None,
        bottleneck: None,
        repeated_calls: Vec::new(),
        shard: Some(ShardRecord {
            index,
            count,
            base_seed: 7,
            trace_ids: trace_ids.iter().map(|s| s.to_string()).collect(),
            latency_ms: BTreeMap::from([("checkout".into(), latencies.to_vec())]),
            readiness_ms: latencies.iter().map(|l| l * 2.0).collect(),
        }),
    };
    ShardReport {
        origin: format!("reports/shard-{index}"),
        report,
    }
}

fn check<'a>(report: &'a RunReport, name: &str) -> &'a Verdict {
    report
        .verdicts
        .iter()
        .find(|v| v.check == name)
        .unwrap_or_else(|| panic!("no {name} verdict in {:#?}", report.verdicts))
}

#[test]
fn the_merged_report_names_a_shard_whose_load_generator_was_full() {
    let with = |mut shard: ShardReport, verdict: Bottleneck| {
        shard.report.bottleneck = Some(BottleneckReport {
            verdict,
            reason: format!("{verdict:?}"),
            cores: 2,
            window_secs: 5.0,
            generator: ProcessCpu {
                name: "tracemesh run".into(),
                pid: 1,
                cpu_percent: 190.0,
            },
            services: None,
            machine_percent: Some(195.0),
        });
        shard
    };
    let mesh_bound = || with(shard(0, 2, &[1.0], &["a"]), Bottleneck::Mesh);
    let merged = merge(vec![
        mesh_bound(),
        with(shard(1, 2, &[2.0], &["b"]), Bottleneck::LoadGenerator),
    ])
    .unwrap();
    let named = merged.bottleneck.expect("the full generator is named");
    assert_eq!(named.verdict, Bottleneck::LoadGenerator);
    assert!(named.reason.starts_with("shard 1/2: "), "{}", named.reason);

    let merged = merge(vec![mesh_bound(), shard(1, 2, &[2.0], &["b"])]).unwrap();
    assert_eq!(merged.bottleneck, None, "no shard's generator was full");
}

#[test]
fn percentiles_are_recomputed_exactly_from_every_shards_samples() {
    // 1..=100 dealt to two shards (odd, even) and 1000 to a third: the
    // nearest-rank percentiles of all 101 samples, not of the shards'.
    let odd: Vec<f64> = (1..=100).filter(|n| n % 2 == 1).map(f64::from).collect();
    let even: Vec<f64> = (1..=100).filter(|n| n % 2 == 0).map(f64::from).collect();
    let merged = merge(vec![
        shard(2, 3, &[1000.0], &["c"]),
        shard(0, 3, &odd, &["a"]),
        shard(1, 3, &even, &["b"]),
    ])
    .unwrap();
    let load = &merged.load;
    assert_eq!(load.requests, 101);
    assert_eq!(load.failures, 3);
    assert_eq!((load.p50_ms, load.p99_ms), (51.0, 100.0));
    let checkout = &load.by_endpoint[0];
    assert_eq!(checkout.requests, 101);
    assert_eq!(
        (checkout.p50_ms, checkout.p90_ms, checkout.p99_ms),
        (51.0, 91.0, 100.0)
    );
    assert_eq!(checkout.statuses["201"], 98);
    assert_eq!(checkout.statuses["503"], 3);
    assert_eq!(load.requests_per_sec, 30.0);
    assert_eq!(merged.traces.expected, 101);
    assert_eq!(
        (
            merged.traces.readiness_p50_ms,
            merged.traces.readiness_p99_ms
        ),
        (102.0, 200.0)
    );
    assert_eq!(merged.config.users, 6);
    assert_eq!(merged.config.seed, 7, "the base seed");
    assert_eq!(merged.started_at, "2026-12-01T07:00:00Z");
    assert_eq!(merged.duration_secs, 7.0);
    assert!(merged.passed(), "{:#?}", merged.verdicts);
    assert_eq!(check(&merged, "full_tree").figures["traces"], 101);
    assert_eq!(check(&merged, "full_tree").examined, 3);
}

#[test]
fn a_fix_counts_for_the_merged_load_only_when_every_shard_used_it() {
    let both = || vec![shard(0, 2, &[1.0], &["a"]), shard(1, 2, &[2.0], &["b"])];
    assert_eq!(merge(both()).unwrap().config.fixes, ["inventory-lock"]);
    let mut shards = both();
    shards[1].report.config.fixes.clear();
    assert!(merge(shards).unwrap().config.fixes.is_empty());
}

#[test]
fn a_check_failed_in_one_shard_fails_the_load_naming_the_shard() {
    let mut one = shard(1, 2, &[1.0], &["b"]);
    one.report.verdicts = vec![verdict(
        "full_tree",
        false,
        &["trace b has no payment span"],
        json!({"traces": 1}),
    )];
    let merged = merge(vec![shard(0, 2, &[1.0], &["a"]), one]).unwrap();
    let tree = check(&merged, "full_tree");
    assert!(!tree.passed);
    assert_eq!(tree.reasons, ["shard 1/2: trace b has no payment span"]);
    assert!(!merged.passed());
}

fn ratio_shard(index: u32, sampled: u64, trials: u64) -> ShardReport {
    let mut s = shard(index, 2, &[1.0], &[["a", "b"][index as usize]]);
    s.report.verdicts = vec![sampling::judge_ratio(
        RatioCounts {
            requests: trials,
            trials,
            sampled,
            expected_sampled: sampled,
        },
        RatioSampler::new(0.5),
    )];
    s
}

#[test]
fn the_sampling_ratio_is_judged_again_on_the_summed_counts() {
    // 64 of 100 is within each shard's 99.9% interval around 0.5; 128
    // of 200 is not.
    let (a, b) = (ratio_shard(0, 64, 100), ratio_shard(1, 64, 100));
    assert!(a.report.verdicts[0].passed && b.report.verdicts[0].passed);
    let merged = merge(vec![a, b]).unwrap();
    let ratio = check(&merged, sampling::RATIO_CHECK);
    assert!(!ratio.passed);
    assert!(
        ratio.reasons[0].contains("128 of 200"),
        "{:?}",
        ratio.reasons
    );
    assert_eq!(ratio.figures["sampled"], 128);
    assert_eq!(ratio.examined, 200);
    // Each shard's own interval missed, the sum's holds the ratio.
    let (a, b) = (ratio_shard(0, 70, 100), ratio_shard(1, 30, 100));
    assert!(!a.report.verdicts[0].passed && !b.report.verdicts[0].passed);
    let merged = merge(vec![a, b]).unwrap();
    let ratio = check(&merged, sampling::RATIO_CHECK);
    assert!(ratio.passed, "{:?}", ratio.reasons);
    assert_eq!(
        ratio.figures["by_shard"],
        json!({"0/2": false, "1/2": false})
    );
}

#[test]
fn traces_one_shard_left_unclaimed_are_orphans_only_if_no_shard_started_them() {
    let orphans_of = |unclaimed: &[&str]| {
        verdict(
            orphans::CHECK,
            true,
            &[],
            json!({"orphan_traces": 0, orphans::UNCLAIMED_FIGURE: unclaimed}),
        )
    };
    let mut a = shard(0, 2, &[1.0], &["a"]);
    a.report.verdicts = vec![orphans_of(&["b"])];
    let mut b = shard(1, 2, &[1.0], &["b"]);
    b.report.verdicts = vec![orphans_of(&["a"])];
    let merged = merge(vec![a.clone(), b.clone()]).unwrap();
    assert!(check(&merged, orphans::CHECK).passed);
    b.report.verdicts = vec![orphans_of(&["a", "f00d"])];
    let merged = merge(vec![a, b]).unwrap();
    let orphans = check(&merged, orphans::CHECK);
    assert!(!orphans.passed);
    assert_eq!(
        orphans.reasons,
        ["1 trace(s) in the load's window that no shard started: f00d (found by shard 1/2)"]
    );
    assert_eq!(orphans.figures["orphan_traces_between_shards"], 1);
    assert!(!orphans.figures.contains_key(orphans::UNCLAIMED_FIGURE));
}

#[test]
fn a_missing_shard_or_a_trace_started_twice_fails_the_shards_check() {
    let merged = merge(vec![
        shard(0, 3, &[1.0], &["a"]),
        shard(2, 3, &[1.0], &["c"]),
    ])
    .unwrap();
    let shards = check(&merged, SHARDS_CHECK);
    assert!(!shards.passed);
    assert_eq!(
        shards.reasons,
        ["shard(s) 1/3 missing: their share of the load was not checked"]
    );
    assert_eq!(shards.figures["missing"], json!(["1/3"]));
    assert!(!merged.passed());

    let merged = merge(vec![
        shard(0, 2, &[1.0], &["a", "b"]),
        shard(1, 2, &[1.0], &["b"]),
    ])
    .unwrap();
    let shards = check(&merged, SHARDS_CHECK);
    assert!(!shards.passed);
    assert!(
        shards.reasons[0].starts_with("shards 0/2 and 1/2 both started 1 trace(s) (e.g. b)"),
        "{:?}",
        shards.reasons
    );
}

#[test]
fn duplicates_other_counts_and_unsharded_reports_are_refused() {
    let one = shard(1, 3, &[1.0], &["b"]);
    let mut again = one.clone();
    again.origin = "copy".into();
    assert_eq!(
        merge(vec![one.clone(), again]).unwrap_err().to_string(),
        "shard 1/3 given twice: reports/shard-1 and copy (each shard once)"
    );
    let error = merge(vec![one.clone(), shard(0, 2, &[1.0], &["a"])]).unwrap_err();
    assert!(
        matches!(error, MergeError::CountsDisagree { .. }),
        "{error}"
    );
    let mut plain = shard(0, 3, &[1.0], &["a"]);
    plain.report.shard = None;
    assert_eq!(
        merge(vec![one, plain]).unwrap_err(),
        MergeError::NotSharded {
            origin: "reports/shard-0".into()
        }
    );
    assert_eq!(merge(Vec::new()).unwrap_err(), MergeError::NoShards);
}

#[test]
fn a_shard_keeps_its_trace_ids_once_and_its_latencies_by_kind() {
    use crate::load::RequestKind;
    let sent = |kind, trace: u128, latency_ms| SentRequest {
        kind,
        traceparent: Some(crate::load::format_traceparent(trace, 1, true)),
        traceresponse: None,
        status: Some(200),
        latency_ms,
        sent_unix_nanos: 0,
        answered_unix_nanos: 1,
    };
    let requests = [
        sent(RequestKind::Checkout, 2, 30.0),
        sent(RequestKind::BrowseProducts, 1, 5.0),
        sent(RequestKind::Checkout, 2, 10.0),
    ];
    let record = ShardRecord::of(Shard::new(1, 2).unwrap(), 9, &requests, &[4.0]);
    assert_eq!((record.index, record.count, record.base_seed), (1, 2, 9));
    assert_eq!(
        record.trace_ids,
        [format!("{:032x}", 1), format!("{:032x}", 2)]
    );
    assert_eq!(record.latency_ms["checkout"], [30.0, 10.0]);
    assert_eq!(record.latency_ms["browse_products"], [5.0]);
    assert_eq!(record.readiness_ms, [4.0]);
}

#[test]
fn figures_merge_counts_by_sum_and_keep_the_rest_per_shard() {
    let merge_of = |key: &str, a: Value, b: Value| {
        merge_values(key, &[("0/2".into(), &a), ("1/2".into(), &b)])
    };
    assert_eq!(merge_of("traces", json!(3), json!(4)), json!(7));
    assert_eq!(
        merge_of(
            "categories",
            json!({"complete": 3}),
            json!({"complete": 4, "missing": 1})
        ),
        json!({"complete": 7, "missing": 1})
    );
    assert_eq!(merge_of("min_samples", json!(5), json!(5)), json!(5));
    assert_eq!(
        merge_of("traces_in_window", json!(9), json!(8)),
        json!({"0/2": 9, "1/2": 8})
    );
    assert_eq!(merge_of("ratio", json!(0.5), json!(0.5)), json!(0.5));
    assert_eq!(
        merge_of("backend", json!("x"), json!("y")),
        json!({"0/2": "x", "1/2": "y"})
    );
    assert_eq!(
        merge_of("incomplete", json!([1]), json!([2])),
        json!([1, 2])
    );
}

#[test]
fn repeated_calls_sum_their_traces_and_keep_the_largest_median() {
    let call = |name: &str, traces: u64, count_p50: u64, time_p50_ms: f64| RepeatedCall {
        service: "inventory".into(),
        parent: "ListProducts".into(),
        name: name.into(),
        traces,
        count_p50,
        time_p50_ms,
    };
    let mut a = shard(0, 2, &[10.0], &["a"]);
    a.report.repeated_calls = vec![call("SELECT stock", 40, 8, 1.5)];
    let mut b = shard(1, 2, &[10.0], &["b"]);
    b.report.repeated_calls = vec![
        call("SELECT price", 50, 3, 0.5),
        call("SELECT stock", 30, 7, 2.5),
    ];
    let merged = merge(vec![a, b]).unwrap();
    assert_eq!(
        merged.repeated_calls,
        [
            call("SELECT stock", 70, 8, 2.5),
            call("SELECT price", 50, 3, 0.5)
        ]
    );
}
