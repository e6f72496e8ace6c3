//! `tracemesh run` against a mesh it did not start, reading traces through
//! Tempo's HTTP API: the way it checks a `docker compose` deployment. Here
//! the mesh is `tracemesh up` and the Tempo API is the harness collector's.

mod common;

use common::Mesh;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_checks_an_external_mesh_through_the_tempo_api() {
    let mesh = Mesh::start().await;
    let reports = tempfile::tempdir().unwrap();
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/baseline.yaml");
    let tempo = mesh.collector.http_endpoint();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracemesh"))
        .args(["run", "--run-time", "5s", "--users", "4"])
        .args(["--gateway", &mesh.gateway, "--tempo", &tempo])
        // `up` samples everything (parentbased_always_on).
        .args(["--sampler-ratio", "1"])
        .arg("--scenario")
        .arg(&scenario)
        .arg("--report-dir")
        .arg(reports.path())
        .output()
        .await
        .unwrap();
    let verdict: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.path().join("verdict.json")).unwrap(),
    )
    .unwrap();
    let failed: Vec<String> = verdict["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["passed"] == false)
        .map(|v| format!("{}: {}", v["check"], v["reasons"]))
        .collect();
    assert!(
        out.status.success(),
        "failed checks: {failed:#?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        verdict["config"]["trace_source"]
            .as_str()
            .map(|s| s.contains("tempo")),
        Some(true)
    );
    assert!(
        verdict["traces"]["complete"].as_u64().unwrap() > 10,
        "{}",
        verdict["traces"]
    );
    // A mesh the run did not start: its services' CPU is unknown, the load
    // generator's is still measured.
    let bottleneck = &verdict["bottleneck"];
    assert!(bottleneck["services"].is_null(), "{bottleneck}");
    let generator = bottleneck["generator"]["cpu_percent"].as_f64().unwrap();
    assert!(
        generator > 0.0 && generator <= bottleneck["cores"].as_f64().unwrap() * 100.0,
        "{bottleneck}"
    );
    assert!(
        ["load_generator", "not_the_load_generator"]
            .contains(&bottleneck["verdict"].as_str().unwrap()),
        "{bottleneck}"
    );
}
