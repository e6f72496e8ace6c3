//! `tracemesh lab check N` end to end on the labs that read traces: each
//! check fails with its hint on the untouched state and passes once the
//! lab's work is done. (The labs that read reports: tests/lab_report_checks.rs.)
//!
//! - Labs 1, 2, 3, 8, and 9 with this mesh standing in for the compose
//!   stack, run against ONE real mesh and collector (tests/common), doing
//!   what the learner does: a checkout, their own traceparent and baggage,
//!   `drop_context` planted through order's admin endpoint, a declined
//!   card, an empty shelf, inventory made unavailable, an exemplar followed
//!   to its trace.
//! - The command line: a bad `--lang` exits 2 naming the flag, the locale
//!   picks the language, a corrupt progress file is named, not a panic.

mod common;

use std::time::Duration;

use common::lab::{fails_with, passes, report, verdict, write};
use common::{DECLINED_CARD, GOOD_CARD, Mesh, Service, checkout_body, output_text, tracemesh};
use serde_json::json;
use tracemesh_harness::metrics::openmetrics;

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
    for (flag, bad) in [("--collector", "127.0.0.1:4318"), ("--gateway", "ftp://x")] {
        let output = tracemesh(&["lab", "check", "9", flag, bad, "--dir", "."], &[]).await;
        let (_, stderr) = output_text(&output);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(flag), "{stderr}");
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
