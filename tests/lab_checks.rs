//! `tracemesh lab check N` end to end: each check fails with its hint on
//! the untouched state and passes once the lab's work is done.
//!
//! - The labs that read traces (1, 2, 3, 8, and 9 with this mesh standing
//!   in for the compose stack) run against ONE real mesh and collector
//!   (tests/common), doing what the learner does: a checkout, their own
//!   traceparent and baggage, `drop_context` planted through order's admin
//!   endpoint, a declined card, an empty shelf, inventory made unavailable,
//!   an exemplar followed to its trace.
//! - The labs that read reports (4, 5, 6, 7, 10) are given report
//!   directories written with the harness's report model, piece by piece:
//!   each missing piece fails with its own hint.
//! - The command line: a bad `--lang` exits 2 naming the flag, the locale
//!   picks the language, a corrupt progress file is named, not a panic.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{DECLINED_CARD, GOOD_CARD, Mesh, Service, checkout_body, output_text, tracemesh};
use serde_json::{Value, json};
use tracemesh_harness::checks::Verdict;
use tracemesh_harness::metrics::openmetrics;
use tracemesh_harness::report::model::{
    BaselineComparison, ComparedMeasure, ComparisonRow, LoadSummary, RunReport, ShardRecord,
    TraceCounts,
};

/// `tracemesh lab check <number> --lang en --dir <dir> <extra>`: exit code
/// and stdout (stderr must be empty: never a stack trace).
async fn check(number: u8, dir: &Path, extra: &[&str]) -> (i32, String) {
    let number = number.to_string();
    let mut args = vec!["lab", "check", &number, "--lang", "en"];
    args.extend(["--dir", dir.to_str().unwrap()]);
    args.extend(extra);
    let output = tracemesh(&args, &[]).await;
    let (stdout, stderr) = output_text(&output);
    println!("$ tracemesh {}\n{stdout}{stderr}", args.join(" "));
    assert!(stderr.is_empty(), "stderr: {stderr}");
    (output.status.code().unwrap_or(-1), stdout)
}

