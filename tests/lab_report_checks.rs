//! `tracemesh lab check N` on the labs that read run reports (4, 5, 6, 7,
//! 10): report directories written with the harness's report model, piece
//! by piece; the check fails with each missing piece's own hint, and passes
//! once all are there. (The labs that read traces: tests/lab_checks.rs.)

mod common;

use common::lab::{fails_with, passes, report, verdict, write};
use serde_json::json;
use tracemesh_harness::report::model::{
    BaselineComparison, ComparedMeasure, ComparisonRow, ShardRecord,
};

#[tokio::test]
async fn lab_4_needs_a_quarter_sampled_run_and_the_ignored_parent_caught() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(4, d, &[], "Sample a quarter").await;
    let mut quarter = report(
        "2026-12-01T10:00:00Z",
        "slow-inventory",
        vec![verdict("sampling.root.ratio", false)],
    );
    quarter.config.sampler_ratio = 0.25;
    write(d, "a", &quarter, json!({}), true);
    fails_with(4, d, &[], "A sampling check failed").await;
    quarter.started_at = "2026-12-01T10:01:00Z".into();
    quarter.verdicts = vec![
        verdict("sampling.root.ratio", true),
        verdict("sampling.parent", true),
    ];
    write(d, "b", &quarter, json!({}), true);
    fails_with(4, d, &[], "A service that ignores its parent").await;
    let ignored = |at: &str, caught: bool| {
        report(
            at,
            "ignored-sampling",
            vec![verdict("sampling.parent", !caught)],
        )
    };
    write(
        d,
        "c",
        &ignored("2026-12-01T10:02:00Z", false),
        json!({}),
        true,
    );
    fails_with(4, d, &[], "did not fail sampling.parent").await;
    write(
        d,
        "d",
        &ignored("2026-12-01T10:03:00Z", true),
        json!({}),
        true,
    );
    passes(4, d, &[]).await;
}

#[tokio::test]
async fn lab_5_needs_the_planted_run_the_fixed_run_and_a_faster_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(5, d, &[], "Measure first").await;
    let planted = report(
        "2026-12-01T10:00:00Z",
        "slow-inventory",
        vec![verdict("full_tree", true)],
    );
    write(d, "planted", &planted, json!({}), true);
    fails_with(5, d, &[], "Fix all three").await;
    let mut fixed = report(
        "2026-12-01T10:01:00Z",
        "slow-inventory",
        vec![verdict("full_tree", true)],
    );
    write(
        d,
        "two-fixes",
        &fixed,
        json!({"fixes": ["inventory-lock", "payment-pool"]}),
        true,
    );
    fails_with(5, d, &[], "Fix all three").await;
    let all = json!({"fixes": ["inventory-lock", "catalog-queries", "payment-pool"]});
    fixed.started_at = "2026-12-01T10:02:00Z".into();
    write(d, "no-baseline", &fixed, all.clone(), true);
    fails_with(5, d, &[], "--baseline reports/").await;
    let compared = |p50: f64| BaselineComparison {
        baseline_started_at: planted.started_at.clone(),
        rows: vec![ComparisonRow {
            measure: ComparedMeasure::Endpoint,
            subject: "checkout".into(),
            baseline_p50_ms: Some(120.0),
            p50_ms: Some(p50),
            ..ComparisonRow::default()
        }],
        ..BaselineComparison::default()
    };
    fixed.started_at = "2026-12-01T10:03:00Z".into();
    fixed.baseline = Some(compared(130.0));
    write(d, "slower", &fixed, all.clone(), true);
    fails_with(5, d, &[], "does not show checkout faster").await;
    fixed.started_at = "2026-12-01T10:04:00Z".into();
    fixed.baseline = Some(compared(40.0));
    write(d, "faster", &fixed, all, true);
    passes(5, d, &[]).await;
}

#[tokio::test]
async fn lab_6_needs_a_tree_that_passes_clean_and_fails_on_a_defect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("scenarios/broken")).unwrap();
    std::fs::write(
        d.join("scenarios/broken/lost-db-span.yaml"),
        "name: lost-db-span\n",
    )
    .unwrap();
    // Another YAML file of the repository is not taken for a tree.
    std::fs::write(d.join("tempo.yaml"), "server:\n  http_listen_port: 3200\n").unwrap();
    fails_with(6, d, &[], "Write the tree").await;
    std::fs::write(d.join("my-checkout.yaml"), "root:\n  servce: gateway\n").unwrap();
    fails_with(6, d, &[], "does not parse").await;
    let tree = std::fs::read_to_string("harness/expectations/checkout-succeeds.yaml").unwrap();
    std::fs::write(d.join("my-checkout.yaml"), tree).unwrap();
    fails_with(6, d, &[], "tracemesh run --expect my-checkout.yaml").await;
    let expecting = json!({"expectations": ["my-checkout.yaml"]});
    let clean = report(
        "2026-12-01T10:00:00Z",
        "slow-inventory",
        vec![verdict("full_tree my-checkout", true)],
    );
    // A run that was not given the file proves nothing about it.
    write(d, "not-given", &clean, json!({}), true);
    fails_with(6, d, &[], "tracemesh run --expect my-checkout.yaml").await;
    write(d, "clean", &clean, expecting.clone(), true);
    fails_with(6, d, &[], "Prove it fails").await;
    let broken = report(
        "2026-12-01T10:01:00Z",
        "lost-db-span",
        vec![verdict("full_tree my-checkout", false)],
    );
    write(d, "broken", &broken, expecting, true);
    passes(6, d, &[]).await;
    // `--file` names the tree; a file that is not there fails.
    fails_with(6, d, &["--file", "missing.yaml"], "does not parse").await;
}

#[tokio::test]
async fn lab_7_needs_junit_a_load_of_your_own_and_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut run = report(
        "2026-12-01T10:00:00Z",
        "slow-inventory",
        vec![verdict("full_tree", true)],
    );
    write(d, "no-junit", &run, json!({}), false);
    fails_with(7, d, &[], "A first load run").await;
    write(d, "defaults", &run, json!({}), true);
    fails_with(7, d, &[], "Shape the load").await;
    run.config.users = 4;
    run.config.run_time_secs = 30.0;
    write(d, "custom", &run, json!({}), true);
    fails_with(7, d, &[], "Baselines").await;
    run.baseline = Some(BaselineComparison::default());
    write(d, "compared", &run, json!({}), true);
    passes(7, d, &[]).await;
}

#[tokio::test]
async fn lab_10_needs_a_merged_report_of_two_shards() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(10, d, &[], "Split the load").await;
    let mut shard = report(
        "2026-12-01T10:00:00Z",
        "slow-inventory",
        vec![verdict("full_tree", true)],
    );
    shard.shard = Some(ShardRecord {
        index: 0,
        count: 2,
        ..ShardRecord::default()
    });
    write(d, "shard-1", &shard, json!({}), true);
    fails_with(10, d, &[], "One report").await;
    let mut shards = verdict("shards", true);
    shards.figure("shard_count", 1);
    let mut merged = report(
        "2026-12-01T10:01:00Z",
        "slow-inventory",
        vec![shards.clone()],
    );
    write(d, "merged-one", &merged, json!({}), true);
    fails_with(10, d, &[], "One report").await;
    shards.figure("shard_count", 2);
    merged.verdicts = vec![shards];
    write(d, "merged", &merged, json!({}), true);
    passes(10, d, &[]).await;
}
