//! No planted defect passes: each telemetry fault class of
//! `scenarios/broken/` is planted in a real mesh through the admin
//! endpoints by `tracemesh run` itself, and the run must exit 1 with the
//! right check naming the right service, hop, span or attribute. A clean run
//! passes, and passes again against its own report as a baseline.
//!
//! The baseline comparison both ways: a second clean run passes against
//! the first's report, and unmarked latency (30 ms in inventory's Reserve,
//! nothing on the span to say it was planted) fails it, naming the
//! operation.
//!
//! TraceQL assertions too: the shipped checkout tree's (`>>` into payment,
//! four SQL spans) fail on the dropped context and the lost DB span.
//!
//! The metric checks the same way: an exemplar naming the wrong trace or
//! an unsampled one fails `exemplars`, a missed count `metrics_agree`. The
//! first clean run and the unsampled-exemplar run read the metrics through
//! a real Prometheus this test's runs start (`--prometheus start`, Debian's
//! binary: `.ci/run` installs it); the others read the services' own
//! `/metrics`, so both ways are proven.
//!
//! One mesh serves every run (`tracemesh run --gateway .. --tempo ..`
//! against the collector in this test), since each run plants its faults
//! and takes them out again. Each run draws a fresh load seed, so no two
//! share a trace id in the one store. The defect runs are short (4 s of
//! load, 4 users); the baseline runs get 8 s and 8 users, enough samples
//! per operation (20) for the comparison to judge.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Mesh, Service};

/// One planted defect and what the run must say about it.
struct Case {
    /// File in `scenarios/broken/`.
    scenario: &'static str,
    /// Read the metrics through a Prometheus the run starts.
    prometheus: bool,
    /// The check that must fail.
    check: &'static str,
    /// Each must appear in one of that check's reasons.
    names: &'static [&'static str],
    /// Other checks that must fail too, each with a part of one reason.
    also: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        scenario: "dropped-context.yaml",
        prometheus: false,
        check: "orphans",
        names: &["the context was lost on the way into payment POST /v1/charges [server]"],
        also: &[(
            "traceql checkout-succeeds: { name = \"POST /api/checkout\" } >> { resource.service.name = \"payment\" && kind = server }",
            "does not match",
        )],
    },
    Case {
        scenario: "corrupt-context.yaml",
        prometheus: false,
        check: "orphans",
        names: &[
            "the context was lost on the way into",
            "inventory tracemesh.inventory.v1.InventoryService/Reserve [server] (",
        ],
        also: &[],
    },
    Case {
        scenario: "lost-db-span.yaml",
        prometheus: false,
        check: "completeness",
        names: &["inventory BATCH stock: 0 of the 1 span(s) its shape needs"],
        also: &[(
            "traceql checkout-succeeds: { span.db.system.name = \"sqlite\" }",
            "matches 3 span(s), not 4",
        )],
    },
    Case {
        scenario: "lost-attribute.yaml",
        prometheus: false,
        check: "full_tree checkout-succeeds",
        names: &["INSERT orders", "db.operation.name"],
        also: &[],
    },
    Case {
        scenario: "lost-error-status.yaml",
        prometheus: false,
        check: "error_status",
        names: &[
            "user tracemesh.user.v1.UserService/ValidateUser [server] answered UNAVAILABLE but its status is Unset",
            "did not end in error",
        ],
        also: &[],
    },
    Case {
        scenario: "ignored-sampling.yaml",
        prometheus: false,
        check: "sampling.parent",
        names: &["was sent with sampled=0, yet", "from inventory"],
        also: &[],
    },
    Case {
        scenario: "exemplar-wrong-trace.yaml",
        prometheus: false,
        check: "exemplars",
        names: &["gateway ", "exemplar names span", "which trace"],
        also: &[],
    },
    Case {
        scenario: "exemplar-unsampled.yaml",
        prometheus: true,
        check: "exemplars",
        names: &["which the run sent unsampled: the link can never resolve"],
        also: &[],
    },
    Case {
        scenario: "missed-count.yaml",
        prometheus: false,
        check: "metrics_agree",
        names: &["the gateway's http.server.request.duration counted"],
        also: &[],
    },
];

fn scenario(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(path)
}

/// Load for a defect run, and for a run whose latency is compared.
const SHORT: &[&str] = &["--run-time", "4s", "--users", "4"];
const COMPARED: &[&str] = &["--run-time", "8s", "--users", "8"];

/// `--prometheus start` when Debian's binary is installed (CI installs it
/// and sets TRACEMESH_REQUIRE_PROMETHEUS, so there it must be); without
/// it the run reads the services' `/metrics`, and says so.
fn through_prometheus() -> &'static [&'static str] {
    if tracemesh_mesh::prometheus::binary_on_path().is_some() {
        return &["--prometheus", "start"];
    }
    assert!(
        std::env::var_os("TRACEMESH_REQUIRE_PROMETHEUS").is_none(),
        "TRACEMESH_REQUIRE_PROMETHEUS is set but no `prometheus` is on PATH"
    );
    eprintln!(
        "no `prometheus` binary on PATH (apt-get install prometheus): the runs that would \
         read the metrics through Prometheus read the services' /metrics instead"
    );
    &[]
}

