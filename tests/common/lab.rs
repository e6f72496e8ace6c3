//! What the `tracemesh lab check` tests share (tests/lab_checks.rs,
//! tests/lab_report_checks.rs): running a check and judging its output, and
//! run reports written with the harness's report model, as `tracemesh run`
//! writes them.

use std::path::Path;

use serde_json::{Value, json};
use tracemesh_harness::checks::Verdict;
use tracemesh_harness::report::model::{LoadSummary, RunReport, TraceCounts};

use super::{output_text, tracemesh};

/// `tracemesh lab check <number> --lang en --dir <dir> <extra>`: exit code
/// and stdout (stderr must be empty: never a stack trace).
pub async fn check(number: u8, dir: &Path, extra: &[&str]) -> (i32, String) {
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
pub async fn fails_with(number: u8, dir: &Path, extra: &[&str], hint: &str) {
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
pub async fn passes(number: u8, dir: &Path, extra: &[&str]) {
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

pub fn verdict(check: &str, passed: bool) -> Verdict {
    let mut v = Verdict::new(check);
    v.examine();
    if !passed {
        v.fail(format!("{check} failed"));
    }
    v.finish()
}

/// A run's report with the settings that matter here.
pub fn report(started_at: &str, scenario: &str, verdicts: Vec<Verdict>) -> RunReport {
    RunReport {
        tracemesh_version: "0.1.0".into(),
        started_at: started_at.into(),
        duration_secs: 20.0,
        partial: false,
        // From JSON, as a reader of an older report would see it: the
        // fields left out (`expectations`, `fixes`) take their defaults.
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
        repeated_calls: Vec::new(),
        baseline: None,
        exemplar_jump: None,
        shard: None,
        bottleneck: None,
    }
}

/// Writes `reports/<name>/`: every file `tracemesh run` writes, or only
/// verdict.json when `junit` is false; `config` adds fields a newer run
/// records (`fixes`, `expectations`).
pub fn write(dir: &Path, name: &str, report: &RunReport, config: Value, junit: bool) {
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
