//! No secret and no card number in anything a run produced: every span in
//! the collector, every log line of `up` and the services, every file of
//! the SQLite databases (WAL included), and every report `tracemesh run`
//! wrote. The mesh runs with an admin token, checkouts use the payment
//! provider's test cards (accepted and declined), and the run applies a
//! scenario's faults with the token, so both secrets really pass through.

mod common;

use std::path::Path;
use std::process::Command;

use common::{DECLINED_CARD, GOOD_CARD, Mesh, checkout_body};

const ADMIN_TOKEN: &str = "tm-admin-7c1e9a4f2b6d8053";
/// Every card number the load or this test sends (harness/src/load/catalog.rs).
const CARDS: [&str; 2] = [GOOD_CARD, DECLINED_CARD];

/// What must never be written down anywhere.
fn secrets() -> Vec<&'static str> {
    let mut all = vec![ADMIN_TOKEN];
    all.extend(CARDS);
    all
}

/// Every file under `dir`, as (path, lossy text).
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((
                    path.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    out
}

fn assert_clean(what: &str, text: &str) {
    for secret in secrets() {
        assert!(
            !text.contains(secret),
            "{what} contains the secret {secret:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_number_or_token_in_spans_logs_databases_or_reports() {
    let mut mesh = Mesh::start_with(&[("TRACEMESH_ADMIN_TOKEN", ADMIN_TOKEN)]).await;
    let http = reqwest::Client::new();
    for card in CARDS {
        let (status, _, _) = mesh
            .checkout(&http, checkout_body("u-1001", "KEY-001", 1, card))
            .await;
        assert!([201, 402].contains(&status), "{status}");
    }

    // A real run against this mesh: load, faults applied with the token,
    // traces read back through the collector's Tempo API, every report.
    let reports = tempfile::tempdir().unwrap();
    let mut run = Command::new(env!("CARGO_BIN_EXE_tracemesh"));
    run.args(["run", "--run-time", "5s", "--gateway", &mesh.gateway])
        .args(["--tempo", &mesh.collector.http_endpoint()])
        .arg("--report-dir")
        .arg(reports.path())
        .env("TRACEMESH_ADMIN_TOKEN", ADMIN_TOKEN);
    for endpoint in mesh.services.admin_endpoints() {
        let admin = format!("{}={}", endpoint.service, endpoint.base_url);
        run.args(["--admin", &admin]);
    }
    let out = run.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        reports.path().join("verdict.json").is_file(),
        "the run wrote no report: {stderr}"
    );
    mesh.stop().await;

    // Spans: every attribute, event and resource attribute.
    let spans = mesh.collector.store().all_spans();
    assert!(spans.len() > 100, "only {} spans to scan", spans.len());
    assert_clean("a span", &serde_json::to_string(&spans).unwrap());
    // The spans of the service that saw the card numbers were among them.
    assert!(spans.iter().any(|s| s.service_name == "payment"));

    // Logs of up and every service.
    let logs = mesh.log_text();
    assert!(
        logs.lines().count() > 20,
        "only {} log lines",
        logs.lines().count()
    );
    assert_clean("the logs", &logs);
    assert_clean(
        "run's output",
        &(String::from_utf8_lossy(&out.stdout) + stderr.clone()),
    );

    // Databases, byte for byte (an order row keeps `card_last4`).
    let databases = files_under(mesh.data_dir.path());
    // What may be kept, the last four digits, is there: the scan read rows.
    assert!(
        databases.iter().any(|(_, text)| text.contains("4242")),
        "no stored card_last4 found: {:?}",
        databases.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for (path, text) in &databases {
        assert_clean(path, text);
    }

    // Reports.
    let written = files_under(reports.path());
    assert!(written.len() >= 5, "{written:?}");
    for (path, text) in &written {
        assert_clean(path, text);
    }
    println!(
        "secret scan: {} spans, {} log lines, {} database files, {} report files: clean",
        spans.len(),
        logs.lines().count(),
        databases.len(),
        written.len()
    );
}