/// `tracemesh run` against the test's mesh, reports in `reports`.
async fn run(mesh: &Mesh, scenario: &Path, reports: &Path, extra: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracemesh"));
    command
        .arg("run")
        .args(["--gateway", &mesh.gateway])
        .args(["--tempo", &mesh.collector.http_endpoint()])
        // The test's mesh samples everything (parentbased_always_on).
        .args(["--sampler-ratio", "1"])
        .arg("--scenario")
        .arg(scenario)
        .arg("--report-dir")
        .arg(reports)
        .args(extra);
    for service in Service::ALL {
        command.arg("--admin").arg(format!(
            "{service}={}",
            mesh.services.admin(service).base_url
        ));
    }
    command.output().await.expect("tracemesh runs")
}

fn verdicts(reports: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(reports.join("verdict.json")).expect("verdict.json");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    report["verdicts"].as_array().cloned().unwrap_or_default()
}

fn failed(verdicts: &[serde_json::Value]) -> Vec<String> {
    verdicts
        .iter()
        .filter(|v| v["passed"] == false)
        .map(|v| format!("{}: {}", v["check"], v["reasons"]))
        .collect()
}

fn output_text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_telemetry_defect_fails_its_check_and_a_clean_run_passes() {
    let _alone = common::one_load_at_a_time().await;
    let mesh = Mesh::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut problems: Vec<String> = Vec::new();

    // A clean run passes: every new check holds on the mesh as designed.
    let clean = dir.path().join("clean");
    let out = run(
        &mesh,
        &scenario("baseline.yaml"),
        &clean,
        &[COMPARED, through_prometheus()].concat(),
    )
    .await;
    assert!(
        out.status.success(),
        "the clean run failed: {:#?}\n{}",
        failed(&verdicts(&clean)),
        output_text(&out)
    );
    for check in ["exemplars", "metrics_agree"] {
        let all = verdicts(&clean);
        let verdict = all.iter().find(|v| v["check"] == check);
        eprintln!("clean run, {check}: {:?}", verdict.map(|v| &v["figures"]));
        assert!(verdict.is_some(), "the clean run has no {check} verdict");
    }

    for case in CASES {
        let reports = dir.path().join(case.scenario.trim_end_matches(".yaml"));
        let extra = if case.prometheus {
            [SHORT, through_prometheus()].concat()
        } else {
            SHORT.to_vec()
        };
        let out = run(
            &mesh,
            &scenario(&format!("broken/{}", case.scenario)),
            &reports,
            &extra,
        )
        .await;
        let all = verdicts(&reports);
        eprintln!(
            "{}: exit {:?}, failed {:#?}",
            case.scenario,
            out.status.code(),
            failed(&all)
        );
        if out.status.code() != Some(1) {
            problems.push(format!(
                "{}: exit {:?}, not 1\n{}",
                case.scenario,
                out.status.code(),
                output_text(&out)
            ));
            continue;
        }
        let Some(verdict) = all.iter().find(|v| v["check"] == case.check) else {
            problems.push(format!("{}: no verdict {}", case.scenario, case.check));
            continue;
        };
        let reasons: Vec<String> = verdict["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect();
        for (check, part) in case.also {
            let verdict = all.iter().find(|v| v["check"] == *check);
            let says = verdict
                .map(|v| v["reasons"].to_string())
                .unwrap_or_default();
            if verdict.is_none_or(|v| v["passed"] != false) || !says.contains(part) {
                problems.push(format!(
                    "{}: {check} should fail saying {part:?}; it says {says}",
                    case.scenario
                ));
            }
        }
        for name in case.names {
            if verdict["passed"] != false || !reasons.iter().any(|r| r.contains(name)) {
                problems.push(format!(
                    "{}: {} should fail naming {name:?}; it says {reasons:#?}",
                    case.scenario, case.check
                ));
            }
        }
    }

    // The mesh is left as it was found, and the same build twice passes
    // the baseline comparison.
    let clean_dir = clean.to_str().unwrap();
    let again = dir.path().join("again");
    let args = [COMPARED, &["--baseline", clean_dir]].concat();
    let out = run(&mesh, &scenario("baseline.yaml"), &again, &args).await;
    let all = verdicts(&again);
    if !out.status.success() {
        problems.push(format!(
            "a clean run after the planted ones, against the first clean run as its baseline,              failed: {:#?}",
            failed(&all)
        ));
    }
    match all.iter().find(|v| v["check"] == "baseline") {
        Some(v) => eprintln!("baseline, same build twice: {}", v["figures"]),
        None => problems.push("the run with --baseline has no baseline verdict".into()),
    }

    // Unmarked latency: every check but the baseline comparison passes.
    let slow = dir.path().join("unmarked-latency");
    let out = run(
        &mesh,
        &scenario("broken/unmarked-latency.yaml"),
        &slow,
        &args,
    )
    .await;
    let all = verdicts(&slow);
    let failed_checks = failed(&all);
    eprintln!(
        "unmarked-latency.yaml with --baseline: exit {:?}, failed {failed_checks:#?}",
        out.status.code()
    );
    let reserve =
        "inventory tracemesh.inventory.v1.InventoryService/Reserve: critical-path self time";
    if out.status.code() != Some(1)
        || failed_checks.len() != 1
        || !failed_checks[0].starts_with("\"baseline\"")
        || !failed_checks[0].contains(reserve)
    {
        problems.push(format!(
            "unmarked latency should fail the baseline comparison alone, naming {reserve:?}: \
             exit {:?}, failed {failed_checks:#?}",
            out.status.code()
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