/// The check fails, and its hint (the last line) contains `hint`.
async fn fails_with(number: u8, dir: &Path, extra: &[&str], hint: &str) {
    let (code, stdout) = check(number, dir, extra).await;
    assert_eq!(code, 1, "lab {number} passed:\n{stdout}");
    assert!(
        stdout.lines().next().unwrap().ends_with(": not yet"),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap();
    assert!(
        last.starts_with("  hint: ") && last.contains(hint),
        "expected a hint with {hint:?}:\n{stdout}"
    );
}

/// The check passes, and the pass is recorded in the progress file.
async fn passes(number: u8, dir: &Path, extra: &[&str]) {
    let (code, stdout) = check(number, dir, extra).await;
    assert_eq!(code, 0, "lab {number} did not pass:\n{stdout}");
    assert!(
        stdout.lines().next().unwrap().ends_with(": PASS"),
        "{stdout}"
    );
    assert!(
        !stdout.contains('✗') && !stdout.contains("hint:"),
        "{stdout}"
    );
    let progress: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".tracemesh-lab.json")).unwrap())
            .unwrap();
    assert!(
        progress["passed"][number.to_string()].is_string(),
        "{progress}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_labs_fail_untouched_and_pass_after_their_work() {
    let mesh = Mesh::start().await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let collector = mesh.collector.http_endpoint();
    let at = ["--collector", collector.as_str()];
    let admin: Vec<String> = mesh
        .services
        .admin_endpoints()
        .iter()
        .map(|e| format!("{}={}", e.service, e.base_url))
        .collect();

    // Nothing running at the URL: a requirement with the `up` hint.
    fails_with(
        1,
        dir,
        &["--collector", "http://127.0.0.1:9"],
        "`tracemesh up` running",
    )
    .await;
    // Untouched: an empty collector.
    fails_with(1, dir, &at, "Place a checkout").await;
    fails_with(2, dir, &at, "Send your own trace id").await;
    fails_with(3, dir, &at, "A declined card").await;
    fails_with(8, dir, &at, "From a bucket to its trace").await;

    // Lab 1: a checkout.
    let (status, body, checkout) = mesh
        .checkout(&http, checkout_body("u-1001", "KEY-001", 1, GOOD_CARD))
        .await;
    assert_eq!(status, 201, "{body}");
    mesh.wait_for_trace(
        &checkout,
        &["gateway", "user", "order", "inventory", "payment"],
    )
    .await;
    passes(1, dir, &at).await;

    // Lab 2: the learner's own traceparent and baggage...
    let own = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = http
        .post(mesh.url("/api/checkout"))
        .header("traceparent", format!("00-{own}-00f067aa0ba902b7-01"))
        .header("baggage", "tenant=learner")
        .json(&checkout_body("u-1002", "KEY-001", 1, GOOD_CARD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    mesh.wait_for_trace(own, &["gateway", "payment"]).await;
    // ... is not a first trace: its gateway span has a parent (lab 1's
    // completeness fails on it).
    let mut with_own = at.to_vec();
    with_own.extend(["--trace", own]);
    fails_with(1, dir, &with_own, "no single root").await;
    fails_with(2, dir, &at, "Drop the context").await;
    // ... then the context dropped on order -> payment: the trace splits.
    mesh.set_faults(
        Service::Order,
        "telemetry:\n  - kind: drop_context\n    hop: payment\n",
    )
    .await;
    let (status, body, _) = mesh
        .checkout(&http, checkout_body("u-1001", "KEY-001", 1, GOOD_CARD))
        .await;
    assert_eq!(status, 201, "{body}");
    let split = mesh
        .collector
        .store()
        .wait_until(
            |s| {
                s.all_spans()
                    .iter()
                    .any(|sp| sp.service_name == "payment" && sp.is_root())
            },
            Duration::from_secs(20),
        )
        .await;
    assert!(split, "no payment span became a root");
    mesh.set_faults(Service::Order, "").await;
    passes(2, dir, &at).await;

    // Lab 3: a declined card, an empty shelf, then inventory unavailable.
    for (user, sku, card, expected) in [
        ("u-1004", "MOU-002", DECLINED_CARD, 402),
        ("u-1003", "CHR-007", GOOD_CARD, 409),
    ] {
        let (status, body, trace) = mesh
            .checkout(&http, checkout_body(user, sku, 1, card))
            .await;
        assert_eq!(status, expected, "{body}");
        mesh.ready_trace(&trace).await;
    }
    fails_with(3, dir, &at, "Inventory down").await;
    // Planted: a 503 of another service (user down) is not inventory's.
    let unavailable = "operations:\n  \"*\":\n    error_rate: 1.0\n    error: unavailable\n";
    mesh.set_faults(Service::User, unavailable).await;
    let response = http
        .get(mesh.url("/api/users/u-1001"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    mesh.ready_trace(&common::trace_id_of(&response)).await;
    mesh.set_faults(Service::User, "").await;
    fails_with(3, dir, &at, "No 503 trace holds a span at inventory").await;
    mesh.set_faults(Service::Inventory, unavailable).await;
    let response = http.get(mesh.url("/api/products")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    mesh.ready_trace(&common::trace_id_of(&response)).await;
    mesh.set_faults(Service::Inventory, "").await;
    passes(3, dir, &at).await;

    // Lab 8: an exemplar's trace, which has log lines.
    mesh.flush().await;
    let mut exemplars = Vec::new();
    for endpoint in mesh.services.admin_endpoints() {
        let text = http
            .get(format!("{}/metrics", endpoint.base_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for sample in openmetrics::parse(&text).unwrap() {
            if let Some(id) = sample
                .exemplar
                .and_then(|e| e.labels.get("trace_id").cloned())
            {
                exemplars.push(id);
            }
        }
    }
    let logs = mesh.collector.log_store();
    let followed = exemplars
        .iter()
        .find(|id| !logs.trace(id).is_empty())
        .unwrap_or_else(|| panic!("no exemplar's trace has log lines: {exemplars:?}"))
        .clone();
    let mut lab8 = at.to_vec();
    for a in &admin {
        lab8.extend(["--admin", a.as_str()]);
    }
    // Planted: an id no exemplar shows, and admin endpoints that are not there.
    let mut not_an_exemplar = lab8.clone();
    not_an_exemplar.extend(["--trace", "0123456789abcdef0123456789abcdef"]);
    fails_with(8, dir, &not_an_exemplar, "is not among the").await;
    let mut no_admin = at.to_vec();
    no_admin.extend([
        "--trace",
        followed.as_str(),
        "--admin",
        "gateway=http://127.0.0.1:9",
    ]);
    fails_with(8, dir, &no_admin, "--admin-port-base 9100").await;
    lab8.extend(["--trace", followed.as_str()]);
    passes(8, dir, &lab8).await;

    // Lab 9: this mesh stands in for the compose stack (its gateway, its
    // collector); the reports are written as a run against it writes them.
    let mut lab9 = at.to_vec();
    lab9.extend(["--gateway", mesh.gateway.as_str()]);
    let mut nothing_there = at.to_vec();
    nothing_there.extend(["--gateway", "http://127.0.0.1:9"]);
    fails_with(9, dir, &nothing_there, "Start the stack").await;
    let mut run = report(
        "2026-12-01T10:00:00Z",
        "baseline",
        vec![verdict("full_tree", true)],
    );
    run.config.target = mesh.gateway.clone();
    // A run that started its own mesh is not a run against the stack.
    write(dir, "own-mesh", &run, json!({}), true);
    fails_with(9, dir, &lab9, "The same checks against Tempo").await;
    run.config.trace_source = collector.clone();
    run.verdicts = vec![verdict("full_tree", false)];
    write(dir, "stack-failed", &run, json!({}), true);
    fails_with(9, dir, &lab9, "Your run against the stack failed").await;
    run.started_at = "2026-12-01T10:01:00Z".into();
    run.verdicts = vec![verdict("full_tree", true)];
    write(dir, "stack", &run, json!({}), true);
    passes(9, dir, &lab9).await;
}

// ---- the labs that read reports ------------------------------------------

fn verdict(check: &str, passed: bool) -> Verdict {
    let mut v = Verdict::new(check);
    v.examine();
    if !passed {
        v.fail(format!("{check} failed"));
    }
    v.finish()
}

/// A run's report with the settings that matter here.
fn report(started_at: &str, scenario: &str, verdicts: Vec<Verdict>) -> RunReport {
    RunReport {
        tracemesh_version: "0.1.0".into(),
        started_at: started_at.into(),
        duration_secs: 20.0,
        partial: false,
        // From JSON: fields a newer `tracemesh run` records in `config`
        // (`expectations`, `fixes`) take their defaults, on either side of
        // their arrival.
        config: serde_json::from_value(json!({
            "scenario": scenario,
            "users": 8,
            "run_time_secs": 20.0,
            "sampler_ratio": 0.5,
            "target": "http://127.0.0.1:8080",
            "trace_source": "embedded",
            "seed": 7,
        }))
        .unwrap(),
        load: LoadSummary::default(),
        traces: TraceCounts::default(),
        verdicts,
        attribution: Vec::new(),
        critical_path: Vec::new(),
        waterfalls: Vec::new(),
        files: Vec::new(),
        operations: Vec::new(),
        baseline: None,
        exemplar_jump: None,
        shard: None,
        bottleneck: None,
    }
}

/// Writes `reports/<name>/`: every file `tracemesh run` writes, or only
/// verdict.json when `junit` is false; `config` adds fields a newer run
/// records (`fixes`, `expectations`).
fn write(dir: &Path, name: &str, report: &RunReport, config: Value, junit: bool) {
    let out = dir.join("reports").join(name);
    if junit {
        tracemesh_harness::report::write_all(report, &out).unwrap();
    } else {
        std::fs::create_dir_all(&out).unwrap();
    }
    let mut value = serde_json::to_value(report).unwrap();
    for (key, field) in config.as_object().unwrap() {
        value["config"][key] = field.clone();
    }
    std::fs::write(
        out.join("verdict.json"),
        serde_json::to_string_pretty(&value).unwrap(),
    )
    .unwrap();
}

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

// ---- the command line ------------------------------------------------------

#[tokio::test]
async fn a_bad_lang_exits_2_naming_the_flag() {
    for args in [
        vec!["lab", "--lang", "fr", "list"],
        vec!["lab", "check", "1", "--lang", "zh_CN"],
    ] {
        let output = tracemesh(&args, &[]).await;
        let (_, stderr) = output_text(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--lang"), "{stderr}");
    }
    let output = tracemesh(&["lab", "check", "11"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let output = tracemesh(
        &["lab", "check", "1", "--trace", "not-hex", "--dir", "."],
        &[],
    )
    .await;
    let (_, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("--trace"), "{stderr}");
}

#[tokio::test]
async fn the_locale_chooses_the_language_and_the_flag_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let args = ["lab", "check", "10", "--dir", d];
    for (lang, verdict, hint) in [
        ("zh_CN.UTF-8", "尚未完成", "  提示: "),
        ("zh_TW.UTF-8", "尚未完成", "  提示: "),
        ("en_US.UTF-8", "not yet", "  hint: "),
    ] {
        let output = tracemesh(
            &args,
            &[("LC_ALL", ""), ("LC_MESSAGES", ""), ("LANG", lang)],
        )
        .await;
        let (stdout, _) = output_text(&output);
        assert_eq!(output.status.code(), Some(1));
        assert!(
            stdout.lines().next().unwrap().ends_with(verdict),
            "{lang}: {stdout}"
        );
        assert!(stdout.contains(hint), "{lang}: {stdout}");
    }
    let mut flagged = args.to_vec();
    flagged.extend(["--lang", "en"]);
    let output = tracemesh(&flagged, &[("LANG", "zh_CN.UTF-8")]).await;
    assert!(output_text(&output).0.contains("not yet"));
}

#[tokio::test]
async fn a_corrupt_progress_file_is_named_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    std::fs::write(dir.path().join(".tracemesh-lab.json"), "{ not json").unwrap();
    let output = tracemesh(&["lab", "list", "--lang", "en", "--dir", d], &[]).await;
    let (stdout, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(".tracemesh-lab.json") && stderr.contains("delete the file"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains(" min ")).count(),
        10,
        "{stdout}"
    );
}
