//! `tracemesh run`, the main job, as a user runs it: the real binary, the
//! real mesh, goose load, every check, the reports, and the exit code.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

/// One load run at a time: each starts five services, a collector and goose,
/// and on two cores two of them at once would measure each other (the
/// attribution and bottleneck checks read latencies).
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    // A failed test poisons the lock; the next one may still run.
    ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn tracemesh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracemesh"))
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("tracemesh runs")
}

fn verdict(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("verdict.json")).expect("verdict.json written");
    serde_json::from_str(&text).expect("verdict.json is JSON")
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
        .display()
        .to_string()
}

/// A learner's expected tree: the shipped checkout tree under another file
/// name, so its verdict is `full_tree my-checkout` and it replaces
/// `checkout-succeeds.yaml` (same endpoint and status) for the run.
fn my_checkout(dir: &Path) -> String {
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/expectations/checkout-succeeds.yaml");
    let mine = dir.join("my-checkout.yaml");
    std::fs::copy(shipped, &mine).unwrap();
    mine.display().to_string()
}

/// The verdict named `check`, if the run has one.
fn check<'a>(verdict: &'a serde_json::Value, check: &str) -> Option<&'a serde_json::Value> {
    verdict["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["check"] == check)
}

fn failed_checks(verdict: &serde_json::Value) -> Vec<String> {
    verdict["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["passed"] == false)
        .map(|v| format!("{}: {}", v["check"], v["reasons"]))
        .collect()
}

#[test]
fn the_default_run_passes_every_check_and_writes_every_report() {
    let _alone = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let mine = my_checkout(dir.path());
    let out = tracemesh(&[
        "run",
        "--run-time",
        "12s",
        "--expect",
        &mine,
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let verdict = verdict(&reports);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}\nfailed: {:#?}",
        out.status.code(),
        failed_checks(&verdict)
    );
    assert_eq!(verdict["passed"], true);
    for file in [
        "verdict.json",
        "junit.xml",
        "report.html",
        "summary.txt",
        "goose.html",
        "goose.json",
    ] {
        assert!(reports.join(file).is_file(), "{file} missing");
    }
    // The default scenario injects latency, so attribution is among the checks.
    let checks: Vec<&str> = verdict["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["check"].as_str().unwrap())
        .collect();
    for expected in [
        "sampling.root.ratio",
        "sampling.root.decisions",
        "sampling.root.stored",
        "sampling.parent",
        "faults_explained",
        "completeness",
        "error_status",
        "orphans",
        "attribution",
    ] {
        assert!(checks.contains(&expected), "{expected} not in {checks:?}");
    }
    assert!(checks.iter().any(|c| c.starts_with("full_tree")));
    // The learner's tree replaced the shipped one of the same request.
    assert!(checks.contains(&"full_tree my-checkout"), "{checks:?}");
    assert!(
        !checks.contains(&"full_tree checkout-succeeds"),
        "{checks:?}"
    );
    assert_eq!(verdict["config"]["expectations"], serde_json::json!([mine]));
    assert!(verdict["load"]["requests"].as_u64().unwrap() > 50);
    assert!(stdout.contains("PASS"), "{stdout}");
    // The services' own counts: everything they ended was exported.
    let export = &verdict["traces"]["sdk_export"];
    assert!(export["spans_ended"].as_u64().unwrap() > 0, "{export}");
    assert_eq!(export["spans_dropped"], 0, "{export}");
    assert_eq!(export["spans_failed"], 0, "{export}");
    assert_eq!(export["spans_ended"], export["spans_exported"], "{export}");
    assert!(stdout.contains("dropped (queue full)"), "{stdout}");
    // What set the rate: this process's and each service's CPU over the
    // load window, within what the machine's cores allow.
    let bottleneck = &verdict["bottleneck"];
    let capacity = bottleneck["cores"].as_f64().unwrap() * 100.0;
    let sane = |process: &serde_json::Value| {
        let share = process["cpu_percent"].as_f64().unwrap();
        share > 0.0 && share <= capacity && process["pid"].as_u64().unwrap() > 0
    };
    assert!(sane(&bottleneck["generator"]), "{bottleneck}");
    let services = bottleneck["services"]
        .as_array()
        .expect("a local mesh's services");
    let mut names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["gateway", "inventory", "order", "payment", "user"]);
    assert!(services.iter().all(sane), "{bottleneck}");
    assert!(
        ["load_generator", "mesh", "other_processes", "neither"]
            .contains(&bottleneck["verdict"].as_str().unwrap()),
        "{bottleneck}"
    );
    assert!(bottleneck["reason"].as_str().unwrap().contains('%'));
    assert!(stdout.contains("Bottleneck "), "{stdout}");
}

#[test]
fn injected_payment_errors_are_explained_by_the_traces() {
    let _alone = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let out = tracemesh(&[
        "run",
        "--run-time",
        "8s",
        "--scenario",
        &scenario("flaky-payment.yaml"),
        "--report-dir",
        dir.path().to_str().unwrap(),
    ]);
    let verdict = verdict(dir.path());
    assert!(
        out.status.success(),
        "failed: {:#?}",
        failed_checks(&verdict)
    );
    // Some checkouts did fail, and every sampled one was explained.
    assert!(
        verdict["load"]["failures"].as_u64().unwrap() > 0,
        "{}",
        verdict["load"]
    );
    let explained = verdict["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["check"] == "faults_explained")
        .unwrap();
    assert!(explained["figures"]["unexpected_sampled"].as_u64().unwrap() > 0);
    // A failing trace's waterfall shows its log lines from the services'
    // log file of the run (at least the gateway's access line of a failed
    // request), each from a service of the trace, in time order.
    let failing = verdict["waterfalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["title"].as_str().unwrap().contains("failing"))
        .expect("a failing trace is drawn");
    let logs = failing["logs"].as_array().unwrap();
    assert!(!logs.is_empty(), "{failing:#}");
    let services: Vec<&serde_json::Value> = failing["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["service"])
        .collect();
    assert!(
        logs.iter().all(|l| services.contains(&&l["service"])),
        "{failing:#}"
    );
    let offsets: Vec<f64> = logs
        .iter()
        .map(|l| l["offset_ms"].as_f64().unwrap())
        .collect();
    assert!(offsets.is_sorted(), "{offsets:?}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains(r#"<table class="logs">"#));
}

#[test]
fn a_learner_tree_fails_on_a_planted_defect() {
    let _alone = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let mine = my_checkout(dir.path());
    let out = tracemesh(&[
        "run",
        "-t",
        "3s",
        "--scenario",
        &scenario("broken/lost-attribute.yaml"),
        "--expect",
        &mine,
        "--report-dir",
        dir.path().join("reports").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let verdict = verdict(&dir.path().join("reports"));
    let tree = check(&verdict, "full_tree my-checkout").expect("the learner's verdict");
    assert_eq!(tree["passed"], false, "{tree:#}");
    let reasons = tree["reasons"].to_string();
    assert!(
        reasons.contains("INSERT orders") && reasons.contains("db.operation.name"),
        "{reasons}"
    );
}

#[test]
fn usage_mistakes_exit_2_and_name_the_problem() {
    let out = tracemesh(&["run", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));

    let out = tracemesh(&["run", "--scenario", "/nonexistent/scenario.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/scenario.yaml"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: bad\nfaults: {warehouse: {}}\n").unwrap();
    let out = tracemesh(&["run", "--scenario", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("warehouse"),
        "{stderr}"
    );

    // A learner's expected tree: missing, or wrong at a place (before any
    // mesh starts: nothing listens, yet the answer is about the file).
    let out = tracemesh(&["run", "--expect", "/nonexistent/mine.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--expect /nonexistent/mine.yaml"),
        "{stderr}"
    );
    let mine = my_checkout(dir.path());
    let text = std::fs::read_to_string(&mine).unwrap();
    std::fs::write(&mine, text.replace("kind: server", "kind: sever")).unwrap();
    let out = tracemesh(&["run", "--expect", &mine]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("my-checkout.yaml: root.kind") && stderr.contains("sever"),
        "{stderr}"
    );

    let out = tracemesh(&["run", "--run-time", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--run-time"));

    // An unreachable target: nothing listens on port 9 of loopback.
    let out = tracemesh(&[
        "run",
        "--gateway",
        "http://127.0.0.1:9",
        "--tempo",
        "http://127.0.0.1:9",
        "--scenario",
        &scenario("baseline.yaml"),
        "--report-dir",
        dir.path().join("r").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("http://127.0.0.1:9"));

    // A scenario with faults needs the target's admin endpoints.
    let out = tracemesh(&[
        "run",
        "--gateway",
        "http://127.0.0.1:9",
        "--tempo",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--admin inventory="));
}

#[test]
fn ctrl_c_stops_the_load_and_still_writes_a_partial_report() {
    let _alone = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tracemesh"))
        .args([
            "run",
            "--run-time",
            "60s",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until goose has started (its report folder exists), then ctrl-c.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !dir.path().join("services.log").exists()
        || std::fs::read_to_string(dir.path().join("services.log"))
            .map_or(true, |s| !s.contains("service listening"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(4));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict = verdict(dir.path());
    assert_eq!(verdict["partial"], true);
    assert_eq!(verdict["passed"], false);
    assert!(String::from_utf8_lossy(&out.stdout).contains("PARTIAL"));
}

#[test]
fn the_planted_bottleneck_is_found_and_its_fix_is_seen() {
    let _alone = exclusive();
    let with_lock = tempfile::tempdir().unwrap();
    let args = |dir: &Path, fix: bool| {
        let mut args = vec![
            "run".to_owned(),
            "--run-time".into(),
            "8s".into(),
            "--scenario".into(),
            scenario("planted-bottleneck.yaml"),
            "--report-dir".into(),
            dir.display().to_string(),
        ];
        if fix {
            // Without the lock, 24 users on two cores saturate the CPU and
            // the queue in front of each process becomes the cost; 4 users
            // leave the 15 ms warehouse check itself as the costliest step.
            // The other two fixes too: with the lock gone the charges of 4
            // users would meet at order's pool of one to payment.
            args.extend(
                [
                    "--fix-inventory-lock",
                    "--fix-catalog-queries",
                    "--fix-payment-pool",
                    "--users",
                    "4",
                ]
                .map(String::from),
            );
        }
        args
    };
    let run = |args: Vec<String>| tracemesh(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(args(with_lock.path(), false));
    let verdict_with_lock = verdict(with_lock.path());
    assert!(
        out.status.success(),
        "failed: {:#?}",
        failed_checks(&verdict_with_lock)
    );

    // The N+1 of the catalog: named by its count in the default run, with
    // its line in the summary, and gone with --fix-catalog-queries
    // (below).
    let stock_queries = |verdict: &serde_json::Value| -> Option<serde_json::Value> {
        verdict["repeated_calls"]
            .as_array()
            .expect("repeated_calls in verdict.json")
            .iter()
            .find(|c| c["service"] == "inventory" && c["name"] == "SELECT stock")
            .cloned()
    };
    let n_plus_one = stock_queries(&verdict_with_lock).unwrap_or_else(|| {
        panic!(
            "no repeated SELECT stock: {:#}",
            verdict_with_lock["repeated_calls"]
        )
    });
    assert_eq!(n_plus_one["count_p50"], 8, "{n_plus_one:#}");
    assert_eq!(
        n_plus_one["parent"], "tracemesh.inventory.v1.InventoryService/ListProducts",
        "{n_plus_one:#}"
    );
    let summary = std::fs::read_to_string(with_lock.path().join("summary.txt")).unwrap();
    assert!(
        summary.contains("Repeated  inventory SELECT stock ×8 under "),
        "{summary}"
    );

    // With the lock removed the expectation must fail: the wait is gone.
    let fixed = tempfile::tempdir().unwrap();
    let out = run(args(fixed.path(), true));
    assert_eq!(out.status.code(), Some(1));
    let verdict_fixed = verdict(fixed.path());
    // The catalog's one join: no N+1 left to name.
    assert_eq!(
        stock_queries(&verdict_fixed),
        None,
        "{:#}",
        verdict_fixed["repeated_calls"]
    );
    assert_eq!(verdict_with_lock["config"]["fixes"], serde_json::json!([]));
    assert_eq!(
        verdict_fixed["config"]["fixes"],
        serde_json::json!(["inventory-lock", "catalog-queries", "payment-pool"])
    );
    let failed = failed_checks(&verdict_fixed);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(failed[0].contains("dominant_operation"), "{failed:#?}");
    assert!(failed[0].contains("warehouse.check"), "{failed:#?}");
}
